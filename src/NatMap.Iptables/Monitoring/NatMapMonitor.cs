using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace NatMap.Iptables;

/// <summary>
/// Notices when another tool wipes the library's rules (a firewalld reload, a Docker restart, an admin's
/// <c>iptables -F</c>) and puts the desired state back. Opt-in: create one and run <see cref="RunAsync"/>, for example
/// from a hosted service, or call <see cref="CheckAsync"/> on a schedule of your own.
/// </summary>
/// <remarks>
/// Like kube-proxy's canary chains, each check is cheap: <see cref="IIptablesManager.CountMissingSetupAsync"/> (one
/// <c>iptables-save</c> per family with <see cref="IptablesManager"/>) looks for what Setup makes (the library's chains
/// and the jumps into them). When any of it is gone, the monitor runs
/// <see cref="IIptablesManager.SyncAsync"/> with the desired state, which restores Setup and every object in one
/// restore per family. Every <see cref="NatMapMonitorOptions.FullSyncEvery"/> checks it syncs anyway, which also puts
/// back single rules deleted behind its back. A repair therefore lands within one interval plus one sync.
/// </remarks>
public sealed class NatMapMonitor
{
    private readonly IIptablesManager _manager;
    private readonly Func<NatMapState> _desired;
    private readonly NatMapMonitorOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _timeProvider;
    private long _checks;
    private long _repairs;

    /// <summary>Initializes a new instance.</summary>
    /// <param name="manager">The manager whose rules to watch.</param>
    /// <param name="desired">Returns the state to put back (read at each repair, so it may change over time).</param>
    /// <param name="options">The interval and the full-sync period; <see langword="null"/> for the defaults.</param>
    /// <param name="logger">Receives a warning for each repair; <see langword="null"/> for none.</param>
    /// <param name="timeProvider">The clock <see cref="RunAsync"/> waits on between checks; <see langword="null"/> for <c>TimeProvider.System</c>.</param>
    /// <exception cref="ArgumentNullException"><paramref name="manager"/> or <paramref name="desired"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The interval is not positive, or <see cref="NatMapMonitorOptions.FullSyncEvery"/> is less than 1.</exception>
    public NatMapMonitor(IIptablesManager manager, Func<NatMapState> desired, NatMapMonitorOptions? options = null, ILogger<NatMapMonitor>? logger = null, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(manager);
        ArgumentNullException.ThrowIfNull(desired);
        options ??= new NatMapMonitorOptions();
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(options.Interval, TimeSpan.Zero, "options.Interval");
        ArgumentOutOfRangeException.ThrowIfLessThan(options.FullSyncEvery, 1, "options.FullSyncEvery");
        _manager = manager;
        _desired = desired;
        _options = new NatMapMonitorOptions { Interval = options.Interval, FullSyncEvery = options.FullSyncEvery };
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        _timeProvider = timeProvider ?? TimeProvider.System;
    }

    /// <summary>Gets how many times a check found Setup's chains or jumps gone and put the desired state back.</summary>
    public long Repairs => Interlocked.Read(ref _repairs);

    /// <summary>Checks once, and syncs when something is gone (or when a full sync is due).</summary>
    /// <param name="cancellationToken">Cancels the check.</param>
    /// <returns><see langword="true"/> when the check found the library's chains or jumps gone and repaired them.</returns>
    public async Task<bool> CheckAsync(CancellationToken cancellationToken = default)
    {
        var check = Interlocked.Increment(ref _checks);
        var missing = await _manager.CountMissingSetupAsync(cancellationToken).ConfigureAwait(false);
        if (missing == 0 && check % _options.FullSyncEvery != 0)
        {
            return false;
        }

        if (missing > 0)
        {
            Internal.Log.Repairing(_logger, missing);
        }

        await _manager.SyncAsync(_desired(), cancellationToken).ConfigureAwait(false);
        if (missing == 0)
        {
            return false;
        }

        _ = Interlocked.Increment(ref _repairs);
        return true;
    }

    /// <summary>
    /// Checks every <see cref="NatMapMonitorOptions.Interval"/> (on the constructor's <c>timeProvider</c>) until
    /// <paramref name="cancellationToken"/> is cancelled, then returns. A failed check is logged and retried at the next
    /// interval.
    /// </summary>
    /// <param name="cancellationToken">Stops the monitor.</param>
    /// <returns>A task that completes when the monitor stops.</returns>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(_options.Interval, _timeProvider);
        try
        {
            do
            {
                try
                {
                    _ = await CheckAsync(cancellationToken).ConfigureAwait(false);
                }
                catch (Exception exception) when (exception is not OperationCanceledException)
                {
                    Internal.Log.CheckFailed(_logger, exception);
                }
            }
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false));
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Stopped.
        }
    }
}
