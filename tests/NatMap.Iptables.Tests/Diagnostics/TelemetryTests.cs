using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using NatMap.Iptables.Testing;

namespace NatMap.Iptables.Tests.Diagnostics;

public sealed class TelemetryTests
{
    private static readonly DockerPortMap Web = new("web", IPEndPoint.Parse("0.0.0.0:8080"), IPEndPoint.Parse("172.17.0.2:80"));

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static ServiceProvider Services(FakeIptables fake) =>
        new ServiceCollection().AddMetrics().AddNatMap(o => o.EnableIpv6 = false).AddFakeCommandRunner(fake).BuildServiceProvider();

    private static MetricCollector<T> Collect<T>(IServiceProvider services, string instrument)
        where T : struct =>
        new(services.GetRequiredService<IMeterFactory>(), NatMapTelemetry.Name, instrument);

    [Fact]
    public async Task Operations_ReportCommandsRuleChangesAndDurations()
    {
        var fake = new FakeIptables();
        await using var services = Services(fake);
        using var commands = Collect<long>(services, NatMapTelemetry.CommandsInstrument);
        using var rules = Collect<long>(services, NatMapTelemetry.RuleChangesInstrument);
        using var durations = Collect<double>(services, NatMapTelemetry.OperationDurationInstrument);
        var manager = services.GetRequiredService<IIptablesManager>();

        await manager.SetupAsync(Ct);
        await manager.InstallDockerMapAsync(Web, Ct);
        await manager.RemoveDockerMapAsync(Web, Ct);

        commands.GetMeasurementSnapshot().Sum(m => m.Value).Should().Be(fake.Processes.Count);
        commands.GetMeasurementSnapshot().Should().Contain(m => (string?)m.Tags["natmap.program"] == "iptables-restore" && (string?)m.Tags["natmap.exit_code"] == "0");
        var added = rules.GetMeasurementSnapshot().Where(m => (string?)m.Tags["natmap.change"] == "add").ToList();
        added.Should().OnlyContain(m => (string?)m.Tags["natmap.family"] == "ipv4");
        // A lone mapping is three rules, in three buckets (nat by host port, filter and the hairpin by container port),
        // each reached by two jumps (root to group, group to bucket): the install adds 3 + 6 rules and the removal,
        // which leaves every bucket and group empty, deletes them all. Chains made and deleted (-N/-X) are not rules.
        const int dispatchJumps = 3 * 2;
        rules.GetMeasurementSnapshot().Where(m => (string?)m.Tags["natmap.change"] == "delete").Sum(m => m.Value).Should().Be(3 + dispatchJumps, "a mapping is three rules and six jumps");
        added.Sum(m => m.Value).Should().Be(3 + dispatchJumps + fake.Save().Split('\n').Count(l => l.Contains("natmap:setup", StringComparison.Ordinal)));
        fake.Save().Should().NotContain("natmap:setup:bucket", "the removal deleted every jump");
        durations.GetMeasurementSnapshot().Select(m => ((string?)m.Tags["natmap.operation"], (string?)m.Tags["natmap.outcome"]))
            .Should().Equal(("Setup", "success"), ("InstallDockerMap", "success"), ("RemoveDockerMap", "success"));
        durations.GetMeasurementSnapshot().Should().OnlyContain(m => m.Value >= 0);
    }

    [Fact]
    public async Task FailedCommand_IsCountedByExitCode_AndTheOperationAsAFailure()
    {
        var fake = new FakeIptables();
        await using var services = Services(fake);
        using var failures = Collect<long>(services, NatMapTelemetry.CommandFailuresInstrument);
        using var durations = Collect<double>(services, NatMapTelemetry.OperationDurationInstrument);
        var manager = services.GetRequiredService<IIptablesManager>();
        await manager.SetupAsync(Ct);
        fake.Script.FailWhen(CommandMatch.Program("iptables-restore"), 4, "Another app is currently holding the xtables lock.", times: 1);

        var install = () => manager.InstallDockerMapAsync(Web, Ct);

        await install.Should().ThrowAsync<IptablesCommandException>();
        failures.GetMeasurementSnapshot().Should().ContainSingle()
            .Which.Tags.Should().Contain(new KeyValuePair<string, object?>("natmap.exit_code", "4"))
            .And.Contain(new KeyValuePair<string, object?>("natmap.program", "iptables-restore"));
        durations.LastMeasurement!.Tags.Should().Contain(new KeyValuePair<string, object?>("natmap.operation", "InstallDockerMap"))
            .And.Contain(new KeyValuePair<string, object?>("natmap.outcome", "failure"));
    }

    [Fact]
    public async Task Operations_AreActivities_WithAChildPerProcess()
    {
        // The listener hears every manager of the process, so the test keeps only its own trace: the library's
        // activities start under this test's parent activity (another class's Setup runs in other traces).
        using var testSource = new ActivitySource($"{nameof(TelemetryTests)}.{Guid.NewGuid():N}");
        var stopped = new List<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == NatMapTelemetry.Name || source.Name == testSource.Name,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = activity => { lock (stopped) { stopped.Add(activity); } },
        };
        ActivitySource.AddActivityListener(listener);
        var fake = new FakeIptables();
        var manager = new IptablesManager(fake, new NatMapOptions { EnableIpv6 = false, ChainName = "TRACED" });

        ActivityTraceId trace;
        using (var parent = testSource.StartActivity("test") ?? throw new InvalidOperationException("The listener did not sample the test's activity."))
        {
            trace = parent.TraceId;
            await manager.SetupAsync(Ct);
        }

        List<Activity> mine;
        lock (stopped)
        {
            mine = stopped.Where(a => a.TraceId == trace && a.OperationName == "Setup").ToList();
        }

        var setup = mine.Should().ContainSingle().Subject;
        lock (stopped)
        {
            stopped.Where(a => a.ParentSpanId == setup.SpanId).Select(a => a.OperationName).Should().Contain(["sysctl", "iptables-save", "iptables-restore"]);
        }
    }
}
