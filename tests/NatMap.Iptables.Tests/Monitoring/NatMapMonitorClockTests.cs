using System.Net;
using Microsoft.Extensions.Time.Testing;
using NatMap.Iptables.Testing;

namespace NatMap.Iptables.Tests.Monitoring;

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
}
