using System.Net;
using System.Net.Sockets;
using NatMap.Iptables.Rules;

namespace NatMap.Iptables.Internal;

/// <summary>
/// The iptables backend (<see cref="NatMapBackend.Iptables"/>): each operation validated, read (<c>Reading/</c>),
/// planned (<c>Planning/</c>, pure) and applied (<c>Applying/</c>, through the one <see cref="IRuleApplier"/> chosen by
/// <see cref="NatMapOptions.ApplyMode"/>). <see cref="IptablesManager"/> chooses it and hands it the shared parts.
/// </summary>
internal sealed class IptablesBackend : IIptablesManager
{
    private readonly NatMapOptions _options;
    private readonly CommandExecutor _executor;
    private readonly OperationGate _gate;
    private readonly ITableReader _reader;
    private readonly RouteReader _routes;
    private readonly HostSettings _host;
    private readonly PlanApplier _applier;
    private readonly SetupPlanner _setup;
    private readonly ObjectPlanner _objects;
    private readonly SyncPlanner _sync;
    private readonly FlushPlanner _flush;

    /// <summary>Initializes a new instance over the manager's validated options snapshot and shared parts.</summary>
    public IptablesBackend(NatMapOptions options, NatRuleBuilder builder, CommandExecutor executor, OperationGate gate)
    {
        _options = options;
        RuleBuilder = builder;
        var commands = new HostCommands(_options);
        _executor = executor;
        _gate = gate;
        (_reader, var rules) = Backend(_options.ApplyMode, _executor, commands);
        _applier = new PlanApplier(rules, commands, _options.ConntrackReset);
        _routes = new RouteReader(_executor, commands);
        _host = new HostSettings(commands, RuleBuilder, _options.ManageHostSettings);
        _setup = new SetupPlanner(RuleBuilder, _host);
        var buckets = new BucketPlanner(RuleBuilder);
        _objects = new ObjectPlanner(RuleBuilder, commands, buckets);
        _sync = new SyncPlanner(RuleBuilder, _setup, _objects, buckets);
        _flush = new FlushPlanner(RuleBuilder);
    }

    private NatRuleBuilder RuleBuilder { get; }

    /// <summary>How the tables are read and how a plan's rule changes are applied, chosen once by <see cref="NatMapOptions.ApplyMode"/>.</summary>
    private static (ITableReader Reader, IRuleApplier Applier) Backend(RuleApplyMode transport, CommandExecutor executor, HostCommands commands)
    {
        if (transport == RuleApplyMode.PerRule)
        {
            var list = new ListReader(executor, commands);
            return (list, new PerRuleApplier(commands, new PartialCommit(commands, list)));
        }

        var save = new SaveReader(executor, commands);
        return (save, new RestoreApplier(commands, new PartialCommit(commands, save)));
    }

    private IEnumerable<AddressFamily> Families =>
        _options.EnableIpv6 ? [AddressFamily.InterNetwork, AddressFamily.InterNetworkV6] : [AddressFamily.InterNetwork];

    /// <inheritdoc/>
    public Task SetupAsync(CancellationToken cancellationToken = default) =>
        _gate.RunAsync("Setup", async operation =>
        {
            var routeLocalnet = await _host.ManagedRouteLocalnetAsync(_executor, cancellationToken).ConfigureAwait(false);
            var families = new List<(AddressFamily, Dictionary<string, TableListing>)>();
            foreach (var family in Families)
            {
                families.Add((family, await _reader.ReadAsync(family, SetupPlanner.Tables(family), comment: null, cancellationToken).ConfigureAwait(false)));
            }

            await _applier.ApplyAsync(operation, _setup.Plan(families, routeLocalnet), cancellationToken).ConfigureAwait(false);
        }, cancellationToken);

