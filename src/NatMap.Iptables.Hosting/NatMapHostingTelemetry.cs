namespace NatMap.Iptables.Hosting;

/// <summary>
/// The instruments the hosted sync adds to the <see cref="NatMapTelemetry.Name"/> meter (the one the manager reports
/// on), for OpenTelemetry or <c>dotnet-counters</c>.
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item><description><see cref="SyncDurationInstrument"/>: seconds from reading the source to the host matching it, tagged <c>natmap.outcome</c>.</description></item>
/// <item><description><see cref="SyncsInstrument"/>: reads and syncs of the desired state, tagged <c>natmap.outcome</c> (<c>success</c>; <c>rejected</c>: the state failed validation; <c>unreachable</c>: the source could not be read; <c>failure</c>: the sync failed) and <c>natmap.trigger</c> (<c>start</c>, <c>change</c>, <c>retry</c>).</description></item>
/// <item><description><see cref="RepairsInstrument"/>: checks that found the library's chains or jumps gone and put the last good state back.</description></item>
/// </list>
/// </remarks>
public static class NatMapHostingTelemetry
{
    /// <summary>Histogram of hosted sync durations, in seconds.</summary>
    public const string SyncDurationInstrument = "natmap.iptables.hosted.sync.duration";

    /// <summary>Counter of hosted syncs, by outcome and trigger.</summary>
    public const string SyncsInstrument = "natmap.iptables.hosted.syncs";

    /// <summary>Counter of repairs after another tool removed the library's chains or jumps.</summary>
    public const string RepairsInstrument = "natmap.iptables.hosted.repairs";
}
