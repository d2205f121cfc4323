using System.Diagnostics;
using System.Reflection;
using System.Text.RegularExpressions;
using NatMap.Iptables.CrashChild;
using NatMap.Iptables.IntegrationTests.Infrastructure;

namespace NatMap.Iptables.IntegrationTests;

/// <summary>
/// Crash safety on the real kernel: a child process syncing 5000 mappings from one set to another is killed with
/// SIGKILL at a random moment, 20 times. After each kill every table holds exactly the old set or exactly the new
/// set (a table is never a mix), and the next SyncAsync converges.
/// </summary>
public sealed partial class CrashTests
{
    private const int Count = 5000, Kills = 20;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static string Child()
    {
        var project = typeof(CrashTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "ProjectDirectory").Value!;
        var bin = Path.GetFullPath(Path.Combine(project, "..", "NatMap.Iptables.CrashChild", "bin"));
        return Directory.EnumerateFiles(bin, "NatMap.Iptables.CrashChild", SearchOption.AllDirectories)
            .OrderByDescending(File.GetLastWriteTimeUtc)
            .FirstOrDefault() ?? throw new InvalidOperationException($"The crash child is not built under {bin}.");
    }

    private static Process StartChild(string ns, int generation) =>
        Process.Start(new ProcessStartInfo(Child(), [ns, "nft", generation.ToString(System.Globalization.CultureInfo.InvariantCulture), Count.ToString(System.Globalization.CultureInfo.InvariantCulture)])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;

    /// <summary>The Docker mapping comments each table holds.</summary>
    private static async Task<Dictionary<string, HashSet<string>>> TablesAsync(TestNamespace ns)
    {
        var tables = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal) { ["nat"] = [], ["filter"] = [] };
        var current = string.Empty;
        foreach (var line in (await ns.ExecAsync("iptables-nft-save")).Split('\n'))
        {
            if (line.StartsWith('*'))
            {
                current = line[1..];
            }
            else if (tables.TryGetValue(current, out var comments) && DockerComment().Match(line) is { Success: true } match)
            {
                _ = comments.Add(match.Value);
            }
        }

        return tables;
    }

    /// <summary>Waits until no iptables-nft-restore is left running: a restore orphaned by the kill finishes on its own.</summary>
    private static async Task WaitForOrphansAsync()
    {
        for (var attempt = 0; attempt < 100; attempt++)
        {
            var result = await new CliWrapCommandRunner().RunAsync(new CommandSpec("pgrep", ["-f", "iptables-nft-restore"]), Ct);
            if (result.ExitCode == 1)
            {
                return;
            }

            await Task.Delay(100, Ct);
        }

        Assert.Fail("An iptables-nft-restore is still running 10 s after the kill.");
    }

    [Fact]
    public async Task SyncKilledAtRandomMoments_EveryTableOldOrNew_NextSyncConverges()
    {
        await using var ns = await TestNamespace.CreateAsync("nft");
        var manager = ns.Manager(o => o.EnableIpv6 = false);
        var sets = new[] { 0, 1 }.Select(g => CrashSets.Maps(g, Count).Select(manager.RuleBuilder.DockerMapComment).ToHashSet(StringComparer.Ordinal)).ToArray();

        // A full run, to know how long one takes, and the starting set.
        var watch = Stopwatch.StartNew();
        using (var first = StartChild(ns.Name, 0))
        {
            await first.WaitForExitAsync(Ct);
            first.ExitCode.Should().Be(0, await first.StandardError.ReadToEndAsync(Ct));
        }

        var fullRun = watch.Elapsed;
        var current = 0;
        var outcomes = new List<string>();
        for (var kill = 0; kill < Kills; kill++)
        {
            var target = 1 - current;
            using var child = StartChild(ns.Name, target);
            // Anywhere from the reads to just after the end, so kills land before, inside and after the restore.
            await Task.Delay(TimeSpan.FromMilliseconds((0.3 + Random.Shared.NextDouble()) * fullRun.TotalMilliseconds), Ct);
            child.Kill(); // SIGKILL
            await child.WaitForExitAsync(Ct);
            await WaitForOrphansAsync();

            var tables = await TablesAsync(ns);
            foreach (var (table, comments) in tables)
            {
                var old = comments.SetEquals(sets[current]);
                var @new = comments.SetEquals(sets[target]);
                (old || @new).Should().BeTrue($"kill {kill + 1}: the {table} table must hold the old or the new set, not {comments.Count(sets[current].Contains)} old and {comments.Count(sets[target].Contains)} new mappings");
                outcomes.Add($"{table}:{(old ? "old" : "new")}");
            }

            await manager.SyncAsync(new NatMapState { DockerMaps = CrashSets.Maps(target, Count) }, Ct);
            var converged = await TablesAsync(ns);
            converged.Values.Should().AllSatisfy(c => c.SetEquals(sets[target]).Should().BeTrue($"kill {kill + 1}: SyncAsync converges"));
            current = target;
        }

        var summary = string.Join(", ", outcomes.GroupBy(o => o).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => $"{g.Key} {g.Count()}"));
        Console.WriteLine($"crash: {Kills} SIGKILLs of a {Count}-mapping sync (a full run takes {fullRun.TotalMilliseconds:0} ms): {summary}; every table old or new, every next sync converged");
    }

    [GeneratedRegex(@"natmap:docker:[^"" ]+")]
    private static partial Regex DockerComment();
}
