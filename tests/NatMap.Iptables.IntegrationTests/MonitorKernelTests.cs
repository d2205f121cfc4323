using System.Diagnostics;
using System.Net;
using NatMap.Iptables.IntegrationTests.Infrastructure;
using static NatMap.Iptables.IntegrationTests.Infrastructure.Topology;

namespace NatMap.Iptables.IntegrationTests;

/// <summary>
/// The monitor on the real kernel: another tool flushes every table and deletes every user chain behind the library's
/// back (what <c>iptables -F; iptables -X</c> or a firewalld reload does), and packets through the mapping are answered
/// again within the bound the monitor promises: one interval plus one sync after the wipe.
/// </summary>
// Times the repair against one interval plus one sync: run alone, so other tests' load does not stretch it.
[Collection(nameof(RunAlone))]
public sealed class MonitorKernelTests
{
    public static TheoryData<string> Backends => Kernel.AllBackends;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task TablesFlushedBehindItsBack_TrafficFlowsAgainWithinTheBound(string backend)
    {
        await using var net = await Topology.CreateAsync(backend, 80);
        var manager = net.Manager();
        var desired = new NatMapState
        {
            DockerMaps =
            [
                new DockerPortMap("web", IPEndPoint.Parse("0.0.0.0:8080"), IPEndPoint.Parse($"{C1v4}:80")),
                new DockerPortMap("web", IPEndPoint.Parse("[::]:8080"), IPEndPoint.Parse($"[{C1v6}]:80")),
            ],
        };
        var interval = TimeSpan.FromSeconds(1);

        // "One sync" of the bound, timed on this machine now: the same sync from tables without the library's rules to
        // the desired state is all the work a repair does.
        var sync = Stopwatch.StartNew();
        await manager.SyncAsync(desired, Ct);
        var oneSync = sync.Elapsed;
        var bound = interval + oneSync;

        // Positive control: the mapping carries traffic before the wipe, from the same client to the same addresses.
        await Probe.ReachesAsync(net.Ext, TransportProtocol.Tcp, HostA4, 8080, "c1", "before the wipe (IPv4)");
        await Probe.ReachesAsync(net.Ext, TransportProtocol.Tcp, HostA6, 8080, "c1", "before the wipe (IPv6)");

        // Beside the nftables backend the wipe is `nft flush ruleset`: every table, the library's and iptables-nft's, gone.
        if (net.IsNftables)
        {
            await net.ExecAsync(net.Host, "nft", "flush", "ruleset");
        }

        foreach (var program in net.IsNftables ? [] : new[] { $"iptables-{backend}", $"ip6tables-{backend}" })
        {
            foreach (var table in program.StartsWith("ip6", StringComparison.Ordinal) ? new[] { "nat", "filter" } : ["raw", "nat", "filter"])
            {
                await net.ExecAsync(net.Host, program, "-t", table, "-F");
                await net.ExecAsync(net.Host, program, "-t", table, "-X");
            }
        }

        var wiped = Stopwatch.StartNew();

        // Negative check: right after the wipe the mapping is gone, so the host itself refuses the connection (nothing
        // listens on its port 8080). No monitor runs yet, so nothing can have repaired it.
        await Probe.NoAnswerAsync(net.Ext, TransportProtocol.Tcp, HostA4, 8080, "right after the wipe (IPv4)");
        await Probe.NoAnswerAsync(net.Ext, TransportProtocol.Tcp, HostA6, 8080, "right after the wipe (IPv6)");

        // A monitor that was already running would check at most one interval after the wipe; this one starts a few
        // probes after it and checks at once, which is one such case, so the bound counts from the wipe.
        var monitor = new NatMapMonitor(manager, () => desired, new NatMapMonitorOptions { Interval = interval });
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var running = monitor.RunAsync(stop.Token);
        var back4 = await TrafficBackAsync(net, HostA4, wiped, bound);
        var back6 = await TrafficBackAsync(net, HostA6, wiped, bound);
        await stop.CancelAsync();
        await running;

        // The repair counter is only reported: the traffic is what the test asserts.
        var report = $"monitor ({backend}): IPv4 answered {Ms(back4)}, IPv6 {Ms(back6)} after the wipe; bound {Ms(bound)} = interval {Ms(interval)} + one sync {Ms(oneSync)}; repairs counted {monitor.Repairs}";
        Console.WriteLine(report);
        back4.Should().NotBeNull($"IPv4 traffic through the mapping must flow again within the bound ({report})");
        back4!.Value.Should().BeLessThan(bound, report);
        back6.Should().NotBeNull($"IPv6 traffic through the mapping must flow again within the bound ({report})");
        back6!.Value.Should().BeLessThan(bound, report);
    }

    /// <summary>
    /// Probes the mapping from ext until c1 answers, and returns how long after the wipe its answer came back; keeps
    /// trying up to 10 s past <paramref name="bound"/> (so a failure says how late it was), then <see langword="null"/>.
    /// Each probe is one connection with a 1 s timeout: a refusal comes back at once, so the polling is fine-grained.
    /// </summary>
    private static async Task<TimeSpan?> TrafficBackAsync(Topology net, string address, Stopwatch wiped, TimeSpan bound)
    {
        while (wiped.Elapsed < bound + TimeSpan.FromSeconds(10))
        {
            var outcome = await Probe.RunAsync(net.Ext, TransportProtocol.Tcp, address, 8080, attempts: 1, timeoutSeconds: 1);
            if (outcome.Answer == "c1")
            {
                return wiped.Elapsed;
            }

            Assert.True(outcome.Answer is null, $"while the mapping is being repaired, only c1 or nobody may answer: {outcome}");
            await Task.Delay(20, Ct);
        }

        return null;
    }

    private static string Ms(TimeSpan? time) => time is { } t ? $"{t.TotalMilliseconds:0} ms" : "never";
}
