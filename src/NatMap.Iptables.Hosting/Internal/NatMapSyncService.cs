using System.Threading.Channels;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;

namespace NatMap.Iptables.Hosting.Internal;

/// <summary>
/// The hosted sync: Setup and a sync at start, a debounced sync after each change of the source, the monitor's check
/// at each interval, all from one loop so that no two ever run at once.
/// </summary>
internal sealed class NatMapSyncService : IHostedService, IDisposable
{
    // One pending signal is enough: a sync reads the latest state, whatever changed before it.
    private readonly Channel<bool> _signals = Channel.CreateBounded<bool>(
        new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });

    private readonly IIptablesManager _manager;
    private readonly INatMapStateSource _source;
    private readonly NatMapHostedSyncOptions _options;
    private readonly SyncStatus _status;
    private readonly HostingTelemetry _telemetry;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly NatMapMonitor _monitor;
    private readonly bool _ipv6;
    private IDisposable? _subscription;
    private CancellationTokenSource? _stopping;
    private Task? _loop;
    private NatMapState? _lastGood;
    private bool _retry;
    private long _parked;

    public NatMapSyncService(
        IIptablesManager manager,
        INatMapStateSource source,
        IOptions<NatMapHostedSyncOptions> options,
        SyncStatus status,
        HostingTelemetry telemetry,
        NatMapOptions? managerOptions = null,
        TimeProvider? time = null,
        ILoggerFactory? loggerFactory = null)
    {
        _ipv6 = managerOptions?.EnableIpv6 ?? true;
        _manager = manager;
        _source = source;
        _options = options.Value;
        _status = status;
        _telemetry = telemetry;
        _time = time ?? TimeProvider.System;
        _logger = loggerFactory?.CreateLogger<NatMapSyncService>() ?? (ILogger)NullLogger.Instance;

        // Checked from this service's loop, on its clock, rather than through the monitor's own timer.
        _monitor = new NatMapMonitor(
            manager,
            () => Volatile.Read(ref _lastGood) ?? new NatMapState(),
            new NatMapMonitorOptions { Interval = _options.CheckInterval, FullSyncEvery = _options.FullSyncEvery },
            loggerFactory?.CreateLogger<NatMapMonitor>(),
            _time);
    }

    /// <summary>Gets how many times the loop has parked, waiting for a change or the next check (for tests to step a fake clock).</summary>
    internal long Parked => Interlocked.Read(ref _parked);

    /// <summary>Gets the state the host was last synced to, or <see langword="null"/> before the first good one.</summary>
    public NatMapState? LastGood => Volatile.Read(ref _lastGood);

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        // Subscribed before the first read, so a change during it is not missed.
        _subscription = ChangeToken.OnChange(_source.GetReloadToken, () => _signals.Writer.TryWrite(true));
        await ApplyAsync(SyncTrigger.Start, cancellationToken).ConfigureAwait(false);
        _stopping = new CancellationTokenSource();
        var stopping = _stopping.Token;
        _loop = Task.Run(() => LoopAsync(stopping), CancellationToken.None);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        _subscription?.Dispose();
        if (_stopping is not null && _loop is not null)
        {
            await _stopping.CancelAsync().ConfigureAwait(false);
            try
            {
                await _loop.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // The loop ended by cancellation, or the host stopped waiting for it.
            }
        }

        if (_options.FlushOnStop)
        {
            await _manager.FlushAllAsync(cancellationToken).ConfigureAwait(false);
            HostingLog.Flushed(_logger);
        }
        else
        {
            HostingLog.LeavingRules(_logger);
        }
    }

    public void Dispose()
    {
        _subscription?.Dispose();
        _stopping?.Dispose();
    }

    private async Task LoopAsync(CancellationToken stopping)
    {
        try
        {
            while (!stopping.IsCancellationRequested)
            {
                if (await WaitForSignalAsync(stopping).ConfigureAwait(false))
                {
                    await DebounceAsync(stopping).ConfigureAwait(false);
                    await ApplyAsync(SyncTrigger.Change, stopping).ConfigureAwait(false);
                }
                else
                {
                    // The check first, so the last good state is repaired even while the source is down.
                    await CheckAsync(stopping).ConfigureAwait(false);
                    if (_retry)
                    {
                        await ApplyAsync(SyncTrigger.Retry, stopping).ConfigureAwait(false);
                    }
                }
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            // Stopped.
        }
    }

    /// <summary>Waits for a change signal (<see langword="true"/>) or the next check interval (<see langword="false"/>).</summary>
    private async Task<bool> WaitForSignalAsync(CancellationToken stopping)
    {
        if (_signals.Reader.TryRead(out _))
        {
            return true;
        }

        using var either = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        var signal = _signals.Reader.WaitToReadAsync(either.Token).AsTask();
        var tick = Task.Delay(_options.CheckInterval, _time, either.Token);
        _ = Interlocked.Increment(ref _parked);
        _ = await Task.WhenAny(signal, tick).ConfigureAwait(false);
        await either.CancelAsync().ConfigureAwait(false);
        stopping.ThrowIfCancellationRequested();
        return _signals.Reader.TryRead(out _);
    }

    /// <summary>Waits until the source has been quiet for the debounce time (at most ten times over, so a chatty source still syncs).</summary>
    private async Task DebounceAsync(CancellationToken stopping)
    {
        if (_options.Debounce == TimeSpan.Zero)
        {
            return;
        }

        for (var round = 0; round < 10; round++)
        {
            await Task.Delay(_options.Debounce, _time, stopping).ConfigureAwait(false);
            if (!_signals.Reader.TryRead(out _))
            {
                return;
            }
        }
    }

    /// <summary>Reads the source and syncs the host to it; keeps the last good state when the read or the sync fails.</summary>
    private async Task ApplyAsync(SyncTrigger trigger, CancellationToken cancellationToken)
    {
        var started = _time.GetTimestamp();
        var outcome = SyncOutcome.Failure;
        string? error = null;
        try
        {
            if (trigger == SyncTrigger.Start)
            {
                // Chains, jumps and the loopback guard, even when the source cannot be read yet.
                await _manager.SetupAsync(cancellationToken).ConfigureAwait(false);
            }

            NatMapState desired;
            try
            {
                desired = await _source.ReadAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (NatMapStateException exception)
            {
                outcome = SyncOutcome.Rejected;
                error = exception.Message;
                HostingLog.Rejected(_logger, _source.Description, exception.Message);
                return;
            }
            catch (Exception exception) when (exception is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                outcome = SyncOutcome.Unreachable;
                error = exception.Message;
                HostingLog.Unreachable(_logger, _source.Description, exception);
                return;
            }

            if (!_ipv6 && FirstIpv6(desired) is { } ipv6)
            {
                // The manager would refuse it too, but with the exception it uses for a failure of its own.
                outcome = SyncOutcome.Rejected;
                error = $"{ipv6} is IPv6, but IPv6 is disabled on this host (NatMapOptions.EnableIpv6 is false).";
                HostingLog.Rejected(_logger, _source.Description, error);
                return;
            }

            try
            {
                await _manager.SyncAsync(desired, cancellationToken).ConfigureAwait(false);
            }
            catch (ArgumentException exception)
            {
                // Valid as a document but not on this host (an IPv6 object with IPv6 off, ...): nothing has run.
                outcome = SyncOutcome.Rejected;
                error = exception.Message;
                HostingLog.Rejected(_logger, _source.Description, exception.Message);
                return;
            }

            Volatile.Write(ref _lastGood, desired);
            outcome = SyncOutcome.Success;
            HostingLog.Synced(_logger, _source.Description, trigger, desired.DockerMaps.Count, desired.Dnats.Count, desired.Snats.Count, desired.Hairpins.Count);
        }
        catch (Exception exception) when (exception is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            outcome = SyncOutcome.Failure;
            error = exception.Message;
            HostingLog.SyncFailed(_logger, _source.Description, trigger, exception);
        }
        finally
        {
            if (!cancellationToken.IsCancellationRequested)
            {
                // A rejected state is not retried until the source changes again; the others are, at each interval.
                _retry = outcome is SyncOutcome.Unreachable or SyncOutcome.Failure;
                _telemetry.Synced(trigger, outcome, _time.GetElapsedTime(started));
                _status.Synced(outcome, _time.GetUtcNow(), error);
            }
        }
    }

    private static object? FirstIpv6(NatMapState state) =>
        (object?)state.DockerMaps.FirstOrDefault(static m => m.IsIPv6)
        ?? (object?)state.Dnats.FirstOrDefault(static d => d.IsIPv6)
        ?? (object?)state.Snats.FirstOrDefault(static s => s.IsIPv6)
        ?? state.Hairpins.FirstOrDefault(static h => h.IsIPv6);

    private async Task CheckAsync(CancellationToken stopping)
    {
        if (Volatile.Read(ref _lastGood) is null)
        {
            return;
        }

        try
        {
            var repaired = await _monitor.CheckAsync(stopping).ConfigureAwait(false);
            if (repaired)
            {
                _telemetry.Repaired();
                HostingLog.Repaired(_logger);
            }

            _status.Checked(repaired, _time.GetUtcNow(), error: null);
        }
        catch (Exception exception) when (exception is not OperationCanceledException || !stopping.IsCancellationRequested)
        {
            _status.Checked(repaired: false, _time.GetUtcNow(), exception.Message);
            HostingLog.CheckFailed(_logger, exception);
        }
    }
}
