using Microsoft.Extensions.Primitives;
using NatMap.Iptables.Hosting;
using NatMap.Iptables.Hosting.Internal;

namespace NatMap.Iptables.Tests.Hosting;

/// <summary>A state source the test drives: the state or the failure to return, change signals, and a gate to hold reads.</summary>
internal sealed class FakeStateSource : INatMapStateSource
{
    private readonly ChangeSignal _signal = new();
    private int _inFlight;
    private int _maxInFlight;
    private int _reads;

    public NatMapState State { get; set; } = new();

    /// <summary>Gets or sets what the next reads throw instead of returning <see cref="State"/>.</summary>
    public Exception? Failure { get; set; }

    /// <summary>Gets or sets a gate every read waits on, to hold a read in flight.</summary>
    public TaskCompletionSource? Gate { get; set; }

    public int Reads => Volatile.Read(ref _reads);

    public int MaxInFlight => Volatile.Read(ref _maxInFlight);

    public string Description => "fake source";

    public void Change() => _signal.Fire();

    public async ValueTask<NatMapState> ReadAsync(CancellationToken cancellationToken)
    {
        var now = Interlocked.Increment(ref _inFlight);
        int max;
        while (now > (max = Volatile.Read(ref _maxInFlight)) && Interlocked.CompareExchange(ref _maxInFlight, now, max) != max)
        {
        }

        try
        {
            _ = Interlocked.Increment(ref _reads);
            if (Gate is { } gate)
            {
                await gate.Task.WaitAsync(cancellationToken);
            }

            return Failure is { } failure ? throw failure : State;
        }
        finally
        {
            _ = Interlocked.Decrement(ref _inFlight);
        }
    }

    public IChangeToken GetReloadToken() => _signal.Token;
}
