using System.Globalization;
using System.Net;
using System.Text;

namespace NatMap.Iptables.Nftables;

/// <summary>
/// Plans the nftables backend's operations: from what a listing of the library's tables read (or nothing, when they do
/// not exist) and what an operation asks, the one <c>nft -f -</c> script that makes the tables right. Pure: no I/O, so
/// every plan is unit-tested from listings alone. An empty script means there is nothing to do.
/// </summary>
/// <remarks>
/// <para>A Docker mapping is a map element, added and removed without reading anything: <see cref="CreateMapping"/>
/// fails with <c>File exists</c>, changing nothing, when the key holds any value, and <see cref="InstallMapping"/> (nft's
/// <c>add</c>) then tells the same value (a no-op) from another (<c>File exists</c> again); <see cref="ProbeFree"/> tells
/// a free key from a taken one, and <see cref="RemoveMapping"/> adds and then deletes the element in one transaction,
/// so an element with another value is left alone (its add fails and the transaction changes nothing). Every change of
/// a mapping also empties the static table's <c>synced</c> chain, the digest a Sync keeps of the maps. Static objects
/// are rules, found by the read of the small static table.</para>
/// <para>Port sets are compared in the form nftables keeps them (<see cref="NftRenderer.Normalize(PortSet)"/>).</para>
/// </remarks>
internal sealed class NftPlanner
{
    /// <summary>Initializes a new instance that writes scripts with <paramref name="renderer"/>.</summary>
    public NftPlanner(NftRenderer renderer) => Renderer = renderer ?? throw new ArgumentNullException(nameof(renderer));

    /// <summary>Gets the renderer, and with it the names of the library's tables.</summary>
    public NftRenderer Renderer { get; }

    /// <summary>
    /// Setup: nothing when both tables are whole; otherwise both tables written again in one swap, keeping every object
    /// they still hold, so a Setup after someone deleted a chain repairs it and loses no mapping.
    /// </summary>
    /// <exception cref="InvalidOperationException">A table of the library's name exists and is not the library's.</exception>
    /// <param name="current">The tables as read; <see langword="null"/> when they do not exist.</param>
    /// <param name="ownsRouteLocalnet">Whether the loopback guard is to say that Setup turned <c>route_localnet</c> on.</param>
    public string Setup(NftTableState? current, bool ownsRouteLocalnet = false)
    {
        ThrowIfForeign(current);
        return current is { SetupComplete: true } && current.RouteLocalnetOwned == ownsRouteLocalnet
            ? string.Empty
            : Renderer.RenderFull(Desired(ToState(current)) with { RouteLocalnetOwned = ownsRouteLocalnet });
    }

    /// <summary>
    /// The script that puts the tables back as <paramref name="previous"/> read them: both deleted when they did not
    /// exist, else both written again in one swap with what they held. The undo of Setup, Sync and FlushAll.
    /// </summary>
    public string Restore(NftTableState? previous) => previous is null ? FlushAll() : Renderer.RenderFull(previous.ToDesired());

    /// <summary>The script that puts the static table back as <paramref name="previous"/> read it: the undo of a static object's change.</summary>
    public string RestoreStatic(NftTableState previous)
    {
        ArgumentNullException.ThrowIfNull(previous);
        return Renderer.RenderStaticFull(previous.ToDesired());
    }

    /// <summary>One element created: the transaction fails (<c>File exists</c>) when the key holds any value already, and changes nothing then.</summary>
    public string CreateMapping(DockerPortMap map) => Renderer.RenderCreateMappings([map]) + Renderer.RenderForgetDigest();

    /// <summary>
    /// The element created and deleted in one transaction: it succeeds, changing nothing, exactly when the key is free;
    /// it fails with <c>File exists</c> when the key holds a value. A remove learns this way whether there is anything
    /// to remove without listing the map.
    /// </summary>
    public string ProbeFree(DockerPortMap map) => Renderer.RenderCreateMappings([map]) + Renderer.RenderDeleteMappings([map]);

