using System.Globalization;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using NatMap.Iptables.Hosting.Internal;

namespace NatMap.Iptables.Hosting;

/// <summary>
/// Reports how the hosted sync is keeping the host at its desired state. Registered by <c>AddNatMapHostedSync</c>; add
/// it to health checks with <c>services.AddHealthChecks().AddCheck&lt;NatMapHealthCheck&gt;("natmap")</c>.
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item><description><see cref="HealthStatus.Healthy"/>: the last sync succeeded and no repair is pending.</description></item>
/// <item><description><see cref="HealthStatus.Degraded"/>: the latest state from the source was rejected, or the source is unreachable; the last good state stays applied. Also before the first sync.</description></item>
/// <item><description><see cref="HealthStatus.Unhealthy"/>: the latest sync or check failed (the host may not match the last good state; a repair is pending).</description></item>
/// </list>
/// <para>The result's data carries <c>syncs</c>, <c>failures</c>, <c>rejections</c>, <c>unreachable</c>,
/// <c>checks</c>, <c>repairs</c> and <c>consecutiveFailures</c> (counts since start), <c>lastSync</c> and
/// <c>lastCheck</c> (round-trip time strings), <c>repairPending</c>, <c>source</c>, and the latest error when there
/// is one.</para>
/// </remarks>
public sealed class NatMapHealthCheck : IHealthCheck
{
    private readonly SyncStatus _status;
    private readonly string _source;

    internal NatMapHealthCheck(SyncStatus status, INatMapStateSource source)
    {
        _status = status;
        _source = source.Description;
    }

    /// <summary>Reports the hosted sync's status.</summary>
    /// <param name="context">The health check context; unused.</param>
    /// <param name="cancellationToken">Unused: the check reads only memory.</param>
    /// <returns>The result, with the counts and times in its data.</returns>
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var s = _status.Current;
        var data = new Dictionary<string, object>
        {
            ["source"] = _source,
            ["syncs"] = s.Syncs,
            ["failures"] = s.Failures,
            ["rejections"] = s.Rejections,
            ["unreachable"] = s.Unreachable,
            ["checks"] = s.Checks,
            ["repairs"] = s.Repairs,
            ["consecutiveFailures"] = s.ConsecutiveFailures,
            ["repairPending"] = s.RepairPending,
        };
        if (s.LastSync is { } lastSync)
        {
            data["lastSync"] = lastSync.ToString("O", CultureInfo.InvariantCulture);
        }

        if (s.LastCheck is { } lastCheck)
        {
            data["lastCheck"] = lastCheck.ToString("O", CultureInfo.InvariantCulture);
        }

        if (s.LastError is not null)
        {
            data["lastError"] = s.LastError;
        }

        if (s.SourceError is not null)
        {
            data["sourceError"] = s.SourceError;
        }

        var result = s switch
        {
            { Failing: true } => HealthCheckResult.Unhealthy(
                $"NAT syncs are failing ({s.ConsecutiveFailures} in a row): {s.LastError}", data: data),
            { SourceProblem: SyncOutcome.Rejected } => HealthCheckResult.Degraded(
                $"The desired state from {_source} was rejected; the last good state stays applied: {s.SourceError}", data: data),
            { SourceProblem: SyncOutcome.Unreachable } => HealthCheckResult.Degraded(
                $"{_source} is unreachable; the last good state stays applied: {s.SourceError}", data: data),
            { LastSync: null } => HealthCheckResult.Degraded($"No desired state from {_source} has been applied yet.", data: data),
            _ => HealthCheckResult.Healthy($"The host matches the desired state from {_source}.", data: data),
        };
        return Task.FromResult(result);
    }
}
