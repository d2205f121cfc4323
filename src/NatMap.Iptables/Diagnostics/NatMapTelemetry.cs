namespace NatMap.Iptables;

/// <summary>
/// The names under which <see cref="IptablesManager"/> reports what it does, for OpenTelemetry or
/// <c>dotnet-counters</c>: one <see cref="System.Diagnostics.Metrics.Meter"/> and one
/// <see cref="System.Diagnostics.ActivitySource"/>, both named <see cref="Name"/>.
/// </summary>
/// <remarks>
/// <para>Instruments:</para>
/// <list type="bullet">
/// <item><description><see cref="CommandsInstrument"/>: processes run, tagged <c>natmap.program</c> (for example <c>iptables-restore</c>) and <c>natmap.exit_code</c>.</description></item>
/// <item><description><see cref="CommandFailuresInstrument"/>: processes that exited non-zero or could not run, tagged <c>natmap.program</c> and <c>natmap.exit_code</c> (<c>-1</c> when the process did not finish: timeout, cancellation, not installed).</description></item>
/// <item><description><see cref="OperationDurationInstrument"/>: seconds per operation, tagged <c>natmap.operation</c> (<c>Setup</c>, <c>InstallDockerMap</c>, <c>Sync</c>, …) and <c>natmap.outcome</c> (<c>success</c> or <c>failure</c>).</description></item>
/// <item><description><see cref="RuleChangesInstrument"/>: rules added or deleted, tagged <c>natmap.family</c> (<c>ipv4</c>, <c>ipv6</c>) and <c>natmap.change</c> (<c>add</c>, <c>delete</c>).</description></item>
/// </list>
/// <para>Each operation is an activity named after it, and each process a child activity named after its program.</para>
/// </remarks>
public static class NatMapTelemetry
{
    /// <summary>The name of the meter and of the activity source: <c>NatMap.Iptables</c>.</summary>
    public const string Name = "NatMap.Iptables";

    /// <summary>Counter of processes run.</summary>
    public const string CommandsInstrument = "natmap.iptables.commands";

    /// <summary>Counter of processes that failed.</summary>
    public const string CommandFailuresInstrument = "natmap.iptables.command.failures";

    /// <summary>Histogram of operation durations, in seconds.</summary>
    public const string OperationDurationInstrument = "natmap.iptables.operation.duration";

    /// <summary>Counter of rules added or deleted.</summary>
    public const string RuleChangesInstrument = "natmap.iptables.rule.changes";
}
