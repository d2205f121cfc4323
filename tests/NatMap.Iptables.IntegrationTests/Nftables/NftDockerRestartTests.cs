using System.Diagnostics;
using NatMap.Iptables.IntegrationTests.Infrastructure;
using static NatMap.Iptables.IntegrationTests.DockerCoexistenceTests;
using static NatMap.Iptables.IntegrationTests.Infrastructure.DockerEngine;
using static NatMap.Iptables.IntegrationTests.Nftables.NftDockerCoexistenceTests;

namespace NatMap.Iptables.IntegrationTests.Nftables;

/// <summary>
/// The native nftables backend beside a real Docker Engine that restarts (see <see cref="NftDockerCoexistenceTests"/>
/// for the setting): the monitor keeps the mapping carrying traffic within its bound. A class of its own, with engines
/// of its own, so that it can run in <see cref="RunAlone"/>: the bound is timed, and the other Docker tests run in
/// parallel.
/// </summary>
[Collection(nameof(RunAlone))]
public sealed class NftDockerRestartTests(DockerEngineFixture engines) : IClassFixture<DockerEngineFixture>
{
    public static TheoryData<string> DockersIptables => Kernel.Backends;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [MemberData(nameof(DockersIptables))]
    public async Task DockerRestart_MappingKeepsCarryingTraffic_WithTheMonitorRunning(string dockersIptables)
    {
        var engine = await engines.PrepareAsync(dockersIptables);
        await engine.RunServerAsync("c1", 10);
        await engine.RunServerAsync("c2", 20, "-p", $"{DockerPort}:80");
        var manager = Manager(engine);
        var desired = new NatMapState { DockerMaps = Maps(10) };
        await manager.SyncAsync(desired, Ct);
        await Probe.ReachesAsync(engine.Ext, TransportProtocol.Tcp, Host4, LibraryPort, "c1", "before the restart");

        var monitor = new NatMapMonitor(manager, () => desired, new NatMapMonitorOptions { Interval = TimeSpan.FromMilliseconds(500) });
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var running = monitor.RunAsync(stop.Token);
        try
        {
            await engine.StopAsync();
            var restart = Stopwatch.StartNew();
            await engine.StartAsync();
            await engine.WaitForServerAsync("c1", 10);
            await engine.WaitForServerAsync("c2", 20);
            Console.WriteLine($"Docker restart beside the nftables backend ({dockersIptables}): accepts after the start: {(await AcceptsAsync(engine, ipv6: false)).Count} (v4), monitor repairs so far {monitor.Repairs}");

            // The repair bound: one 500 ms interval plus one sync, measured from dockerd answering again.
            await Task.Delay(TimeSpan.FromSeconds(1.5), Ct);
            await Probe.ReachesAsync(engine.Ext, TransportProtocol.Tcp, Host4, LibraryPort, "c1", $"the library's mapping after Docker's restart ({restart.ElapsedMilliseconds} ms since the start)");
            await Probe.ReachesAsync(engine.Ext, TransportProtocol.Udp, Host4, LibraryPort, "c1", "the library's udp mapping after Docker's restart");
            await Probe.ReachesAsync(engine.Ext, TransportProtocol.Tcp, Host6, LibraryPort, "c1", "the library's IPv6 mapping after Docker's restart");
            await Probe.ReachesAsync(engine.Ext, TransportProtocol.Tcp, Host4, DockerPort, "c2", "Docker's own -p after its restart");
        }
        finally
        {
            await stop.CancelAsync();
            await running;
        }

        (await manager.CountMissingSetupAsync(Ct)).Should().Be(0);
        (await AcceptsAsync(engine, ipv6: false)).Should().ContainSingle();
    }
}