    /// <summary>One element added; the same element again is a no-op for nft.</summary>
    public string InstallMapping(DockerPortMap map) => Renderer.RenderAddMappings([map]) + Renderer.RenderForgetDigest();

    /// <summary>The element added and deleted in one transaction: it is gone afterwards whether or not it was there.</summary>
    public string RemoveMapping(DockerPortMap map) => Renderer.RenderAddMappings([map]) + Renderer.RenderDeleteMappings([map]) + Renderer.RenderForgetDigest();

    /// <summary>The DNAT rule added unless a copy exists; any further copies deleted.</summary>
    public string InstallDnat(DnatConfig config, NftTableState current) =>
        InstallRule(Normalized(config), Owned(current).Dnats, static (r, c) => r.RenderAddDnat(c));

    /// <summary>Every copy of the DNAT rule deleted.</summary>
    public string RemoveDnat(DnatConfig config, NftTableState current)
    {
        config = Normalized(config);
        return DeleteRules(Owned(current).Dnats.Where(d => d.Config == config));
    }

    /// <summary>The SNAT rule added unless a copy exists; any further copies deleted.</summary>
    public string InstallSnat(SnatConfig config, NftTableState current) =>
        InstallRule(config, Owned(current).Snats, static (r, c) => r.RenderAddSnat(c));

    /// <summary>Every copy of the SNAT rule deleted.</summary>
    public string RemoveSnat(SnatConfig config, NftTableState current) => DeleteRules(Owned(current).Snats.Where(s => s.Config == config));

    /// <summary>The hairpin's two rules added unless a whole copy exists; any further copies deleted.</summary>
    public string InstallHairpin(HairpinConfig config, NftTableState current)
    {
        config = Normalized(config);
        var copies = Owned(current).Hairpins.Where(h => h.Config == config).ToList();
        return copies.Count == 0 ? Renderer.RenderAddHairpin(config) : DeleteHairpins(copies.Skip(1));
    }

    /// <summary>Both rules of every copy of the hairpin deleted.</summary>
    public string RemoveHairpin(HairpinConfig config, NftTableState current)
    {
        config = Normalized(config);
        return DeleteHairpins(Owned(current).Hairpins.Where(h => h.Config == config));
    }

    /// <summary>
    /// Sync: what the tables hold and <paramref name="desired"/> does not is deleted, and what it lacks is added, all in
    /// one script (deletes first, so a mapping whose key moves to another value is replaced in the same transaction).
    /// Tables that do not exist or are not whole (or whose guard's marking is to change) are written again in one swap
    /// with exactly <paramref name="desired"/>, so a Sync also sets up, as it does with iptables.
    /// </summary>
    /// <exception cref="ArgumentException">Two of the desired mappings publish the same key (address, protocol, port).</exception>
    /// <exception cref="InvalidOperationException">A table of the library's name is not the library's.</exception>
    /// <param name="desired">The state to sync to.</param>
    /// <param name="current">The tables as read; <see langword="null"/> when they do not exist.</param>
    /// <param name="ownsRouteLocalnet">Whether the loopback guard is to say that Setup turned <c>route_localnet</c> on.</param>
    /// <param name="elements">
    /// <paramref name="desired"/>'s mappings already formatted (<see cref="NftElementSet.Of"/> of its
    /// <see cref="NatMapState.DockerMaps"/>, made while the tables were read); <see langword="null"/> to format them here.
    /// </param>
    public string Sync(NatMapState desired, NftTableState? current, bool ownsRouteLocalnet = false, NftElementSet? elements = null)
    {
        ArgumentNullException.ThrowIfNull(desired);
        ThrowIfForeign(current);
        elements ??= NftElementSet.Of(desired.DockerMaps); // formatted once: clash check, digest and script
        ThrowIfClash(elements);

        var state = new NftDesiredState(
            elements.Mappings,
            [.. desired.Dnats.Select(Normalized).Distinct()],
            [.. desired.Snats.Distinct()],
            [.. desired.Hairpins.Select(Normalized).Distinct()])
        {
            RouteLocalnetOwned = ownsRouteLocalnet,
            Digest = elements.Digest(ownsRouteLocalnet),
        };
        if (current is not { SetupComplete: true } || current.RouteLocalnetOwned != ownsRouteLocalnet)
        {
            return Renderer.RenderFull(state);
        }

        if (current.Digest == state.Digest)
        {
            return SyncStatic(state, current); // the maps hold what the last Sync wrote
        }

        var then = SyncStatic(state, current) + Renderer.RenderDigest(state.Digest);
        if (current.Mappings.Count == 0)
        {
            return Renderer.RenderAddElements(elements, then); // after Setup: nothing to compare with
        }

        // One builder for the whole script (in chunks, none on the large object heap), copied once into its string.
        var held = current.Mappings.ToHashSet();
        var wanted = elements.Mappings.ToHashSet();
        var script = new StringBuilder(Renderer.RenderDeleteMappings(current.Mappings.Where(m => !wanted.Contains(m)).Distinct()));
        Renderer.AppendAddElements(script, elements, i => !held.Contains(elements.Mappings[i]));
        return script.Append(then).ToString();
    }

