using Microsoft.Extensions.Primitives;

namespace NatMap.Iptables.Hosting;

/// <summary>
/// Where a hosted sync reads its host's desired state: configuration (<see cref="ConfigurationStateSource"/>), a JSON
/// file (<see cref="JsonFileStateSource"/>), an etcd key (<see cref="EtcdStateSource"/>), or a store of your own.
/// </summary>
/// <remarks>
/// <para>The hosted sync calls <see cref="ReadAsync"/> at start, and again each time a token from
/// <see cref="GetReloadToken"/> fires (after a debounce, one read and sync at a time), and retries a read that failed at
/// each check interval. A source need not say what changed, only that something may have: a read that returns the
/// state already applied costs one listing and changes nothing.</para>
/// <para>How <see cref="ReadAsync"/> fails decides what the host does, and both keep the last good state applied:
/// a <see cref="NatMapStateException"/> means the document is there and wrong (the state is <em>rejected</em>, logged
/// with every error, and not retried until the source changes again); any other exception means the source could not be
/// read (it is <em>unreachable</em>, and the read is retried).</para>
/// </remarks>
public interface INatMapStateSource
{
    /// <summary>Gets a short description of the source for logs and health reports, such as <c>file /etc/natmap/state.json</c>.</summary>
    string Description { get; }

    /// <summary>Reads the current desired state.</summary>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The validated desired state.</returns>
    /// <exception cref="NatMapStateException">The document is not valid; nothing of it may be applied.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    /// <remarks>Any other exception reports the source as unreachable.</remarks>
    ValueTask<NatMapState> ReadAsync(CancellationToken cancellationToken);

    /// <summary>Returns a token that fires once when the desired state may have changed (or the source's reachability did).</summary>
    /// <returns>A change token; ask again after it fired for the next one.</returns>
    IChangeToken GetReloadToken();
}
