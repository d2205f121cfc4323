using Microsoft.Extensions.Primitives;

namespace NatMap.Iptables.Hosting.Internal;

/// <summary>A change token that is swapped for a fresh one each time it fires, as configuration's reload token is.</summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "A source without a timer holds nothing to dispose, and a fired one may still be read.")]
internal sealed class ChangeSignal
{
    // Not disposed once fired: a reader may still be taking its token, and a source without a timer holds nothing.
    private CancellationTokenSource _source = new();

    public IChangeToken Token => new CancellationChangeToken(Volatile.Read(ref _source).Token);

    /// <summary>Fires the current token; the next <see cref="Token"/> is a new one.</summary>
    public void Fire() => Interlocked.Exchange(ref _source, new CancellationTokenSource()).Cancel();
}
