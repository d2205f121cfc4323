namespace NatMap.Iptables;

/// <summary>The objects the library owns on a host, as <see cref="IIptablesManager.ListAsync"/> reads them back.</summary>
public sealed record NatMapState
{
    /// <summary>Gets the Docker-style port mappings.</summary>
    /// <value>The default is empty.</value>
    public IReadOnlyList<DockerPortMap> DockerMaps { get; init; } = [];

    /// <summary>Gets the static DNATs.</summary>
    /// <value>The default is empty.</value>
    public IReadOnlyList<DnatConfig> Dnats { get; init; } = [];

    /// <summary>Gets the static SNATs.</summary>
    /// <value>The default is empty.</value>
    public IReadOnlyList<SnatConfig> Snats { get; init; } = [];

    /// <summary>Gets the hairpin NATs.</summary>
    /// <value>The default is empty.</value>
    public IReadOnlyList<HairpinConfig> Hairpins { get; init; } = [];
}
