using System.Net;
using Microsoft.Extensions.Time.Testing;
using NatMap.Iptables.Testing;

namespace NatMap.Iptables.Tests.Reliability;

/// <summary>The monitor through the <see cref="IIptablesManager"/> interface, on a fake clock.</summary>
public sealed class NatMapMonitorClockTests
{
    private static readonly NatMapState Desired = new() { DockerMaps = [new("web", IPEndPoint.Parse("0.0.0.0:8080"), IPEndPoint.Parse("172.17.0.2:80"))] };

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Run_OnAFakeClock_ChecksAgainOnlyWhenTheIntervalHasPassed()
    {
        var fake = new FakeIptables();
        var manager = new CountingManager(new IptablesManager(fake, new NatMapOptions { EnableIpv6 = false }));
        await manager.SetupAsync(Ct);
        await manager.SyncAsync(Desired, Ct);
        var time = new FakeTimeProvider();
        var monitor = new NatMapMonitor(manager, () => Desired, new NatMapMonitorOptions { Interval = TimeSpan.FromMinutes(1) }, timeProvider: time);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(Ct);

        var running = monitor.RunAsync(stop.Token);
        await WaitUntilAsync(() => manager.Counts == 1);
        (await fake.RunAsync(new CommandSpec("iptables", ["-t", "nat", "-F"]), Ct)).ExitCode.Should().Be(0);
        time.Advance(TimeSpan.FromSeconds(59));
        await Task.Delay(100, Ct);
        (manager.Counts, monitor.Repairs).Should().Be((1, 0L), "59 fake seconds are less than the interval");
        time.Advance(TimeSpan.FromSeconds(1));
        await WaitUntilAsync(() => monitor.Repairs == 1);

        manager.Counts.Should().Be(2);
        await stop.CancelAsync();
        await running;
    }

    [Fact]
    public async Task Check_AnyManager_AsksItWhatIsMissing_AndSyncsThroughIt()
    {
        var manager = new CountingManager(new IptablesManager(new FakeIptables(), new NatMapOptions { EnableIpv6 = false }));
        var monitor = new NatMapMonitor(manager, () => Desired);

        (await monitor.CheckAsync(Ct)).Should().BeTrue("nothing was set up, so everything Setup makes is missing");

        (manager.Counts, manager.Syncs).Should().Be((1, 1));
        (await manager.CountMissingSetupAsync(Ct)).Should().Be(0, "the sync put Setup in place");
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (!condition())
        {
            waited.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(10));
            await Task.Delay(10, Ct);
        }
    }

    /// <summary>A decorator: the monitor must not need the concrete <see cref="IptablesManager"/>.</summary>
    private sealed class CountingManager(IIptablesManager inner) : IIptablesManager
    {
        private int _counts;
        private int _syncs;

        public int Counts => Volatile.Read(ref _counts);

        public int Syncs => Volatile.Read(ref _syncs);

        public Task<int> CountMissingSetupAsync(CancellationToken cancellationToken = default)
        {
            _ = Interlocked.Increment(ref _counts);
            return inner.CountMissingSetupAsync(cancellationToken);
        }

        public Task SyncAsync(NatMapState desired, CancellationToken cancellationToken = default)
        {
            _ = Interlocked.Increment(ref _syncs);
            return inner.SyncAsync(desired, cancellationToken);
        }

        public Task SetupAsync(CancellationToken cancellationToken = default) => inner.SetupAsync(cancellationToken);

        public Task InstallDockerMapAsync(DockerPortMap map, CancellationToken cancellationToken = default) => inner.InstallDockerMapAsync(map, cancellationToken);

        public Task RemoveDockerMapAsync(DockerPortMap map, CancellationToken cancellationToken = default) => inner.RemoveDockerMapAsync(map, cancellationToken);

        public Task InstallDnatAsync(DnatConfig config, CancellationToken cancellationToken = default) => inner.InstallDnatAsync(config, cancellationToken);

        public Task RemoveDnatAsync(DnatConfig config, CancellationToken cancellationToken = default) => inner.RemoveDnatAsync(config, cancellationToken);

        public Task InstallSnatAsync(SnatConfig config, CancellationToken cancellationToken = default) => inner.InstallSnatAsync(config, cancellationToken);

        public Task RemoveSnatAsync(SnatConfig config, CancellationToken cancellationToken = default) => inner.RemoveSnatAsync(config, cancellationToken);

        public Task InstallHairpinAsync(HairpinConfig config, CancellationToken cancellationToken = default) => inner.InstallHairpinAsync(config, cancellationToken);

        public Task RemoveHairpinAsync(HairpinConfig config, CancellationToken cancellationToken = default) => inner.RemoveHairpinAsync(config, cancellationToken);

        public Task<NatMapState> ListAsync(CancellationToken cancellationToken = default) => inner.ListAsync(cancellationToken);

        public Task FlushAllAsync(CancellationToken cancellationToken = default) => inner.FlushAllAsync(cancellationToken);
    }
}
