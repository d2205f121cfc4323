using System.Diagnostics;
using System.Net;
using System.Reflection;
using NatMap.Iptables.IntegrationTests.Infrastructure;

namespace NatMap.Iptables.IntegrationTests;

/// <summary>
/// Load on the real kernel (legacy backend, which takes the xtables lock): 8 tasks install 150 mappings each through
/// one manager, while the natmap tool in another process installs its own mappings and a third process appends and
/// deletes foreign rules in the same tables in a loop.
/// </summary>
// Floods the xtables lock and the CPU with three writers on purpose, and times them: run alone.
[Collection(nameof(RunAlone))]
public sealed class ConcurrencyTests
{
    private const int Tasks = 8, PerTask = 150, ByTool = 20;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static DockerPortMap Map(int task, int i) =>
        new($"t{task}m{i}", new IPEndPoint(IPAddress.Any, 10_000 + (task * PerTask) + i), new IPEndPoint(new IPAddress([172, 17, (byte)task, (byte)(i + 2)]), 80));
    private static Process Start(string ns, string script) =>
        Process.Start(new ProcessStartInfo("ip", ["netns", "exec", ns, "sh", "-c", script]) { RedirectStandardError = true, RedirectStandardOutput = true })!;

    [Fact]
    public async Task EightTasksAndASecondProcess_UnderForeignChurn_EveryMappingExactlyOnce_NoLockError()
    {
        await using var ns = await TestNamespace.CreateAsync("legacy");
        await ForeignRules.AddAsync(args => ns.ExecAsync(args[0], args[1..]), "legacy");
        var foreign = (await ns.SaveAsync()).Split('\n').Where(l => l.StartsWith("-A", StringComparison.Ordinal)).ToList();
        var manager = ns.Manager(o =>
        {
            o.EnableIpv6 = false;
            o.XtablesLockWait = TimeSpan.FromSeconds(20);
            o.CommandTimeout = TimeSpan.FromSeconds(90); // more than three lock waits: a restore waits once per table
        });
        await manager.SetupAsync(Ct);

        // Another tool appends and deletes its own rules in the same tables, as fast as the lock lets it, and prints
        // the number of each round it completed (a failing command ends the loop and shows in its stderr).
        using var churn = Start(ns.Name,
            "i=0; while :; do " +
            "iptables-legacy -w 30 -t nat -A POSTROUTING -s 198.51.100.$((i % 250 + 1)) -j RETURN && " +
            "iptables-legacy -w 30 -t filter -I FORWARD -s 198.51.100.1 -j ACCEPT && " +
            "iptables-legacy -w 30 -t nat -D POSTROUTING -s 198.51.100.$((i % 250 + 1)) -j RETURN && " +
            "iptables-legacy -w 30 -t filter -D FORWARD -s 198.51.100.1 -j ACCEPT || exit 1; " +
            "i=$((i + 1)); echo $i; done");
        var churnOutput = churn.StandardOutput.ReadToEndAsync(Ct);

        // A second manager, in another process: the natmap tool installing its own mappings one by one.
        using var tool = Start(ns.Name,
            $"for i in $(seq 1 {ByTool}); do {NatmapTool.Path()} add docker --container tool$i --host 0.0.0.0:$((30000 + i)) --target 172.18.0.$i:80 " +
            $"--apply --iptables iptables-legacy --ip6tables ip6tables-legacy --no-ipv6 || exit 1; done");

        var watch = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, Tasks).Select(task => Task.Run(async () =>
        {
            for (var i = 0; i < PerTask; i++)
            {
                await manager.InstallDockerMapAsync(Map(task, i), Ct);
            }
        }, Ct)));
        var elapsed = watch.Elapsed;

        await tool.WaitForExitAsync(Ct);
        var toolErrors = await tool.StandardError.ReadToEndAsync(Ct);
        churn.HasExited.Should().BeFalse("the churn ran until the end, no command of it failed");
        churn.Kill(entireProcessTree: true);
        await churn.WaitForExitAsync(Ct);
        var churnErrors = await churn.StandardError.ReadToEndAsync(Ct);
        var churnRounds = (await churnOutput).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => int.Parse(l, System.Globalization.CultureInfo.InvariantCulture)).DefaultIfEmpty(0).Max();

        tool.ExitCode.Should().Be(0, toolErrors);
        churnErrors.Should().BeEmpty("every command of the churn succeeded, waiting for the lock when it had to");
        churnRounds.Should().BeGreaterThan(50, "the foreign churn ran all along (4 commands a round)");
        var state = await manager.ListAsync(Ct);
        var expected = Enumerable.Range(0, Tasks).SelectMany(t => Enumerable.Range(0, PerTask).Select(i => Map(t, i))).ToList();
        state.DockerMaps.Should().HaveCount((Tasks * PerTask) + ByTool);
        state.DockerMaps.Should().Contain(expected);
        var save = await ns.SaveAsync();
        var ruleLines = save.Split('\n').Where(l => l.StartsWith("-A", StringComparison.Ordinal)).ToList();
        foreach (var map in expected.Take(50).Concat(expected.TakeLast(50)))
        {
            ruleLines.Count(l => l.Contains(manager.RuleBuilder.DockerMapComment(map), StringComparison.Ordinal)).Should().Be(3, $"{map.ContainerId} has three rules, once each");
        }

        ruleLines.Count(l => l.Contains("natmap:docker:", StringComparison.Ordinal)).Should().Be(3 * ((Tasks * PerTask) + ByTool));
        ruleLines.Should().Contain(foreign, "the foreign rules that were there before are intact");
        TestContext.Current.TestOutputHelper?.WriteLine($"{Tasks * PerTask} installs by {Tasks} tasks in {elapsed.TotalSeconds:0.0} s, {ByTool} by the tool, under churn");
        Console.WriteLine($"concurrency: {Tasks * PerTask} installs by {Tasks} tasks in {elapsed.TotalSeconds:0.0} s, {ByTool} by a second process, under foreign churn of {churnRounds} rounds (4 commands each)");
    }
}