    /// <summary>
    /// A Sync whose maps are known to hold the desired mappings (the state chain's digest matches): only the static
    /// objects, read from the small static table, are compared. <paramref name="current"/> needs only the static table
    /// (<see cref="NftListing.ParseStatic"/>).
    /// </summary>
    /// <exception cref="ArgumentException">Two of the desired mappings publish the same key.</exception>
    /// <remarks>
    /// The mappings are neither compared nor checked for clashes: a matching digest says they are exactly the elements
    /// the last Sync wrote, which the kernel accepted, one target per key.
    /// </remarks>
    public string SyncStatic(NatMapState desired, NftTableState current)
    {
        ArgumentNullException.ThrowIfNull(desired);
        ArgumentNullException.ThrowIfNull(current);
        return SyncStatic(new NftDesiredState([], [.. desired.Dnats.Select(Normalized).Distinct()], [.. desired.Snats.Distinct()], [.. desired.Hairpins.Select(Normalized).Distinct()]), current);
    }

    private string SyncStatic(NftDesiredState state, NftTableState current)
    {
        var script = new StringBuilder();
        script.Append(DeleteRules(Surplus(current.Dnats, state.Dnats)));
        script.Append(DeleteRules(Surplus(current.Snats, state.Snats)));
        var hairpins = current.Hairpins.Select(h => (h.Config, Handle: h)).ToList();
        script.Append(DeleteHairpins(Surplus(hairpins, state.Hairpins).Select(h => h.Handle)));
        script.Append(string.Concat(Missing(current.Dnats.Select(d => d.Config), state.Dnats).Select(Renderer.RenderAddDnat)));
        script.Append(string.Concat(Missing(current.Snats.Select(s => s.Config), state.Snats).Select(Renderer.RenderAddSnat)));
        script.Append(string.Concat(Missing(current.Hairpins.Select(h => h.Config), state.Hairpins).Select(Renderer.RenderAddHairpin)));
        return script.ToString();
    }

    /// <summary>FlushAll: both tables deleted, and with them everything the backend wrote; no error when they are already gone.</summary>
    public string FlushAll() =>
        $"add table {NftSchema.Family} {Renderer.Table}\nadd table {NftSchema.Family} {Renderer.StaticTable}\n{Renderer.RenderDeleteTable()}";

    /// <summary>The owned objects of a listing as the public state type; empty when the tables do not exist.</summary>
    public static NatMapState ToState(NftTableState? current) => current is null
        ? new NatMapState()
        : new NatMapState
        {
            DockerMaps = [.. current.Mappings],
            Dnats = [.. current.Dnats.Select(d => d.Config)],
            Snats = [.. current.Snats.Select(s => s.Config)],
            Hairpins = [.. current.Hairpins.Select(h => h.Config)],
        };

