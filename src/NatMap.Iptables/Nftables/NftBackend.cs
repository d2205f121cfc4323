using System.ComponentModel;
using System.Net;
using System.Net.Sockets;
using NatMap.Iptables.Internal;
using NatMap.Iptables.Rules;

namespace NatMap.Iptables.Nftables;

/// <summary>
/// The native nftables backend (<see cref="NatMapBackend.Nftables"/>): each operation validated as the iptables
/// backend validates it, read (<c>nft -j list table</c>, only what the operation needs), planned
/// (<see cref="NftPlanner"/>, pure) and applied as one <c>nft -f -</c> transaction, both address families at once,
/// with the transaction that undoes it journaled in the <see cref="Operation"/>. <c>iptables</c> is run only for the
/// one coexistence rule (<see cref="NftCoexistence"/>) and only where it is installed.
/// </summary>
/// <remarks>
/// A Docker mapping is installed and removed without reading anything: a <c>create element</c> learns whether its key
/// was free, and the undo is exact either way (see <see cref="InstallDockerMapAsync"/>). Static objects read the small
/// static table. Setup, Sync and FlushAll read both tables once, and their undo writes both back as they were read.
/// </remarks>
internal sealed class NftBackend : IIptablesManager
{
    /// <summary>What nft says when an element's key is taken (EEXIST).</summary>
    private const string Exists = "File exists";

    /// <summary>What nft says when a table, map or element does not exist (ENOENT).</summary>
    private const string Missing = "No such file or directory";

    private readonly NatMapOptions _options;
    private readonly NatRuleBuilder _builder;
    private readonly CommandExecutor _executor;
    private readonly OperationGate _gate;
    private readonly HostCommands _commands;
    private readonly NftPlanner _planner;
    private readonly HostSettings _host;
    private readonly NftCoexistence _coexistence;
    private readonly PlanApplier _iptables;
    private readonly FlushPlanner _flush;

    public NftBackend(NatMapOptions options, NatRuleBuilder builder, CommandExecutor executor, OperationGate gate)
    {
        _options = options;
        _builder = builder;
        _executor = executor;
        _gate = gate;
        _commands = new HostCommands(options);
        _planner = new NftPlanner(new NftRenderer(options.CommentPrefix));
        _host = new HostSettings(_commands, builder, options.ManageHostSettings);
        _coexistence = new NftCoexistence(builder);
        _iptables = new PlanApplier(new RestoreApplier(_commands, new PartialCommit(_commands, new SaveReader(executor, _commands))), _commands, options.ConntrackReset);
        _flush = new FlushPlanner(builder);
    }

    private IEnumerable<AddressFamily> Families =>
        _options.EnableIpv6 ? [AddressFamily.InterNetwork, AddressFamily.InterNetworkV6] : [AddressFamily.InterNetwork];

    /// <inheritdoc/>
    public Task SetupAsync(CancellationToken cancellationToken = default) =>
        _gate.RunAsync("Setup", async operation =>
        {
            var (current, routeLocalnet, filters) = await ReadForSetupAsync(cancellationToken).ConfigureAwait(false);
            await ApplyNftAsync(operation, _planner.Setup(current, OwnsRouteLocalnet(current, routeLocalnet)), _planner.Restore(current), cancellationToken).ConfigureAwait(false);
            await ApplyHostSideAsync(operation, filters, routeLocalnet, cancellationToken).ConfigureAwait(false);
        }, cancellationToken);

    /// <inheritdoc/>
    /// <remarks>Two reads of the tables and one <c>iptables-save -t filter</c> per family where iptables is installed; it changes nothing.</remarks>
    public async Task<int> CountMissingSetupAsync(CancellationToken cancellationToken = default)
    {
        var read = ReadTablesAsync(cancellationToken);
        var filters = ReadFiltersAsync(cancellationToken);
        var current = await read.ConfigureAwait(false);
        var missing = current?.MissingSetup ?? NftListing.SetupItems;
        foreach (var (family, save, filter) in await filters.ConfigureAwait(false))
        {
            missing += _coexistence.Plan(family, save, filter).Count;
        }

        return missing;
    }

