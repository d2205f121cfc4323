namespace NatMap.Iptables.Tests;

/// <summary>
/// An <see cref="IIptablesManager"/> that is not <see cref="IptablesManager"/>: it passes every call on and counts the
/// monitor's, to show the monitor and the hosted sync need only the interface.
/// </summary>
internal sealed class CountingManager(IIptablesManager inner) : IIptablesManager
{
    private int _counts;
    private int _syncs;

    public int Counts => Volatile.Read(ref _counts);

    public int Syncs => Volatile.Read(ref _syncs);

    public Task<int> CountMissingSetupAsync(CancellationToken cancellationToken = default)
    {
        _ = Interlocked.Increment(ref _counts);
        return inner.CountMissingSetupAsync(cancellationToken);
    }

    public Task SyncAsync(NatMapState desired, CancellationToken cancellationToken = default)
    {
        _ = Interlocked.Increment(ref _syncs);
        return inner.SyncAsync(desired, cancellationToken);
    }

    public Task SetupAsync(CancellationToken cancellationToken = default) => inner.SetupAsync(cancellationToken);

    public Task InstallDockerMapAsync(DockerPortMap map, CancellationToken cancellationToken = default) => inner.InstallDockerMapAsync(map, cancellationToken);

    public Task RemoveDockerMapAsync(DockerPortMap map, CancellationToken cancellationToken = default) => inner.RemoveDockerMapAsync(map, cancellationToken);

    public Task InstallDnatAsync(DnatConfig config, CancellationToken cancellationToken = default) => inner.InstallDnatAsync(config, cancellationToken);

    public Task RemoveDnatAsync(DnatConfig config, CancellationToken cancellationToken = default) => inner.RemoveDnatAsync(config, cancellationToken);

    public Task InstallSnatAsync(SnatConfig config, CancellationToken cancellationToken = default) => inner.InstallSnatAsync(config, cancellationToken);

    public Task RemoveSnatAsync(SnatConfig config, CancellationToken cancellationToken = default) => inner.RemoveSnatAsync(config, cancellationToken);

    public Task InstallHairpinAsync(HairpinConfig config, CancellationToken cancellationToken = default) => inner.InstallHairpinAsync(config, cancellationToken);

    public Task RemoveHairpinAsync(HairpinConfig config, CancellationToken cancellationToken = default) => inner.RemoveHairpinAsync(config, cancellationToken);

    public Task<NatMapState> ListAsync(CancellationToken cancellationToken = default) => inner.ListAsync(cancellationToken);

    public Task FlushAllAsync(CancellationToken cancellationToken = default) => inner.FlushAllAsync(cancellationToken);
}
