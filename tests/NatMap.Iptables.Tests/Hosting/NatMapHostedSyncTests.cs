using System.Diagnostics.Metrics;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using NatMap.Iptables.Hosting;
using NatMap.Iptables.Hosting.Internal;
using NatMap.Iptables.Testing;

namespace NatMap.Iptables.Tests.Hosting;

/// <summary>
/// The hosted sync over FakeIptables, on a FakeTimeProvider: start, debounce, no overlap, rejection, unreachable source,
/// failing syncs, repair after an external flush, stop, health and metrics.
/// </summary>
public sealed class NatMapHostedSyncTests
{
    private static readonly DockerPortMap Web = new("web", IPEndPoint.Parse("0.0.0.0:8080"), IPEndPoint.Parse("172.17.0.2:80"));
    private static readonly DockerPortMap Api = new("api", IPEndPoint.Parse("0.0.0.0:9090"), IPEndPoint.Parse("172.17.0.3:90"));
    private static readonly DnatConfig Dnat = new(IPAddress.Parse("203.0.113.5"), IPAddress.Parse("10.0.0.2"), PortSet.Parse("80,443"));
    private static readonly NatMapState First = new() { DockerMaps = [Web], Dnats = [Dnat] };
    private static readonly NatMapState Second = new() { DockerMaps = [Api] };

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Start_RunsSetupAndSyncsToTheSourceState_AndReportsHealthy()
    {
        await using var h = new Harness();
        h.Source.State = First;

        await h.StartAsync();

        await h.ShouldHaveAsync(First);
        h.Fake.Save().Should().Contain(":NATMAP -", "Setup made the library's chain");
        var health = await h.HealthAsync();
        health.Status.Should().Be(HealthStatus.Healthy);
        health.Data["syncs"].Should().Be(1L);
        health.Data["lastSync"].Should().Be(h.Time.GetUtcNow().ToString("O", System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public async Task Change_WaitsForTheDebounce_AndCoalescesABurstIntoOneSync()
    {
        await using var h = new Harness(o => o.Debounce = TimeSpan.FromSeconds(1));
        h.Source.State = First;
        await h.StartAsync();
        h.Source.State = Second;

        h.Source.Change();
        h.Time.Advance(TimeSpan.FromMilliseconds(200));
        h.Source.Change();
        h.Time.Advance(TimeSpan.FromMilliseconds(200));
        h.Source.Change();
        var lastChange = h.Time.GetUtcNow();
        await Task.Delay(100, Ct);
        h.Source.Reads.Should().Be(1, "400 ms into a 1 s debounce nothing is read yet");

        await h.StepUntilAsync(() => h.Status.Syncs == 2, TimeSpan.FromMilliseconds(100));

        h.Source.Reads.Should().Be(2, "three signals in a burst cost one read and one sync");
        (h.Status.LastSync - lastChange).Should().BeGreaterThanOrEqualTo(TimeSpan.FromSeconds(1), "the source must be quiet for the debounce first");
        await h.ShouldHaveAsync(Second);
    }

    [Fact]
    public async Task Changes_DuringASync_WaitForIt_AndNeverRunConcurrently()
    {
        await using var h = new Harness(o => o.Debounce = TimeSpan.Zero);
        h.Source.State = First;
        await h.StartAsync();
        h.Source.Gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        h.Source.Change();
        await Until(() => h.Source.Reads == 2);
        for (var i = 0; i < 5; i++)
        {
            h.Source.Change();
        }

        await Task.Delay(200, Ct);
        h.Source.Reads.Should().Be(2, "no second read starts while one is in flight");
        h.Source.State = Second;
        h.Source.Gate.SetResult();
        await Until(() => h.Source.Reads == 3 && h.Status.Syncs == 3);

        h.Source.MaxInFlight.Should().Be(1);
        await h.ShouldHaveAsync(Second);
    }

    [Fact]
    public async Task RejectedState_KeepsTheLastGoodStateApplied_AndReportsDegraded()
    {
        await using var h = new Harness(o => o.Debounce = TimeSpan.Zero);
        h.Source.State = First;
        await h.StartAsync();
        var applied = h.Fake.Save();

        h.Source.Failure = new NatMapStateException([new NatMapStateError("$.dnats[0].ports", "'0' is not a port.")]);
        h.Source.Change();
        await Until(() => h.Status.Rejections == 1);

        h.Fake.Save().Should().Be(applied);
        var health = await h.HealthAsync();
        health.Status.Should().Be(HealthStatus.Degraded);
        health.Description.Should().Contain("$.dnats[0].ports: '0' is not a port.");
        health.Data["rejections"].Should().Be(1L);

        // Not retried at the check interval: the same document would be rejected again.
        h.Time.Advance(TimeSpan.FromSeconds(30));
        await Task.Delay(100, Ct);
        h.Source.Reads.Should().Be(2);

        h.Source.Failure = null;
        h.Source.State = Second;
        h.Source.Change();
        await Until(() => h.Status.Syncs == 2);
        await h.ShouldHaveAsync(Second);
        (await h.HealthAsync()).Status.Should().Be(HealthStatus.Healthy);
    }

    [Fact]
    public async Task StateNotValidOnThisHost_IsRejected_AndNothingRuns()
    {
        await using var h = new Harness(o => o.Debounce = TimeSpan.Zero);
        h.Source.State = First;
        await h.StartAsync();
        var processes = h.Fake.Processes.Count;

        // Valid as a document, but this host runs with IPv6 off: SyncAsync refuses it before any command.
        h.Source.State = new NatMapState { DockerMaps = [new DockerPortMap("v6", IPEndPoint.Parse("[::]:8080"), IPEndPoint.Parse("[fd00::2]:80"))] };
        h.Source.Change();
        await Until(() => h.Status.Rejections == 1);

        h.Fake.Processes.Count.Should().Be(processes);
        await h.ShouldHaveAsync(First);
        (await h.HealthAsync()).Status.Should().Be(HealthStatus.Degraded);
    }

    [Fact]
    public async Task UnreachableSource_KeepsTheLastGoodState_ReportsDegraded_AndIsRetriedAtTheCheckInterval()
    {
        await using var h = new Harness(o => (o.Debounce, o.CheckInterval) = (TimeSpan.Zero, TimeSpan.FromSeconds(5)));
        h.Source.State = First;
        await h.StartAsync();

        h.Source.Failure = new IOException("connection refused");
        h.Source.Change();
        await Until(() => h.Status.Unreachable == 1);

        await h.ShouldHaveAsync(First);
        var health = await h.HealthAsync();
        health.Status.Should().Be(HealthStatus.Degraded);
        health.Description.Should().Contain("unreachable").And.Contain("connection refused");

        // The source comes back without signalling: the retry at the next interval picks the new state up.
        h.Source.Failure = null;
        h.Source.State = Second;
        await h.StepUntilAsync(() => h.Status.Syncs == 2, TimeSpan.FromSeconds(1));

        await h.ShouldHaveAsync(Second);
        (await h.HealthAsync()).Status.Should().Be(HealthStatus.Healthy);
    }

    [Fact]
    public async Task Start_SourceUnreadable_StillRunsSetup_AndReportsDegraded()
    {
        await using var h = new Harness();
        h.Source.Failure = new IOException("no route to host");

        await h.StartAsync();

        h.Fake.Save().Should().Contain(":NATMAP -");
        (await h.Manager.ListAsync(Ct)).DockerMaps.Should().BeEmpty();
        var health = await h.HealthAsync();
        health.Status.Should().Be(HealthStatus.Degraded);
        health.Data.Should().NotContainKey("lastSync");
    }

    [Fact]
    public async Task FailingSyncs_ReportUnhealthy_LeaveTheLastGoodState_AndRecover()
    {
        await using var h = new Harness(o => (o.Debounce, o.CheckInterval) = (TimeSpan.Zero, TimeSpan.FromSeconds(5)));
        h.Source.State = First;
        await h.StartAsync();

        h.Fake.Script.FailWhen(CommandMatch.Program("iptables-restore"), 4, "Another app is currently holding the xtables lock.");
        h.Source.State = Second;
        h.Source.Change();
        await Until(() => h.Status.Failures >= 1);

        var health = await h.HealthAsync();
        health.Status.Should().Be(HealthStatus.Unhealthy);
        health.Description.Should().Contain("xtables lock");
        h.Fake.Script.Clear();
        await h.ShouldHaveAsync(First);

        await h.StepUntilAsync(() => h.Status.Syncs == 2, TimeSpan.FromSeconds(1));

        await h.ShouldHaveAsync(Second);
        (await h.HealthAsync()).Status.Should().Be(HealthStatus.Healthy);
    }

    [Theory]
    [InlineData(false)] // the IptablesManager AddNatMap registers
    [InlineData(true)]  // another IIptablesManager (a decorator): the monitor needs only the interface
    public async Task TablesFlushedByAnotherTool_AreRepairedAtTheNextCheck_AndCounted(bool decorated)
    {
        await using var h = new Harness(o => o.CheckInterval = TimeSpan.FromSeconds(5), decorated);
        using var repairs = h.Collect<long>(NatMapHostingTelemetry.RepairsInstrument);
        h.Source.State = First;
        await h.StartAsync();
        var applied = h.Fake.Save();
        foreach (var table in new[] { "raw", "nat", "filter" })
        {
            (await h.Fake.RunAsync(new CommandSpec("iptables", ["-t", table, "-F"]), Ct)).ExitCode.Should().Be(0);
            (await h.Fake.RunAsync(new CommandSpec("iptables", ["-t", table, "-X"]), Ct)).ExitCode.Should().Be(0);
        }

        await h.StepUntilAsync(() => h.Status.Repairs == 1, TimeSpan.FromSeconds(1));

        h.Fake.Save().Should().Be(applied);
        repairs.GetMeasurementSnapshot().Sum(m => m.Value).Should().Be(1);
        var health = await h.HealthAsync();
        health.Status.Should().Be(HealthStatus.Healthy);
        health.Data["repairs"].Should().Be(1L);
        h.Source.Reads.Should().Be(1, "a repair puts the last good state back without reading the source");
        h.Manager.Should().BeOfType(decorated ? typeof(CountingManager) : typeof(IptablesManager));
    }

    [Fact]
    public async Task Stop_ByDefault_LeavesTheRules()
    {
        await using var h = new Harness();
        h.Source.State = First;
        await h.StartAsync();
        var applied = h.Fake.Save();

        await h.Service.StopAsync(Ct);

        h.Fake.Save().Should().Be(applied);
    }

    [Fact]
    public async Task Stop_WithFlushOnStop_RemovesEverythingTheLibraryOwns()
    {
        await using var h = new Harness(o => o.FlushOnStop = true);
        h.Source.State = First;
        await h.StartAsync();

        await h.Service.StopAsync(Ct);

        h.Fake.Save().Should().NotContain("natmap").And.NotContain("NATMAP");
        (await h.Manager.ListAsync(Ct)).Dnats.Should().BeEmpty();
    }

    [Fact]
    public async Task Syncs_AreCountedByOutcomeAndTrigger_AndTimed()
    {
        await using var h = new Harness(o => o.Debounce = TimeSpan.Zero);
        using var syncs = h.Collect<long>(NatMapHostingTelemetry.SyncsInstrument);
        using var durations = h.Collect<double>(NatMapHostingTelemetry.SyncDurationInstrument);
        h.Source.State = First;
        await h.StartAsync();
        h.Source.Failure = new NatMapStateException([new NatMapStateError("$", "bad")]);
        h.Source.Change();
        await Until(() => h.Status.Rejections == 1);

        syncs.GetMeasurementSnapshot().Select(m => ((string?)m.Tags["natmap.outcome"], (string?)m.Tags["natmap.trigger"], m.Value))
            .Should().Equal(("success", "start", 1L), ("rejected", "change", 1L));
        durations.GetMeasurementSnapshot().Select(m => (string?)m.Tags["natmap.outcome"]).Should().Equal("success", "rejected");
        durations.GetMeasurementSnapshot().Should().OnlyContain(m => m.Value >= 0);
    }

    [Fact]
    public void Options_Invalid_FailValidationNamingTheValue()
    {
        using var services = new ServiceCollection()
            .AddNatMapHostedSync(_ => new FakeStateSource(), o => (o.CheckInterval, o.FullSyncEvery) = (TimeSpan.Zero, 0))
            .BuildServiceProvider();

        var act = () => services.GetRequiredService<IOptions<NatMapHostedSyncOptions>>().Value;

        act.Should().Throw<OptionsValidationException>().Which.Failures.Should().Equal(
            "NatMapHostedSyncOptions.CheckInterval must be greater than zero; it is 00:00:00.",
            "NatMapHostedSyncOptions.FullSyncEvery must be at least 1; it is 0.");
    }

    [Fact]
    public void AddNatMapHostedSync_Twice_Throws()
    {
        var services = new ServiceCollection().AddNatMapHostedSync(_ => new FakeStateSource());

        var act = () => services.AddNatMapHostedSync(_ => new FakeStateSource());

        act.Should().Throw<InvalidOperationException>().WithMessage("*already called*");
    }

    private static async Task Until(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!condition())
        {
            DateTime.UtcNow.Should().BeBefore(deadline, "the condition should hold within 10 s");
            await Task.Delay(5, Ct);
        }
    }

    private sealed class Harness : IAsyncDisposable
    {
        private readonly ServiceProvider _services;

        public Harness(Action<NatMapHostedSyncOptions>? configure = null, bool decorated = false)
        {
            var services = new ServiceCollection()
                .AddMetrics()
                .AddSingleton<TimeProvider>(Time)
                .AddNatMap(o => o.EnableIpv6 = false)
                .AddFakeCommandRunner(Fake);
            if (decorated)
            {
                // Registered last, so it is the manager the hosted sync is given.
                services.AddSingleton<IIptablesManager>(sp => new CountingManager(new IptablesManager(sp.GetRequiredService<ICommandRunner>(), new NatMapOptions { EnableIpv6 = false })));
            }

            _services = services
                .AddNatMapHostedSync(_ => Source, o => { o.CheckInterval = TimeSpan.FromHours(1); configure?.Invoke(o); })
                .BuildServiceProvider();
        }

        public FakeIptables Fake { get; } = new();

        public FakeTimeProvider Time { get; } = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));

        public FakeStateSource Source { get; } = new();

        public NatMapSyncService Service => _services.GetRequiredService<NatMapSyncService>();

        public IIptablesManager Manager => _services.GetRequiredService<IIptablesManager>();

        public SyncStatus.Snapshot Status => _services.GetRequiredService<SyncStatus>().Current;

        public Task StartAsync() => Service.StartAsync(Ct);

        public Task<HealthCheckResult> HealthAsync() =>
            _services.GetRequiredService<NatMapHealthCheck>().CheckHealthAsync(new HealthCheckContext(), Ct);

        public MetricCollector<T> Collect<T>(string instrument)
            where T : struct =>
            new(_services.GetRequiredService<IMeterFactory>(), NatMapTelemetry.Name, instrument);

        public async Task ShouldHaveAsync(NatMapState expected)
        {
            var listed = await Manager.ListAsync(Ct);
            listed.DockerMaps.Should().BeEquivalentTo(expected.DockerMaps);
            listed.Dnats.Should().BeEquivalentTo(expected.Dnats);
            listed.Snats.Should().BeEquivalentTo(expected.Snats);
            listed.Hairpins.Should().BeEquivalentTo(expected.Hairpins);
        }

        /// <summary>Moves the fake clock one step at a time, each after the loop has parked again, until the condition holds.</summary>
        public async Task StepUntilAsync(Func<bool> condition, TimeSpan step)
        {
            for (var i = 0; i < 400 && !condition(); i++)
            {
                Time.Advance(step);
                await Task.Delay(5, Ct);
            }

            condition().Should().BeTrue("the condition should hold within 400 steps of the fake clock");
        }

        public async ValueTask DisposeAsync()
        {
            await Service.StopAsync(CancellationToken.None);
            await _services.DisposeAsync();
        }

    }
}
