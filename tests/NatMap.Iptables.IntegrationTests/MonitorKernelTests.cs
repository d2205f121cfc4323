using System.Diagnostics;
using System.Net;
using NatMap.Iptables.IntegrationTests.Infrastructure;
using static NatMap.Iptables.IntegrationTests.Infrastructure.Topology;

namespace NatMap.Iptables.IntegrationTests;

/// <summary>
/// The monitor on the real kernel: another tool flushes every table and deletes every user chain behind the library's
/// back (what <c>iptables -F; iptables -X</c> or a firewalld reload does), and the mapping carries traffic again
/// within the bound: one interval plus one sync.
/// </summary>
public sealed class MonitorKernelTests
{
    public static TheoryData<string> Backends => Kernel.Backends;

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
        await manager.SyncAsync(desired, Ct);
        (await net.ProbeAsync(net.Ext, TransportProtocol.Tcp, HostA4, 8080)).Should().Be("c1");
        foreach (var program in new[] { $"iptables-{backend}", $"ip6tables-{backend}" })
        {
            foreach (var table in program.StartsWith("ip6", StringComparison.Ordinal) ? new[] { "nat", "filter" } : ["raw", "nat", "filter"])
            {
                await net.ExecAsync(net.Host, program, "-t", table, "-F");
                await net.ExecAsync(net.Host, program, "-t", table, "-X");
            }
        }

        (await net.ProbeAsync(net.Ext, TransportProtocol.Tcp, HostA4, 8080)).Should().BeNull("the flush took the mapping away");

        // The monitor starts after the flush, so its first check is at most one interval late, as in a steady run.
        var monitor = new NatMapMonitor(manager, () => desired, new NatMapMonitorOptions { Interval = TimeSpan.FromMilliseconds(500) });
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var flushed = Stopwatch.StartNew();
        var running = monitor.RunAsync(stop.Token);
        while (monitor.Repairs == 0 && flushed.Elapsed < TimeSpan.FromSeconds(15))
        {
            await Task.Delay(50, Ct);
        }

        var repaired = flushed.Elapsed;
        monitor.Repairs.Should().Be(1);
        repaired.Should().BeLessThan(TimeSpan.FromSeconds(3), "the bound is one 500 ms interval plus one sync");
        (await net.ProbeAsync(net.Ext, TransportProtocol.Tcp, HostA4, 8080)).Should().Be("c1");
        (await net.ProbeAsync(net.Ext, TransportProtocol.Tcp, HostA6, 8080)).Should().Be("c1");
        await stop.CancelAsync();
        await running;
        Console.WriteLine($"monitor ({backend}): tables flushed and chains deleted; repaired {repaired.TotalMilliseconds:0} ms later (interval 500 ms), traffic flows again");
    }
}
