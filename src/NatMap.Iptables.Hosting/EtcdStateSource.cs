using dotnet_etcd;
using Etcdserverpb;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Primitives;
using NatMap.Iptables.Hosting.Internal;

namespace NatMap.Iptables.Hosting;

/// <summary>
/// The desired state of one host from one etcd key, holding a JSON document in the format of
/// <see cref="NatMapStateJson"/>: read once, then watched, through dotnet-etcd over gRPC.
/// </summary>
/// <remarks>
/// <para>A lost connection (etcd stopped, restarted, or out of reach) makes the source unreachable, so the hosted sync
/// keeps the last good state applied and reports itself degraded. The source reconnects with exponential backoff
/// (<see cref="EtcdStateSourceOptions.MinReconnectDelay"/> doubling up to
/// <see cref="EtcdStateSourceOptions.MaxReconnectDelay"/>, cycling through the endpoints), reads the key again, since
/// changes made while it was away are not replayed, and signals a change.</para>
/// <para>A key that does not exist rejects the state, and the last good state stays applied: deleting a host's key
/// never removes its mappings. Put <c>{}</c> there to remove them.</para>
/// <para>The source only reads. The library coordinates nothing across hosts: each host follows its own key, and
/// whoever writes the keys decides what each host publishes.</para>
/// </remarks>
public sealed class EtcdStateSource : INatMapStateSource, IAsyncDisposable, IDisposable
{
    private readonly Uri[] _endpoints;
    private readonly string _key;
    private readonly TimeSpan _requestTimeout;
    private readonly TimeSpan _minDelay;
    private readonly TimeSpan _maxDelay;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly ChangeSignal _signal = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource _answered = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly GrpcChannel?[] _channels;
    private Reading _reading = new(Value: null, Error: "no answer from etcd yet");
    private Task? _loop;
    private int _started;

    /// <summary>Initializes a new instance. Nothing connects until the first read or watch.</summary>
    /// <param name="options">The endpoints, the key and the timings; copied.</param>
    /// <param name="logger">Receives connection losses and watch starts; <see langword="null"/> for none.</param>
    /// <param name="timeProvider">The clock for reconnection delays; <see langword="null"/> for the system clock.</param>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">No endpoint, an endpoint that is not an absolute http or https URL, or an empty key.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A timing is not positive, or the maximum delay is below the minimum.</exception>
    public EtcdStateSource(EtcdStateSourceOptions options, ILogger<EtcdStateSource>? logger = null, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Endpoints.Count == 0)
        {
            throw new ArgumentException("EtcdStateSourceOptions.Endpoints needs at least one etcd client URL, such as http://127.0.0.1:2379.", nameof(options));
        }

        foreach (var endpoint in options.Endpoints)
        {
            if (endpoint is null || !endpoint.IsAbsoluteUri || (endpoint.Scheme != Uri.UriSchemeHttp && endpoint.Scheme != Uri.UriSchemeHttps))
            {
                throw new ArgumentException($"The etcd endpoint '{endpoint}' is not an absolute http or https URL.", nameof(options));
            }
        }

