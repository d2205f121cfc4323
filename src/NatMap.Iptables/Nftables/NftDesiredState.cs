namespace NatMap.Iptables.Nftables;

/// <summary>Everything the library's table is to hold: the input of a full render (Setup alone when every list is empty).</summary>
/// <param name="Mappings">Docker-style mappings, each one map element.</param>
/// <param name="Dnats">Static DNATs, each one rule.</param>
/// <param name="Snats">Static SNATs, each one rule.</param>
/// <param name="Hairpins">Hairpin NATs, each two rules.</param>
internal sealed record NftDesiredState(
    IReadOnlyList<DockerPortMap> Mappings,
    IReadOnlyList<DnatConfig> Dnats,
    IReadOnlyList<SnatConfig> Snats,
    IReadOnlyList<HairpinConfig> Hairpins)
{
    /// <summary>
    /// Gets whether the loopback guard carries <see cref="NftSchema.RouteLocalnetComment"/>: Setup turned
    /// <c>route_localnet</c> on, and FlushAll is to turn it off.
    /// </summary>
    public bool RouteLocalnetOwned { get; init; }

    /// <summary>Gets the digest the static table's state chain is to carry (<see cref="NftSchema.StateChain"/>), or <see langword="null"/> for none.</summary>
    public string? Digest { get; init; }

    /// <summary>Gets the state of Setup alone: the fixed chains and empty maps.</summary>
    public static NftDesiredState Empty { get; } = new([], [], [], []);
}