    /// <inheritdoc/>
    /// <remarks>
    /// One <c>nft create element</c>, which fails with <c>File exists</c>, changing nothing, when the key is taken; only
    /// then one <c>nft add element</c>, which succeeds when the key already holds this very target (nothing to do) and
    /// fails when it holds another (an <see cref="InvalidOperationException"/>: an nftables map holds one target per key).
    /// </remarks>
    public async Task InstallDockerMapAsync(DockerPortMap map, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(map); // a mapping validated itself when it was made
        EnsureFamilyEnabled(map.IsIPv6);
        await _host.RequireForLoopbackAsync(_executor, map, cancellationToken).ConfigureAwait(false);
        await _gate.RunAsync("InstallDockerMap", async operation =>
        {
            try
            {
                // A create that ends without a result (a timeout) stops the rollback: its undo would delete the
                // element even if it was there, this very mapping, before the install.
                await operation.ApplyAsync(_commands.Nft(_planner.CreateMapping(map)), _commands.Nft(_planner.RemoveMapping(map)), cancellationToken).ConfigureAwait(false);
            }
            catch (IptablesCommandException e) when (Says(e, Exists))
            {
                try
                {
                    // The same element again is a no-op for nft; another target for the key is an error.
                    await operation.ApplyAsync(_commands.Nft(_planner.InstallMapping(map)), undo: null, cancellationToken).ConfigureAwait(false);
                }
                catch (IptablesCommandException other) when (Says(other, Exists))
                {
                    throw new InvalidOperationException(
                        $"{Tokens.Protocol(map.Protocol)} {map.HostEndpoint} is already published to another container endpoint. An nftables map holds one target per address, protocol and port: remove that mapping first.",
                        other);
                }
            }
            catch (IptablesCommandException e) when (Says(e, Missing))
            {
                throw NoTables("InstallDockerMapAsync", e);
            }

            await ResetFlowsAsync(operation, [map], [], cancellationToken).ConfigureAwait(false);
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    /// <remarks>
    /// One transaction that creates and deletes the element: it succeeds exactly when the key is free (nothing to
    /// remove). Otherwise one that adds and deletes it: that removes the element when it holds this mapping's target,
    /// and fails, changing nothing, when it holds another's, which is then left alone.
    /// </remarks>
    public async Task RemoveDockerMapAsync(DockerPortMap map, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(map); // a mapping validated itself when it was made
        EnsureFamilyEnabled(map.IsIPv6);
        await _gate.RunAsync("RemoveDockerMap", async operation =>
        {
            try
            {
                await operation.ApplyAsync(_commands.Nft(_planner.ProbeFree(map)), undo: null, cancellationToken).ConfigureAwait(false);
            }
            catch (IptablesCommandException e) when (Says(e, Exists))
            {
                try
                {
                    await operation.ApplyAsync(_commands.Nft(_planner.RemoveMapping(map)), _commands.Nft(_planner.InstallMapping(map)), cancellationToken, unknown: UnknownOutcome.Undo).ConfigureAwait(false);
                }
                catch (IptablesCommandException other) when (Says(other, Exists))
                {
                    return; // the key holds another mapping's target: this one is not installed
                }
            }
            catch (IptablesCommandException e) when (Says(e, Missing))
            {
                return; // no tables, so nothing is installed
            }

            // Whatever the map held, the mapping's translation is gone now: its flows follow at once.
            await ResetFlowsAsync(operation, [map], [], cancellationToken).ConfigureAwait(false);
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public Task InstallDnatAsync(DnatConfig config, CancellationToken cancellationToken = default) =>
        ChangeStaticAsync("InstallDnat", _builder.BuildDnat(config), current => _planner.InstallDnat(config, current), [config], cancellationToken);

    /// <inheritdoc/>
    public Task RemoveDnatAsync(DnatConfig config, CancellationToken cancellationToken = default) =>
        ChangeStaticAsync("RemoveDnat", _builder.BuildDnat(config), current => _planner.RemoveDnat(config, current), [config], cancellationToken, removes: true);

    /// <inheritdoc/>
    public Task InstallSnatAsync(SnatConfig config, CancellationToken cancellationToken = default) =>
        ChangeStaticAsync("InstallSnat", _builder.BuildSnat(config), current => _planner.InstallSnat(config, current), [], cancellationToken);

    /// <inheritdoc/>
    public Task RemoveSnatAsync(SnatConfig config, CancellationToken cancellationToken = default) =>
        ChangeStaticAsync("RemoveSnat", _builder.BuildSnat(config), current => _planner.RemoveSnat(config, current), [], cancellationToken, removes: true);

    /// <inheritdoc/>
    public Task InstallHairpinAsync(HairpinConfig config, CancellationToken cancellationToken = default) =>
        ChangeStaticAsync("InstallHairpin", _builder.BuildHairpin(config), current => _planner.InstallHairpin(config, current), [], cancellationToken);

    /// <inheritdoc/>
    public Task RemoveHairpinAsync(HairpinConfig config, CancellationToken cancellationToken = default) =>
        ChangeStaticAsync("RemoveHairpin", _builder.BuildHairpin(config), current => _planner.RemoveHairpin(config, current), [], cancellationToken, removes: true);

    /// <inheritdoc/>
    /// <remarks>
    /// Reads the chain list and the small static table first: when every chain stands and the state chain's digest
    /// says the maps hold exactly the desired mappings (what the last Sync wrote, with no mapping changed since), only
    /// the static objects are compared, and a Sync to an unchanged state costs the same whatever the number of
    /// mappings. Otherwise it reads the mappings table too, writes the difference and the new digest in one
    /// transaction (a Sync also sets up, as with iptables). Then the coexistence rule and <c>route_localnet</c> as Setup
    /// does, and the flows of every UDP translation it added or removed are reset.
    /// </remarks>
    public async Task SyncAsync(NatMapState desired, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(desired);
        ValidateDesired(desired); // every object before any command runs
        await _gate.RunAsync("Sync", async operation =>
        {
            // The desired mappings are formatted once (the digest, the clash check, the script) while the reads run:
            // pure work, on a pool thread, that needs nothing the reads return.
            var elements = Task.Run(() => NftElementSet.Of(desired.DockerMaps), CancellationToken.None);

            // First the cheap reads: the chain list and the small static table. When every chain stands and the state
            // chain's digest says the maps hold exactly the desired mappings, the maps are not listed at all.
            var chains = ListChainsAsync(cancellationToken);
            var statics = ListTableAsync(_planner.Renderer.StaticTable, cancellationToken);
            var routeLocalnetRead = _host.ManagedRouteLocalnetAsync(_executor, cancellationToken);
            var filtersRead = ReadFiltersAsync(cancellationToken);
            await Task.WhenAll(chains, statics, routeLocalnetRead, filtersRead).ConfigureAwait(false);
            var (staticListing, routeLocalnet, filters) = (await statics.ConfigureAwait(false), await routeLocalnetRead.ConfigureAwait(false), await filtersRead.ConfigureAwait(false));
            if (await chains.ConfigureAwait(false) && staticListing is not null
                && NftListing.ParseStatic(staticListing, _planner.Renderer.Table) is { Digest: { } digest } held
                && MarkedBy(digest, await elements.ConfigureAwait(false)) is { } marked
                && OwnsRouteLocalnet(marked, complete: true, routeLocalnet) == marked)
            {
                await ApplyNftAsync(operation, _planner.SyncStatic(desired, held), _planner.RestoreStatic(held), cancellationToken).ConfigureAwait(false);
                await ApplyHostSideAsync(operation, filters, routeLocalnet, cancellationToken).ConfigureAwait(false);
                await ResetDnatFlowsAsync(operation, held, desired, cancellationToken).ConfigureAwait(false);
                return;
            }

            var main = await ListTableAsync(_planner.Renderer.Table, cancellationToken).ConfigureAwait(false);
            var current = main is null ? null : NftListing.Parse(staticListing is null ? [main] : [main, staticListing], _planner.Renderer.Table);
            var script = _planner.Sync(desired, current, OwnsRouteLocalnet(current, routeLocalnet), await elements.ConfigureAwait(false));
            await ApplyNftAsync(operation, script, _planner.Restore(current), cancellationToken).ConfigureAwait(false);
            await ApplyHostSideAsync(operation, filters, routeLocalnet, cancellationToken).ConfigureAwait(false);

            // Only the protocols ConntrackReset covers can need a reset: the diff is not built for the others.
            bool Covered(DockerPortMap m) => _options.ConntrackReset == ConntrackReset.UdpAndTcp || (_options.ConntrackReset == ConntrackReset.Udp && m.Protocol == TransportProtocol.Udp);
            var heldMaps = (current?.Mappings ?? []).Where(Covered).ToHashSet();
            var wantedMaps = desired.DockerMaps.Where(Covered).ToHashSet();
            await ResetFlowsAsync(operation, [.. heldMaps.Where(m => !wantedMaps.Contains(m)), .. wantedMaps.Where(m => !heldMaps.Contains(m))], [], cancellationToken).ConfigureAwait(false);
            await ResetDnatFlowsAsync(operation, current, desired, cancellationToken).ConfigureAwait(false);
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    /// <remarks>
    /// Deletes both of the library's tables in one transaction (the host's nftables ruleset is then exactly as it was
    /// before Setup), after turning <c>route_localnet</c> off when the guard says Setup turned it on, and deleting the
    /// coexistence rule (and <c>DOCKER-USER</c> when Setup made it).
    /// </remarks>
    public Task FlushAllAsync(CancellationToken cancellationToken = default) =>
        _gate.RunAsync("FlushAll", async operation =>
        {
            var read = ReadTablesAsync(cancellationToken);
            var filters = ReadFiltersAsync(cancellationToken);
            var current = await read.ConfigureAwait(false);
            var plan = new List<Change>();
            if (current is { RouteLocalnetOwned: true })
            {
                _host.AddTurnOffFirst(plan);
            }

            foreach (var (family, _, filter) in await filters.ConfigureAwait(false))
            {
                plan.AddRange(_flush.Plan(family, new Dictionary<string, TableListing>(StringComparer.Ordinal)
                {
                    ["raw"] = TableListing.Empty,
                    ["nat"] = TableListing.Empty,
                    ["filter"] = filter,
                }));
            }

            await _iptables.ApplyAsync(operation, plan, cancellationToken).ConfigureAwait(false);
            if (current is not null)
            {
                await ApplyNftAsync(operation, _planner.FlushAll(), _planner.Restore(current), cancellationToken).ConfigureAwait(false);
                await ResetFlowsAsync(operation, current.Mappings, [.. current.Dnats.Select(static d => d.Config)], cancellationToken).ConfigureAwait(false);
            }
        }, cancellationToken);

    /// <inheritdoc/>
    public async Task<NatMapState> ListAsync(CancellationToken cancellationToken = default)
    {
        var state = NftPlanner.ToState(await ReadTablesAsync(cancellationToken).ConfigureAwait(false));
        return _options.EnableIpv6
            ? state
            : new NatMapState
            {
                DockerMaps = [.. state.DockerMaps.Where(static m => !m.IsIPv6)],
                Dnats = [.. state.Dnats.Where(static d => !d.IsIPv6)],
                Snats = [.. state.Snats.Where(static s => s.InternalIp.AddressFamily == AddressFamily.InterNetwork)],
                Hairpins = [.. state.Hairpins.Where(static h => h.ExternalIp.AddressFamily == AddressFamily.InterNetwork)],
            };
    }

    private static bool Says(IptablesCommandException e, string text) => e.StandardError.Contains(text, StringComparison.Ordinal);

    private InvalidOperationException NoTables(string operation, Exception inner) => new(
        $"{operation} needs the nftables tables {NftSchema.Family} {_planner.Renderer.Table} and {_planner.Renderer.StaticTable}; run SetupAsync first.", inner);

    /// <summary>
    /// Whether the loopback guard is to say that Setup turned <c>route_localnet</c> on: when this Setup turns it on,
    /// when the guard already says so, or when it is on and no whole table of ours stands (someone deleted the table
    /// after the library turned it on), so that FlushAll never leaves it on without the guard.
    /// </summary>
    private static bool OwnsRouteLocalnet(NftTableState? current, string? routeLocalnet) =>
        OwnsRouteLocalnet(current is { RouteLocalnetOwned: true }, current is { SetupComplete: true }, routeLocalnet);

    private static bool OwnsRouteLocalnet(bool marked, bool complete, string? routeLocalnet) =>
        HostSettings.TurnsOn(routeLocalnet) || marked || (routeLocalnet == "1" && !complete);

    /// <summary>
    /// Whether the digest a Sync wrote is that of <paramref name="maps"/> with the guard marked (<see langword="true"/>)
    /// or unmarked (<see langword="false"/>); <see langword="null"/> when it is neither: the maps must be read.
    /// </summary>
    private static bool? MarkedBy(string digest, NftElementSet maps) =>
        digest == maps.MarkedDigest ? true : digest == maps.UnmarkedDigest ? false : null;

    /// <summary>The flows of every static DNAT that <paramref name="desired"/> adds to or removes from what <paramref name="current"/> held.</summary>
    private Task ResetDnatFlowsAsync(Operation operation, NftTableState? current, NatMapState desired, CancellationToken cancellationToken)
    {
        var held = (current?.Dnats ?? []).Select(static d => d.Config).ToHashSet();
        var wanted = desired.Dnats.ToHashSet();
        return ResetFlowsAsync(operation, [], [.. held.Where(d => !wanted.Contains(d)), .. wanted.Where(d => !held.Contains(d))], cancellationToken);
    }

    /// <summary>Whether <c>nft -j list chains inet</c> shows every fixed chain of both tables (a few milliseconds whatever N is).</summary>
    private async Task<bool> ListChainsAsync(CancellationToken cancellationToken)
    {
        var command = _commands.NftListChains();
        var result = await _executor.RunAsync(command, cancellationToken).ConfigureAwait(false);
        return result.IsSuccess
            ? !string.IsNullOrWhiteSpace(result.StandardOutput) && NftListing.ChainsComplete(result.StandardOutput, _planner.Renderer.Table)
            : throw new IptablesCommandException(command, result);
    }

    /// <summary>A static object's change: the static table read, the change planned and applied, undone by writing the table back.</summary>
    private async Task ChangeStaticAsync(string operation, IReadOnlyList<IptablesRule> validated, Func<NftTableState, string> plan, IReadOnlyList<DnatConfig> dnats, CancellationToken cancellationToken, bool removes = false)
    {
        EnsureFamilyEnabled(validated.Any(static r => r.Family == AddressFamily.InterNetworkV6));
        await _gate.RunAsync(operation, async journal =>
        {
            var listing = await ListTableAsync(_planner.Renderer.StaticTable, cancellationToken).ConfigureAwait(false);
            if (listing is null)
            {
                if (removes)
                {
                    return; // no tables, so nothing is installed
                }

                throw NoTables(operation + "Async", new InvalidOperationException($"nft: table {NftSchema.Family} {_planner.Renderer.StaticTable} does not exist."));
            }

            var current = NftListing.ParseStatic(listing, _planner.Renderer.Table);
            await ApplyNftAsync(journal, plan(current), _planner.RestoreStatic(current), cancellationToken).ConfigureAwait(false);
            await ResetFlowsAsync(journal, [], dnats, cancellationToken).ConfigureAwait(false);
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Runs one transaction, journaling the one that undoes it; nothing when the script is empty.</summary>
    private async Task ApplyNftAsync(Operation operation, string script, string undo, CancellationToken cancellationToken)
    {
        if (script.Length > 0)
        {
            // A transaction is atomic and its undo writes the tables back as they were read, so an undo is safe
            // whether or not a transaction that timed out took effect.
            _ = await operation.ApplyAsync(_commands.Nft(script), _commands.Nft(undo), cancellationToken, unknown: UnknownOutcome.Undo).ConfigureAwait(false);
        }
    }

    /// <summary>After the tables: the coexistence rule where iptables filters forwarding, then <c>route_localnet</c> on (last, after the guard).</summary>
    private async Task ApplyHostSideAsync(Operation operation, IReadOnlyList<(AddressFamily Family, string Save, TableListing Filter)> filters, string? routeLocalnet, CancellationToken cancellationToken)
    {
        var plan = new List<Change>();
        foreach (var (family, save, filter) in filters)
        {
            plan.AddRange(_coexistence.Plan(family, save, filter));
        }

        _host.AddTurnOn(plan, routeLocalnet);
        await _iptables.ApplyAsync(operation, plan, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The reads of Setup and Sync, side by side: both tables, <c>route_localnet</c> when managed, and iptables' filter tables.</summary>
    private async Task<(NftTableState? Current, string? RouteLocalnet, IReadOnlyList<(AddressFamily Family, string Save, TableListing Filter)> Filters)> ReadForSetupAsync(CancellationToken cancellationToken)
    {
        var tables = ReadTablesAsync(cancellationToken);
        var routeLocalnet = _host.ManagedRouteLocalnetAsync(_executor, cancellationToken);
        var filters = ReadFiltersAsync(cancellationToken);
        await Task.WhenAll(tables, routeLocalnet, filters).ConfigureAwait(false);
        return (await tables.ConfigureAwait(false), await routeLocalnet.ConfigureAwait(false), await filters.ConfigureAwait(false));
    }

    /// <summary>Both tables, or <see langword="null"/> when the mappings table does not exist.</summary>
    private async Task<NftTableState?> ReadTablesAsync(CancellationToken cancellationToken)
    {
        var main = ListTableAsync(_planner.Renderer.Table, cancellationToken);
        var statics = ListTableAsync(_planner.Renderer.StaticTable, cancellationToken);
        await Task.WhenAll(main, statics).ConfigureAwait(false);
        if (await main.ConfigureAwait(false) is not { } listing)
        {
            return null;
        }

        return NftListing.Parse(await statics.ConfigureAwait(false) is { } staticListing ? [listing, staticListing] : [listing], _planner.Renderer.Table);
    }

    /// <summary>
    /// <c>nft -j list table inet TABLE</c>, or <see langword="null"/> when the table does not exist. A listing that
    /// prints nothing reads as no table too: what a recording runner such as the Testing package's FakeCommandRunner
    /// answers, so that it sees an empty host as it does with iptables.
    /// </summary>
    private async Task<string?> ListTableAsync(string table, CancellationToken cancellationToken)
    {
        var command = _commands.NftList(table);
        var result = await _executor.RunAsync(command, cancellationToken).ConfigureAwait(false);
        return result.IsSuccess ? (string.IsNullOrWhiteSpace(result.StandardOutput) ? null : result.StandardOutput)
            : result.StandardError.Contains(Missing, StringComparison.Ordinal) ? null
            : throw new IptablesCommandException(command, result);
    }

    /// <summary>
    /// <c>iptables-save -t filter</c> of each enabled family whose program is installed: on a pure nftables host (no
    /// iptables programs) the list is empty and the backend writes nothing through iptables.
    /// </summary>
    private async Task<IReadOnlyList<(AddressFamily Family, string Save, TableListing Filter)>> ReadFiltersAsync(CancellationToken cancellationToken)
    {
        var filters = new List<(AddressFamily, string, TableListing)>();
        foreach (var family in Families)
        {
            var command = _commands.Save(family, "filter");
            CommandResult result;
            try
            {
                result = await _executor.RunAsync(command, cancellationToken).ConfigureAwait(false);
            }
            catch (Win32Exception)
            {
                continue; // no such program
            }

            if (!result.IsSuccess)
            {
                // ip netns exec reports a program it cannot start with "exec of … failed", a shell with 127.
                if (result.ExitCode == 127 || (result.StandardError.Contains("exec of", StringComparison.Ordinal) && result.StandardError.Contains("failed", StringComparison.Ordinal)))
                {
                    continue;
                }

                throw new IptablesCommandException(command, result);
            }

            filters.Add((family, result.StandardOutput, SaveListing.Parse(result.StandardOutput).GetValueOrDefault("filter") ?? TableListing.Empty));
        }

        return filters;
    }

    /// <summary>Deletes the tracked flows of the translations that changed (<see cref="NatMapOptions.ConntrackReset"/>).</summary>
    private Task ResetFlowsAsync(Operation operation, IReadOnlyList<DockerPortMap> maps, IReadOnlyList<DnatConfig> dnats, CancellationToken cancellationToken)
    {
        var resets = new List<FlowReset>();
        foreach (var map in maps)
        {
            var host = map.HostEndpoint;
            resets.AddRange(FlowReset.For(NftRenderer.IsBound(map) ? host.Address : null, host.AddressFamily, map.Protocol, [host.Port], _options.ConntrackReset));
        }

        foreach (var dnat in dnats)
        {
            resets.AddRange(FlowReset.For(dnat.ExternalIp, dnat.ExternalIp.AddressFamily, dnat.Protocol,
                dnat.Ports.Ranges.SelectMany(static r => Enumerable.Range(r.First, r.Last - r.First + 1)), _options.ConntrackReset));
        }

        return _iptables.ResetFlowsAsync(operation, resets, cancellationToken);
    }

    /// <summary>Validates every object of <paramref name="desired"/>, as the iptables backend does, before any command runs.</summary>
    private void ValidateDesired(NatMapState desired)
    {
        DesiredChecks.RequireLists(desired);

        // A mapping validated itself when it was made; what remains is its family. (Its iptables comment's length, which
        // the iptables backend checks, is no limit here: the element's comment is the container id alone.)
        foreach (var map in desired.DockerMaps)
        {
            EnsureFamilyEnabled(DesiredChecks.NotNull(map, nameof(NatMapState.DockerMaps)).IsIPv6);
        }

        DesiredChecks.EnsureFamilyEnabled(DesiredChecks.StaticRules(_builder, desired), _options);
    }

    private void EnsureFamilyEnabled(bool ipv6) => DesiredChecks.EnsureFamilyEnabled(ipv6, _options);
}
