using System.Diagnostics;
using NatMap.Iptables.IntegrationTests.Infrastructure;
using static NatMap.Iptables.IntegrationTests.DockerCoexistenceTests;
using static NatMap.Iptables.IntegrationTests.Infrastructure.DockerEngine;

namespace NatMap.Iptables.IntegrationTests;

/// <summary>
/// The library beside a real Docker Engine that restarts (see <see cref="DockerCoexistenceTests"/> for the setting): the
/// monitor repairs the mappings within its bound. A class of its own, with engines of its own, so that it can run in
/// <see cref="RunAlone"/>: the bound is timed, and the other Docker tests run in parallel.
/// </summary>
[Collection(nameof(RunAlone))]
public sealed class DockerRestartTests(DockerEngineFixture engines) : IClassFixture<DockerEngineFixture>
{
    public static TheoryData<string> Backends => Kernel.Backends;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task DockerRestart_MappingCarriesTrafficAgain_WithTheMonitorRunning(string backend)
    {
        var engine = await engines.PrepareAsync(backend);
        await engine.RunServerAsync("c1", 10);
        await engine.RunServerAsync("c2", 20, "-p", $"{DockerPort}:80");
        var manager = engine.Manager();
        var desired = new NatMapState { DockerMaps = Maps(10) };
        await manager.SyncAsync(desired, Ct);
        await Probe.ReachesAsync(engine.Ext, TransportProtocol.Tcp, Host4, LibraryPort, "c1", "before the restart");
        var before = await engine.SaveAsync(ipv6: false);

        var monitor = new NatMapMonitor(manager, () => desired, new NatMapMonitorOptions { Interval = TimeSpan.FromMilliseconds(500) });
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var running = monitor.RunAsync(stop.Token);
        try
        {
            // dockerd stops its containers and rebuilds its chains when it starts again with the same data root;
            // the containers come back at the same addresses (restart policy "always", fixed --ip).
            await engine.StopAsync();
            var stopped = await engine.SaveAsync(ipv6: false);
            var restart = Stopwatch.StartNew();
            await engine.StartAsync();
            await engine.WaitForServerAsync("c1", 10);
            await engine.WaitForServerAsync("c2", 20);
            var after = await engine.SaveAsync(ipv6: false);
            static IEnumerable<string> Ours(string save) => save.Split('\n').Where(l => l.Contains("natmap:", StringComparison.Ordinal));
            Console.WriteLine(
                $"Docker restart ({backend}): while stopped, gone: [{Diff(before, stopped)}]; after the start, gone: [{Diff(before, after)}], " +
                $"new: [{Diff(after, before)}], same rules in another order: {after != before && Diff(before, after).Length == 0 && Diff(after, before).Length == 0}; " +
                $"the library's rules untouched: {Ours(before).SequenceEqual(Ours(after))}; monitor repairs so far {monitor.Repairs}");

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

        // Setup after the restart finds everything in place and changes nothing.
        var settled = await engine.SaveAsync(ipv6: false);
        await manager.SetupAsync(Ct);
        (await engine.SaveAsync(ipv6: false)).Should().Be(settled);
        (await manager.ListAsync(Ct)).DockerMaps.Should().BeEquivalentTo(desired.DockerMaps);
    }
}
