namespace NatMap.Iptables.Nftables;

/// <summary>A static object read back from one rule, with the rule's handle for a later <c>delete rule … handle</c>.</summary>
internal sealed record NftOwnedRule<T>(T Config, string Chain, long Handle);

/// <summary>A hairpin NAT read back from its two rules.</summary>
internal sealed record NftOwnedHairpin(HairpinConfig Config, long DnatHandle, long MasqueradeHandle);

/// <summary>
/// What the library's table holds, as <see cref="NftListing"/> read it. Only objects whose every part was recognised
/// are listed as owned; anything else in the table is described in <see cref="Foreign"/> and never turned into a model.
/// </summary>
/// <param name="IsOurs">The table carries the library's comment; when not, nothing else was read.</param>
/// <param name="SetupComplete">Every fixed chain, map and Setup rule of both tables is present.</param>
/// <param name="Mappings">The Docker mappings, one per map element.</param>
/// <param name="Dnats">The static DNATs.</param>
/// <param name="Snats">The static SNATs.</param>
/// <param name="Hairpins">The hairpin NATs whose two rules are both present.</param>
/// <param name="Foreign">One line per thing that is not the library's, or not whole: a rule without our comment, a half hairpin, an element without a valid container id.</param>
internal sealed record NftTableState(
    bool IsOurs,
    bool SetupComplete,
    IReadOnlyList<DockerPortMap> Mappings,
    IReadOnlyList<NftOwnedRule<DnatConfig>> Dnats,
    IReadOnlyList<NftOwnedRule<SnatConfig>> Snats,
    IReadOnlyList<NftOwnedHairpin> Hairpins,
    IReadOnlyList<string> Foreign)
{
    /// <summary>Gets how many of the fixed chains, maps and Setup rules of both tables are missing.</summary>
    public int MissingSetup { get; init; }

    /// <summary>Gets whether the loopback guard says Setup turned <c>route_localnet</c> on.</summary>
    public bool RouteLocalnetOwned { get; init; }

    /// <summary>Gets the digest the state chain carries, or <see langword="null"/> when it carries none (see <see cref="NftSchema.StateChain"/>).</summary>
    public string? Digest { get; init; }

    /// <summary>The objects as the input of a full render, the guard's marking kept.</summary>
    public NftDesiredState ToDesired() => new(
        Mappings,
        [.. Dnats.Select(static d => d.Config)],
        [.. Snats.Select(static s => s.Config)],
        [.. Hairpins.Select(static h => h.Config)])
    {
        RouteLocalnetOwned = RouteLocalnetOwned,
        Digest = Digest,
    };
}