    /// <summary>Two desired mappings on one key (address, protocol, port) cannot both be map elements.</summary>
    private static void ThrowIfClash(NftElementSet elements)
    {
        if (elements.Clash is var (other, map))
        {
            throw Invalid(
                string.Create(CultureInfo.InvariantCulture, $"Two mappings publish the same {map.Protocol} port {map.HostEndpoint}: containers '{other.ContainerId}' and '{map.ContainerId}'. An nftables map holds one target per key."),
                nameof(NatMapState.DockerMaps));
        }
    }

    private static NftDesiredState Desired(NatMapState state) => new(
        [.. state.DockerMaps.Distinct()],
        [.. state.Dnats.Select(Normalized).Distinct()],
        [.. state.Snats.Distinct()],
        [.. state.Hairpins.Select(Normalized).Distinct()]);

    private static ArgumentException Invalid(string message, string field) => new(message, field);

    private static DnatConfig Normalized(DnatConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        return config with { Ports = NftRenderer.Normalize(config.Ports) };
    }

    private static HairpinConfig Normalized(HairpinConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        return config with { Ports = NftRenderer.Normalize(config.Ports) };
    }

    private NftTableState Owned(NftTableState? current)
    {
        ThrowIfForeign(current);
        return current ?? throw new InvalidOperationException($"The nftables tables {NftSchema.Family} {Renderer.Table} and {Renderer.StaticTable} do not exist; run SetupAsync first.");
    }

    private void ThrowIfForeign(NftTableState? current)
    {
        if (current is { IsOurs: false })
        {
            throw new InvalidOperationException(
                $"The nftables table {NftSchema.Family} {Renderer.Table} exists and was not written by NatMap (it holds no '{NftSchema.SetupComment}' rule). Choose another comment prefix, or delete that table.");
        }
    }

    private string InstallRule<T>(T config, IReadOnlyList<NftOwnedRule<T>> owned, Func<NftRenderer, T, string> add)
        where T : notnull
    {
        var copies = owned.Where(o => o.Config.Equals(config)).ToList();
        return copies.Count == 0 ? add(Renderer, config) : DeleteRules(copies.Skip(1));
    }

    private string DeleteRules<T>(IEnumerable<NftOwnedRule<T>> rules) => string.Concat(rules.Select(r => Renderer.RenderDeleteRule(r.Chain, r.Handle)));

    private string DeleteHairpins(IEnumerable<NftOwnedHairpin> hairpins) => string.Concat(hairpins.Select(h =>
        Renderer.RenderDeleteRule(NftSchema.PreroutingChain, h.DnatHandle) + Renderer.RenderDeleteRule(NftSchema.PostroutingChain, h.MasqueradeHandle)));

    /// <summary>Held rules to delete: those not desired, and every copy after the first of those that are.</summary>
    private static IEnumerable<NftOwnedRule<T>> Surplus<T>(IEnumerable<NftOwnedRule<T>> held, IReadOnlyList<T> desired)
        where T : notnull =>
        Surplus(held.Select(h => (h.Config, Handle: h)), desired).Select(h => h.Handle);

    private static List<(T Config, THandle Handle)> Surplus<T, THandle>(IEnumerable<(T Config, THandle Handle)> held, IReadOnlyList<T> desired)
        where T : notnull
    {
        var kept = new HashSet<T>();
        var wanted = desired.ToHashSet();
        return held.Where(h => !wanted.Contains(h.Config) || !kept.Add(h.Config)).ToList();
    }

    private static IEnumerable<T> Missing<T>(IEnumerable<T> held, IReadOnlyList<T> desired)
    {
        var present = held.ToHashSet();
        return desired.Where(d => !present.Contains(d));
    }
}