    /// <inheritdoc/>
    /// <remarks>One read per family (<c>iptables-save</c>, or <c>iptables -S</c> per table in per-rule mode); it changes nothing.</remarks>
    public async Task<int> CountMissingSetupAsync(CancellationToken cancellationToken = default)
    {
        var missing = 0;
        foreach (var family in Families)
        {
            var listings = await _reader.ReadAsync(family, SetupPlanner.Tables(family), comment: null, cancellationToken).ConfigureAwait(false);
            missing += _setup.Changes(family, listings, routeLocalnet: null).Count;
        }

        return missing;
    }

    /// <inheritdoc/>
    public async Task InstallDockerMapAsync(DockerPortMap map, CancellationToken cancellationToken = default)
    {
        var rules = RuleBuilder.BuildDockerMap(map); // validates before any command runs
        EnsureFamilyEnabled(map.IsIPv6);
        await _host.RequireForLoopbackAsync(_executor, map, cancellationToken).ConfigureAwait(false);

        // The route lookup runs while the operation reads the tables; the hairpin rule waits for it. Without the
        // routes, a hairpin rule already installed for the container's whole network stays as it is (review item 7):
        // narrowing it to the container would break sibling-to-sibling hairpin for a lookup's hiccup.
        var lookup = _routes.ContainerNetworkAsync(map.ContainerEndpoint.Address, cancellationToken);
        await InstallAsync("InstallDockerMap", rules, RuleBuilder.DockerMapComment(map), cancellationToken, async nat =>
        {
            var (network, failed) = await lookup.ConfigureAwait(false);
            return RuleBuilder.BuildDockerMap(map, failed ? _objects.InstalledContainerNetwork(nat, map) : network);
        }).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public Task RemoveDockerMapAsync(DockerPortMap map, CancellationToken cancellationToken = default)
    {
        var rules = RuleBuilder.BuildDockerMap(map); // validates before any command runs
        EnsureFamilyEnabled(map.IsIPv6);
        return RemoveAsync("RemoveDockerMap", rules, RuleBuilder.DockerMapComment(map), cancellationToken);
    }

    /// <inheritdoc/>
    public Task InstallDnatAsync(DnatConfig config, CancellationToken cancellationToken = default) =>
        InstallAsync("InstallDnat", RuleBuilder.BuildDnat(config), RuleBuilder.DnatComment(config), cancellationToken);

    /// <inheritdoc/>
    public Task RemoveDnatAsync(DnatConfig config, CancellationToken cancellationToken = default) =>
        RemoveAsync("RemoveDnat", RuleBuilder.BuildDnat(config), RuleBuilder.DnatComment(config), cancellationToken);

    /// <inheritdoc/>
    public Task InstallSnatAsync(SnatConfig config, CancellationToken cancellationToken = default) =>
        InstallAsync("InstallSnat", RuleBuilder.BuildSnat(config), RuleBuilder.SnatComment(config), cancellationToken);

    /// <inheritdoc/>
    public Task RemoveSnatAsync(SnatConfig config, CancellationToken cancellationToken = default) =>
        RemoveAsync("RemoveSnat", RuleBuilder.BuildSnat(config), RuleBuilder.SnatComment(config), cancellationToken);

    /// <inheritdoc/>
    public Task InstallHairpinAsync(HairpinConfig config, CancellationToken cancellationToken = default) =>
        InstallAsync("InstallHairpin", RuleBuilder.BuildHairpin(config), RuleBuilder.HairpinComment(config), cancellationToken);

    /// <inheritdoc/>
    public Task RemoveHairpinAsync(HairpinConfig config, CancellationToken cancellationToken = default) =>
        RemoveAsync("RemoveHairpin", RuleBuilder.BuildHairpin(config), RuleBuilder.HairpinComment(config), cancellationToken);

    /// <inheritdoc/>
    public async Task SyncAsync(NatMapState desired, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(desired);
        var (staticRules, maps) = DesiredObjects(desired); // validates every object before any command runs
        await _gate.RunAsync("Sync", async operation =>
        {
            // The reads are independent, so they run side by side: a sync's fixed cost is one read's time, not the sum.
            var families = Families.ToArray();
            var routeLocalnetRead = _host.ManagedRouteLocalnetAsync(_executor, cancellationToken);
            var reads = new List<Task<Dictionary<string, TableListing>>>();
            var routes = new List<Task<IReadOnlyList<IPNetwork>?>>();
            foreach (var family in families)
            {
                reads.Add(_reader.ReadAsync(family, SetupPlanner.Tables(family), comment: null, cancellationToken));
                routes.Add(maps.Any(m => m.HostEndpoint.AddressFamily == family)
                    ? _routes.OnLinkNetworksAsync(family, cancellationToken)
                    : Task.FromResult<IReadOnlyList<IPNetwork>?>([]));
            }

            await Task.WhenAll([routeLocalnetRead, .. reads, .. routes]).ConfigureAwait(false);
            var readings = new List<SyncPlanner.FamilyReading>(families.Length);
            for (var i = 0; i < families.Length; i++)
            {
                readings.Add(new(families[i], await reads[i].ConfigureAwait(false), await routes[i].ConfigureAwait(false)));
            }

            var plan = _sync.Plan(readings, staticRules, maps, await routeLocalnetRead.ConfigureAwait(false), _host);
            await _applier.ApplyAsync(operation, plan, cancellationToken).ConfigureAwait(false);
            await _applier.ResetFlowsAsync(operation, plan.OfType<RuleChange>(), cancellationToken).ConfigureAwait(false);
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public Task FlushAllAsync(CancellationToken cancellationToken = default) =>
        _gate.RunAsync("FlushAll", async operation =>
        {
            // Like every operation, a failed flush is undone: each deleted rule goes back where it was.
            var plan = new List<Change>();
            foreach (var family in Families)
            {
                var listings = await _reader.ReadAsync(family, FlushPlanner.Tables, comment: null, cancellationToken).ConfigureAwait(false);
                plan.AddRange(_flush.Plan(family, listings));
                if (family == AddressFamily.InterNetwork && _host.OnFlush(listings["raw"]) switch
                {
                    HostSettings.FlushDecision.TurnOff => true,
                    HostSettings.FlushDecision.TurnOffIfOn => await _host.ReadRouteLocalnetAsync(_executor, cancellationToken).ConfigureAwait(false) == "1",
                    _ => false,
                })
                {
                    _host.AddTurnOffFirst(plan);
                }
            }

            await _applier.ApplyAsync(operation, plan, cancellationToken).ConfigureAwait(false);
            await _applier.ResetFlowsAsync(operation, plan.OfType<RuleChange>(), cancellationToken).ConfigureAwait(false);
        }, cancellationToken);

    /// <inheritdoc/>
    public async Task<NatMapState> ListAsync(CancellationToken cancellationToken = default)
    {
        var reader = new StateReader(RuleBuilder);
        foreach (var family in Families)
        {
            var listings = await _reader.ReadAsync(family, ["nat"], comment: null, cancellationToken).ConfigureAwait(false);
            reader.Read(listings["nat"], family);
        }

        return reader.State;
    }

    /// <summary>
    /// Installs one object, whose rules all carry <paramref name="comment"/>: reads the tables the rules go to, keeping
    /// only the lines that carry the comment, and makes the object's rules exactly <paramref name="rules"/>, one copy
    /// each (see <see cref="ObjectPlanner.Plan"/>). Within the operation lock no other process of the library can write
    /// between the read and the write.
    /// </summary>
    /// <param name="operation">The operation's name.</param>
    /// <param name="rules">The object's rules.</param>
    /// <param name="comment">The comment every rule of the object carries.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <param name="fromInstalled">
    /// When set, gives the family's rules after the read (they may depend on the object's rules in the nat table as
    /// listed); <paramref name="rules"/> then only name the families and tables.
    /// </param>
    private async Task InstallAsync(string operation, IReadOnlyList<IptablesRule> rules, string comment, CancellationToken cancellationToken,
        Func<TableListing, Task<IReadOnlyList<IptablesRule>>>? fromInstalled = null)
    {
        EnsureFamilyEnabled(rules);
        await _gate.RunAsync(operation, async journal =>
        {
            var changes = new List<Change>();
            foreach (var family in rules.GroupBy(static r => r.Family))
            {
                var listings = await ReadObjectAsync(family, comment, cancellationToken).ConfigureAwait(false);
                IReadOnlyList<IptablesRule> wanted = [.. family.Distinct()];
                if (fromInstalled is not null)
                {
                    var built = await fromInstalled(listings.GetValueOrDefault("nat") ?? TableListing.Empty).ConfigureAwait(false);
                    wanted = [.. built.Where(r => r.Family == family.Key).Distinct()];
                }

                _objects.RequireSetup(operation, family.Key, wanted, listings);
                changes.AddRange(_objects.Plan(family.Key, listings, comment, wanted));
            }

            await _applier.ApplyAsync(journal, changes, cancellationToken).ConfigureAwait(false);
            await _applier.ResetFlowsAsync(journal, changes.OfType<RuleChange>(), cancellationToken).ConfigureAwait(false);
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Removes an object: reads the tables its rules go to, keeping only the lines that carry its comment, and deletes
    /// every rule that carries it, every copy included. It needs neither the routes nor the rules as they were built: a
    /// hairpin rule installed for another container network carries the same comment.
    /// </summary>
    private async Task RemoveAsync(string operation, IReadOnlyList<IptablesRule> rules, string comment, CancellationToken cancellationToken)
    {
        EnsureFamilyEnabled(rules);
        await _gate.RunAsync(operation, async journal =>
        {
            var changes = new List<Change>();
            foreach (var family in rules.GroupBy(static r => r.Family))
            {
                var listings = await ReadObjectAsync(family, comment, cancellationToken).ConfigureAwait(false);
                changes.AddRange(_objects.Plan(family.Key, listings, comment, [], built: family));
            }

            await _applier.ApplyAsync(journal, changes, cancellationToken).ConfigureAwait(false);

            // Whatever the tables held, the object's translation is gone now: its flows follow at once.
            await _applier.ResetFlowsAsync(journal, rules.Select(static r => RuleChange.Delete(r.Family, r.Table, r.Chain, r.Specification)), cancellationToken).ConfigureAwait(false);
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The tables one family of an object's rules go to, keeping only the lines that carry its comment.</summary>
    private Task<Dictionary<string, TableListing>> ReadObjectAsync(IGrouping<AddressFamily, IptablesRule> family, string comment, CancellationToken cancellationToken) =>
        _reader.ReadAsync(family.Key, [.. family.Select(static r => r.Table).Distinct()], comment, cancellationToken, _objects.AlsoKeeping);

    /// <summary>
    /// Validates every object of <paramref name="desired"/> and drops repeated ones: the rules of every object but the
    /// Docker mappings, and the distinct mappings, whose rules depend on the routes and are built after the lookup.
    /// </summary>
    private (List<IptablesRule> StaticRules, List<DockerPortMap> Maps) DesiredObjects(NatMapState desired)
    {
        DesiredChecks.RequireLists(desired);

        // A mapping validated itself when it was made; what remains is its family and the length of its comment. The
        // comment names every field, so equal comments mean the same mapping.
        var maps = new List<DockerPortMap>(desired.DockerMaps.Count);
        var comments = new HashSet<string>(desired.DockerMaps.Count, StringComparer.Ordinal);
        foreach (var map in desired.DockerMaps)
        {
            EnsureFamilyEnabled(DesiredChecks.NotNull(map, nameof(NatMapState.DockerMaps)).IsIPv6);
            if (comments.Add(RuleBuilder.DockerMapComment(map)))
            {
                maps.Add(map);
            }
        }

        var rules = DesiredChecks.StaticRules(RuleBuilder, desired);
        EnsureFamilyEnabled(rules);
        return ([.. rules.Distinct()], maps);
    }

    private void EnsureFamilyEnabled(IReadOnlyList<IptablesRule> rules) => DesiredChecks.EnsureFamilyEnabled(rules, _options);

    private void EnsureFamilyEnabled(bool ipv6) => DesiredChecks.EnsureFamilyEnabled(ipv6, _options);
}
