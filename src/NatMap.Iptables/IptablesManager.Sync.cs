using System.Net;
using System.Net.Sockets;
using NatMap.Iptables.Internal;
using NatMap.Iptables.Rules;

namespace NatMap.Iptables;

public sealed partial class IptablesManager
{
    /// <inheritdoc/>
    public async Task SyncAsync(NatMapState desired, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(desired);
        var (staticRules, maps) = DesiredObjects(desired); // validates every object before any command runs
        await RunOperationAsync("Sync", async journal =>
        {
            // The reads are independent, so they run side by side: a sync's fixed cost is one read's time, not the sum.
            var families = Families.ToArray();
            var routeLocalnetRead = ManagedRouteLocalnetAsync(cancellationToken);
            var reads = new List<Task<Dictionary<string, TableListing>>>();
            var routes = new List<Task<IReadOnlyList<IPNetwork>?>>();
            foreach (var family in families)
            {
                reads.Add(ReadAsync(family, SetupTables(family), cancellationToken));
                routes.Add(maps.Any(m => m.HostEndpoint.AddressFamily == family)
                    ? OnLinkNetworksAsync(family, cancellationToken)
                    : Task.FromResult<IReadOnlyList<IPNetwork>?>([]));
            }

            await Task.WhenAll([routeLocalnetRead, .. reads, .. routes]).ConfigureAwait(false);
            var routeLocalnet = await routeLocalnetRead.ConfigureAwait(false);
            var plan = new List<Change>();
            for (var i = 0; i < families.Length; i++)
            {
                var family = families[i];
                var listings = await reads[i].ConfigureAwait(false);
                var networks = await routes[i].ConfigureAwait(false);
                var wanted = staticRules.Where(r => r.Family == family).ToList();
                foreach (var map in maps)
                {
                    if (map.HostEndpoint.AddressFamily == family)
                    {
                        // Without the routes (the lookup failed), a mapping keeps the hairpin network it was installed with.
                        var network = networks is null
                            ? InstalledContainerNetwork(listings["nat"], map)
                            : RouteListing.Longest(networks, map.ContainerEndpoint.Address);
                        wanted.AddRange(RuleBuilder.BuildDockerMap(map, network));
                    }
                }

                plan.AddRange(SetupChanges(family, listings, routeLocalnet));
                plan.AddRange(ObjectChanges(family, listings, wanted));
            }

            AddRouteLocalnet(plan, routeLocalnet);
            await ApplyAsync(journal, plan, cancellationToken).ConfigureAwait(false);
            await ResetFlowsAsync(journal, plan.OfType<RuleChange>(), cancellationToken).ConfigureAwait(false);
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Validates every object of <paramref name="desired"/> and drops repeated ones: the rules of every object but the
    /// Docker mappings, and the distinct mappings, whose rules depend on the routes and are built after the lookup.
    /// </summary>
    private (List<IptablesRule> StaticRules, List<DockerPortMap> Maps) DesiredObjects(NatMapState desired)
    {
        ArgumentNullException.ThrowIfNull(desired.DockerMaps, nameof(NatMapState.DockerMaps));
        ArgumentNullException.ThrowIfNull(desired.Dnats, nameof(NatMapState.Dnats));
        ArgumentNullException.ThrowIfNull(desired.Snats, nameof(NatMapState.Snats));
        ArgumentNullException.ThrowIfNull(desired.Hairpins, nameof(NatMapState.Hairpins));

        // A mapping validated itself when it was made; what remains is its family and the length of its comment. The
        // comment names every field, so equal comments mean the same mapping.
        var maps = new List<DockerPortMap>(desired.DockerMaps.Count);
        var comments = new HashSet<string>(desired.DockerMaps.Count, StringComparer.Ordinal);
        foreach (var map in desired.DockerMaps)
        {
            EnsureFamilyEnabled(NotNull(map, nameof(NatMapState.DockerMaps)).IsIPv6);
            if (comments.Add(RuleBuilder.DockerMapComment(map)))
            {
                maps.Add(map);
            }
        }

        var rules = new List<IptablesRule>();
        foreach (var config in desired.Dnats)
        {
            rules.AddRange(RuleBuilder.BuildDnat(NotNull(config, nameof(NatMapState.Dnats))));
        }

        foreach (var config in desired.Snats)
        {
            rules.AddRange(RuleBuilder.BuildSnat(NotNull(config, nameof(NatMapState.Snats))));
        }

        foreach (var config in desired.Hairpins)
        {
            rules.AddRange(RuleBuilder.BuildHairpin(NotNull(config, nameof(NatMapState.Hairpins))));
        }

        EnsureFamilyEnabled(rules);
        return ([.. rules.Distinct()], maps);
    }

    private static T NotNull<T>(T? item, string paramName)
        where T : class =>
        item ?? throw new ArgumentException("The list holds a null entry.", paramName);

    /// <summary>
    /// What turns the owned object rules of one family into exactly <paramref name="wanted"/> (which holds no rule
    /// twice): deletes of every owned rule (by comment) that no wanted rule takes, then adds of the wanted rules that
    /// are missing. Setup's own rules are left to <see cref="SetupChanges"/>; a rule present twice loses the extra copy.
    /// </summary>
    private List<Change> ObjectChanges(AddressFamily family, Dictionary<string, TableListing> listings, List<IptablesRule> wanted)
    {
        // The owned rules the tables hold, with how many copies of each no wanted rule has taken yet.
        var owned = new List<(string Table, ListedRule Rule, RuleKey Key)>();
        var untaken = new Dictionary<RuleKey, int>();
        foreach (var (table, listing) in listings)
        {
            foreach (var rule in listing.Rules)
            {
                if (IsObjectComment(rule.Comment))
                {
                    var key = new RuleKey(table, rule.Chain, rule.Specification);
                    owned.Add((table, rule, key));
                    untaken[key] = untaken.GetValueOrDefault(key) + 1;
                }
            }
        }

        var adds = new List<Change>(wanted.Count);
        foreach (var rule in wanted)
        {
            // Tables holding no owned rule (the first sync after a start) need no lookups at all.
            if (untaken.Count > 0)
            {
                var key = new RuleKey(rule.Table, rule.Chain, rule.Specification);
                if (untaken.TryGetValue(key, out var copies) && copies > 0)
                {
                    untaken[key] = copies - 1;
                    continue;
                }
            }

            adds.Add(RuleChange.Add(rule));
        }

        var deletes = new List<Change>();
        foreach (var group in owned.GroupBy(static o => o.Table))
        {
            var extra = new List<ListedRule>();
            foreach (var (_, rule, key) in group)
            {
                if (untaken[key] is > 0 and var copies)
                {
                    untaken[key] = copies - 1;
                    extra.Add(rule);
                }
            }

            deletes.AddRange(listings[group.Key].DeletesInOrder(family, group.Key, extra));
        }

        return [.. deletes, .. adds];
    }

    /// <summary>Whether a comment marks a rule of an object the library owns (not one of Setup's rules).</summary>
    private bool IsObjectComment(string? comment) =>
        comment is not null
        && comment.StartsWith(_options.CommentPrefix + ":", StringComparison.Ordinal)
        && comment != RuleBuilder.SetupComment
        && !comment.StartsWith(RuleBuilder.SetupComment + ":", StringComparison.Ordinal);

    /// <summary>
    /// The family's on-link networks, read once for all the mappings of a sync; <see langword="null"/> when the lookup
    /// fails, so that a failure is not read as "no routes" and every network-wide hairpin rule narrowed (review item 7).
    /// </summary>
    private async Task<IReadOnlyList<IPNetwork>?> OnLinkNetworksAsync(AddressFamily family, CancellationToken cancellationToken)
    {
        var command = _commands.Routes(family);
        try
        {
            var result = await RunAsync(command, cancellationToken).ConfigureAwait(false);
            if (result.IsSuccess)
            {
                return RouteListing.OnLinkNetworks(result.StandardOutput, family);
            }

            Log.RouteLookupFailed(_logger, command, $"exit code {result.ExitCode}");
            return null;
        }
#pragma warning disable CA1031 // As for one mapping: without the routes the hairpin rule covers the container itself.
        catch (Exception exception) when (exception is not OperationCanceledException)
#pragma warning restore CA1031
        {
            Log.RouteLookupFailed(_logger, command, exception.Message);
            return null;
        }
    }
}
