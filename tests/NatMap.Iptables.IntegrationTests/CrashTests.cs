using System.Diagnostics;
using System.Reflection;
using System.Text.RegularExpressions;
using NatMap.Iptables.CrashChild;
using NatMap.Iptables.IntegrationTests.Infrastructure;

namespace NatMap.Iptables.IntegrationTests;

/// <summary>
/// Crash safety on the real kernel: a child process syncing 5000 mappings from one set to another is killed with
/// SIGKILL at a random moment, 20 times, half of them aimed at the window in which a timed switching run had its
/// iptables-nft-restore running. Each kill must be a death by the signal; after each, every table holds exactly the
/// old set or exactly the new set (a table is never a mix), and the next SyncAsync converges. The process table says
/// whether a restore ran at the kill: at least a quarter of the kills must land so, and each table must come out
/// "new" at least once, or the kills never reached a commit.
/// </summary>
// Aims its kills at moments timed on a quiet machine (a run's length, when its restore runs): run alone.
[Collection(nameof(RunAlone))]
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

    /// <summary>
    /// The iptables-nft-restore processes the child runs (its children, or their children: <c>ip netns exec</c> execs
    /// into the program), read from the process table.
    /// </summary>
    private static List<int> RestoresOf(int parent)
    {
        var restores = new List<int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid))
            {
                continue;
            }

            try
            {
                var cmdline = File.ReadAllText(Path.Combine(dir, "cmdline"));
                if (!cmdline.Split('\0').Any(a => a.EndsWith("iptables-nft-restore", StringComparison.Ordinal)))
                {
                    continue;
                }

                for (int current = pid, depth = 0; current > 1 && depth < 4; depth++)
                {
                    current = ParentOf(current);
                    if (current == parent)
                    {
                        restores.Add(pid);
                        break;
                    }
                }
            }
            catch (IOException)
            {
                // The process ended while it was read.
            }
            catch (UnauthorizedAccessException)
            {
            }
        }

        return restores;
    }

    /// <summary>The parent id from /proc/PID/stat: "pid (comm) state ppid ...", where comm may hold spaces.</summary>
    private static int ParentOf(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        return int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>Waits until no process is left in the namespace: a restore orphaned by the kill finishes on its own.</summary>
    private static async Task WaitForOrphansAsync(TestNamespace ns)
    {
        for (var attempt = 0; attempt < 100; attempt++)
        {
            var result = await new CliWrapCommandRunner().RunAsync(new CommandSpec("ip", ["netns", "pids", ns.Name]), Ct);
            if (result.ExitCode == 0 && result.StandardOutput.Trim().Length == 0)
            {
                return;
            }

            await Task.Delay(100, Ct);
        }

        Assert.Fail("A process (an orphaned iptables-nft-restore) is still running in the namespace 10 s after the kill.");
    }

    /// <summary>
    /// Runs the child to <paramref name="generation"/> to the end, watching the process table: how long the run took,
    /// and when its restore was first and last seen running.
    /// </summary>
    private static async Task<(TimeSpan Run, TimeSpan RestoreFrom, TimeSpan RestoreTo)> TimedRunAsync(TestNamespace ns, int generation)
    {
        using var child = StartChild(ns.Name, generation);
        var watch = Stopwatch.StartNew();
        TimeSpan? from = null, to = null;
        while (!child.HasExited)
        {
            if (RestoresOf(child.Id).Count > 0)
            {
                from ??= watch.Elapsed;
                to = watch.Elapsed;
            }

            await Task.Delay(2, Ct);
        }

        await child.WaitForExitAsync(Ct);
        var run = watch.Elapsed;
        child.ExitCode.Should().Be(0, await child.StandardError.ReadToEndAsync(Ct));
        from.Should().NotBeNull("the child runs iptables-nft-restore");
        return (run, from!.Value, to!.Value);
    }

    [Fact]
    public async Task SyncKilledAtRandomMoments_EveryTableOldOrNew_NextSyncConverges()
    {
        await using var ns = await TestNamespace.CreateAsync("nft");
        var manager = ns.Manager(o => o.EnableIpv6 = false);
        var sets = new[] { 0, 1 }.Select(g => CrashSets.Maps(g, Count).Select(manager.RuleBuilder.DockerMapComment).ToHashSet(StringComparer.Ordinal)).ToArray();

        // The starting set, then a timed switching run (it deletes one set and adds the other, as each killed run
        // does), which says how long a run takes and when its restore runs.
        _ = await TimedRunAsync(ns, 0);
        var (fullRun, restoreFrom, restoreTo) = await TimedRunAsync(ns, 1);
        var current = 1;
        var outcomes = new List<string>();
        var (midRestore, attempts) = (0, 0);
        for (var kill = 0; kill < Kills; kill++)
        {
            (++attempts).Should().BeLessThanOrEqualTo(Kills * 2, "most kills land before the child finishes");
            var target = 1 - current;
            using var child = StartChild(ns.Name, target);

            // Every other kill aims at the restore: it waits until the process table shows the child's restore, then
            // a random part of the time the timed run's restore took (the start moves with the machine's load). The
            // others land anywhere from the reads to near the end.
            if (kill % 2 == 0)
            {
                while (!child.HasExited && RestoresOf(child.Id).Count == 0)
                {
                    await Task.Delay(2, Ct);
                }

                await Task.Delay((restoreTo - restoreFrom) * (0.9 * Random.Shared.NextDouble()), Ct);
            }
            else
            {
                await Task.Delay(fullRun * (0.1 + (0.8 * Random.Shared.NextDouble())), Ct);
            }

            var restoring = RestoresOf(child.Id).Count > 0;
            child.Kill(); // SIGKILL
            await child.WaitForExitAsync(Ct);
            if (child.ExitCode == 0)
            {
                // It finished before the kill: no crash to check. Try again.
                kill--;
                current = target;
                continue;
            }

            child.ExitCode.Should().Be(128 + 9, $"kill {kill + 1}: the child died by SIGKILL");
            midRestore += restoring ? 1 : 0;
            await WaitForOrphansAsync(ns);

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
        Console.WriteLine($"crash: {Kills} SIGKILLs of a {Count}-mapping switching sync (a full run takes {fullRun.TotalMilliseconds:0} ms, its restore {(restoreTo - restoreFrom).TotalMilliseconds:0} ms; {attempts - Kills} runs finished before their kill and were not counted), {midRestore} while iptables-nft-restore ran: {summary}; every table old or new, every next sync converged");
        midRestore.Should().BeGreaterThanOrEqualTo(Kills / 4, "kills must land while the restore runs, or the test shows nothing about a restore cut short");
        outcomes.Should().Contain("nat:new").And.Contain("filter:new", "a kill after a table committed must leave it new, or the kills never reached the commit");
    }

    [GeneratedRegex(@"natmap:docker:[^"" ]+")]
    private static partial Regex DockerComment();
}
