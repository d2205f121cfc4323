using System.Diagnostics.Metrics;

namespace NatMap.Iptables.Hosting.Internal;

/// <summary>The hosted sync's instruments, on the manager's meter (see <see cref="NatMapHostingTelemetry"/>).</summary>
internal sealed class HostingTelemetry
{
    // The core's version: a DI meter factory hands back the manager's own Meter for the same name and version.
    private static readonly string? Version = typeof(NatMapTelemetry).Assembly.GetName().Version?.ToString();

    private static readonly Meter SharedMeter = new(NatMapTelemetry.Name, Version);

    private readonly Histogram<double> _duration;
    private readonly Counter<long> _syncs;
    private readonly Counter<long> _repairs;

    public HostingTelemetry(IMeterFactory? meterFactory)
    {
        var meter = meterFactory?.Create(NatMapTelemetry.Name, Version) ?? SharedMeter;
        _duration = meter.CreateHistogram<double>(NatMapHostingTelemetry.SyncDurationInstrument, "s", "Duration of each hosted sync, from reading the source to the host matching it.");
        _syncs = meter.CreateCounter<long>(NatMapHostingTelemetry.SyncsInstrument, "{sync}", "Hosted syncs of the desired state, by outcome and trigger.");
        _repairs = meter.CreateCounter<long>(NatMapHostingTelemetry.RepairsInstrument, "{repair}", "Checks that found the library's chains or jumps gone and put the state back.");
    }

    public void Synced(SyncTrigger trigger, SyncOutcome outcome, TimeSpan elapsed)
    {
        var outcomeTag = new KeyValuePair<string, object?>("natmap.outcome", Name(outcome));
        _syncs.Add(1, outcomeTag, new KeyValuePair<string, object?>("natmap.trigger", Name(trigger)));
        _duration.Record(elapsed.TotalSeconds, outcomeTag);
    }

    public void Repaired() => _repairs.Add(1);

    private static string Name(SyncOutcome outcome) => outcome switch
    {
        SyncOutcome.Success => "success",
        SyncOutcome.Rejected => "rejected",
        SyncOutcome.Unreachable => "unreachable",
        _ => "failure",
    };

    private static string Name(SyncTrigger trigger) => trigger switch
    {
        SyncTrigger.Start => "start",
        SyncTrigger.Change => "change",
        _ => "retry",
    };
}