        if (string.IsNullOrWhiteSpace(options.Key))
        {
            throw new ArgumentException("EtcdStateSourceOptions.Key is required: the key that holds this host's desired state.", nameof(options));
        }

        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(options.RequestTimeout, TimeSpan.Zero, "options.RequestTimeout");
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(options.MinReconnectDelay, TimeSpan.Zero, "options.MinReconnectDelay");
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxReconnectDelay, options.MinReconnectDelay, "options.MaxReconnectDelay");
        _endpoints = [.. options.Endpoints];
        _channels = new GrpcChannel?[_endpoints.Length];
        _key = options.Key;
        _requestTimeout = options.RequestTimeout;
        _minDelay = options.MinReconnectDelay;
        _maxDelay = options.MaxReconnectDelay;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        _time = timeProvider ?? TimeProvider.System;
        Description = $"etcd key {_key} at {string.Join(",", _endpoints.Select(static e => e.ToString()))}";
    }

    /// <inheritdoc/>
    public string Description { get; }

    /// <summary>Gets a value indicating whether the last read or watch of the key succeeded and its connection is up.</summary>
    public bool IsConnected => Volatile.Read(ref _reading).Error is null;

    /// <inheritdoc/>
    /// <remarks>The first read waits for the first answer from etcd, up to twice <see cref="EtcdStateSourceOptions.RequestTimeout"/>; later reads return what the watch last delivered, or fail while the connection is down.</remarks>
    public async ValueTask<NatMapState> ReadAsync(CancellationToken cancellationToken)
    {
        EnsureStarted();
        try
        {
            await _answered.Task.WaitAsync(_requestTimeout * 2, _time, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"etcd did not answer within {_requestTimeout * 2} ({Description}).");
        }

        var reading = Volatile.Read(ref _reading);
        if (reading.Error is not null)
        {
            throw new InvalidOperationException($"etcd is unreachable ({Description}): {reading.Error}");
        }

        return reading.Value is null
            ? throw new NatMapStateException([new NatMapStateError("$", $"The etcd key '{_key}' does not exist. Put this host's desired state there ({{}} for no mappings); until then the last good state stays applied.")])
            : StateFormat.Parse(reading.Value);
    }

    /// <inheritdoc/>
    public IChangeToken GetReloadToken()
    {
        EnsureStarted();
        return _signal.Token;
    }

    /// <summary>Stops watching and closes the connections.</summary>
    /// <returns>A task that completes when the watch has stopped.</returns>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_loop is not null)
        {
            try
            {
                await _loop.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // Stopped.
            }
        }

        foreach (var channel in _channels)
        {
            channel?.Dispose();
        }

        _stop.Dispose();
    }

    /// <summary>Stops watching and closes the connections.</summary>
    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    private void EnsureStarted()
    {
        if (Interlocked.Exchange(ref _started, 1) == 0)
        {
            var stop = _stop.Token;
            _loop = Task.Run(() => WatchLoopAsync(stop), CancellationToken.None);
        }
    }

    private void Publish(Reading reading)
    {
        var previous = Interlocked.Exchange(ref _reading, reading);
        // The first answer is what the first read waits for, so it is no change; a read that gave up waiting counted
        // the source as unreachable, and the hosted sync retries those at each check interval.
        var first = _answered.TrySetResult();
        if (!first && previous != reading)
        {
            _signal.Fire();
        }
    }

    /// <summary>Reads the key, watches it from the next revision, and on any failure waits and starts again.</summary>
    private async Task WatchLoopAsync(CancellationToken stop)
    {
        var delay = _minDelay;
        var next = 0;
        while (!stop.IsCancellationRequested)
        {
            var index = next;
            try
            {
                var channel = _channels[index] ??= CreateChannel(_endpoints[index]);
                var client = new EtcdClient(channel.CreateCallInvoker());
                var keyBytes = ByteString.CopyFromUtf8(_key);
                var range = await client.GetAsync(new RangeRequest { Key = keyBytes }, deadline: DateTime.UtcNow + _requestTimeout, cancellationToken: stop).ConfigureAwait(false);
                Publish(new Reading(range.Kvs.Count > 0 ? range.Kvs[0].Value.ToStringUtf8() : null, Error: null));
                delay = _minDelay;
                HostingLog.EtcdWatching(_logger, _key, _endpoints[index].ToString(), range.Header.Revision + 1);

                using var watch = new Watch.WatchClient(channel).Watch(cancellationToken: stop);
                await watch.RequestStream.WriteAsync(new WatchRequest
                {
                    CreateRequest = new WatchCreateRequest { Key = keyBytes, StartRevision = range.Header.Revision + 1 },
                }, stop).ConfigureAwait(false);
                var resync = false;
                await foreach (var response in watch.ResponseStream.ReadAllAsync(stop).ConfigureAwait(false))
                {
                    if (response.Canceled || response.CompactRevision != 0)
                    {
                        resync = true; // the watch cannot go on from where it was (compacted): read the key again
                        break;
                    }

                    foreach (var change in response.Events)
                    {
                        Publish(new Reading(change.Type == Mvccpb.Event.Types.EventType.Put ? change.Kv.Value.ToStringUtf8() : null, Error: null));
                    }
                }

                if (resync)
                {
                    continue;
                }

                throw new RpcException(new Status(StatusCode.Unavailable, "The watch stream ended."));
            }
            catch (Exception) when (stop.IsCancellationRequested)
            {
                return; // disposed: gRPC reports the cancellation as RpcException(Cancelled), not as OperationCanceledException
            }
            catch (Exception exception)
            {
                Publish(new Reading(Volatile.Read(ref _reading).Value, exception is RpcException rpc ? $"{rpc.StatusCode}: {rpc.Status.Detail}" : exception.Message));
                HostingLog.EtcdUnreachable(_logger, _endpoints[index].ToString(), delay, exception);
                next = (index + 1) % _endpoints.Length;
            }

            try
            {
                await Task.Delay(delay, _time, stop).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, _maxDelay.Ticks));
        }
    }

    private GrpcChannel CreateChannel(Uri endpoint) => GrpcChannel.ForAddress(endpoint, new GrpcChannelOptions
    {
        HttpHandler = new SocketsHttpHandler
        {
            // Notice a peer that vanished without closing the connection (a partition, a powered-off host).
            KeepAlivePingDelay = TimeSpan.FromSeconds(10),
            KeepAlivePingTimeout = _requestTimeout,
            KeepAlivePingPolicy = HttpKeepAlivePingPolicy.Always,
            ConnectTimeout = _requestTimeout,
            EnableMultipleHttp2Connections = true,
        },
        InitialReconnectBackoff = _minDelay,
        MaxReconnectBackoff = _maxDelay,
    });

    /// <summary>What the source last knew: the key's value (<see langword="null"/> when absent), or why it cannot tell.</summary>
    private sealed record Reading(string? Value, string? Error);
}
