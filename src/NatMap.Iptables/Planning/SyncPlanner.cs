using System.Net;
using System.Net.Sockets;
using NatMap.Iptables.Rules;

namespace NatMap.Iptables.Internal;

/// <summary>
/// Plans a sync: from the tables as they are and the routes, what brings the host to exactly the desired objects
/// (plus Setup's rules). Pure: no I/O.
/// </summary>
internal sealed class SyncPlanner(NatRuleBuilder builder, SetupPlanner setup, ObjectPlanner objects, BucketPlanner buckets)
{
    /// <summary>What one family reads for a sync: its tables and, when mappings need them, its on-link networks.</summary>
    public sealed record FamilyReading(AddressFamily Family, Dictionary<string, TableListing> Listings, IReadOnlyList<IPNetwork>? Networks);

    /// <summary>
    /// The whole plan over every family: Setup's missing parts, then the object changes of each family, then
    /// <c>route_localnet</c>. <paramref name="maps"/> are distinct; <paramref name="staticRules"/> hold no rule twice.
    /// </summary>
    public List<Change> Plan(IEnumerable<FamilyReading> families, IReadOnlyList<IptablesRule> staticRules, IReadOnlyList<DockerPortMap> maps, string? routeLocalnet, HostSettings host)
    {
        var plan = new List<Change>();
        foreach (var (family, listings, networks) in families)
        {
            var wanted = staticRules.Where(r => r.Family == family).ToList();
            foreach (var map in maps)
            {
                if (map.HostEndpoint.AddressFamily == family)
                {
                    // Without the routes (the lookup failed), a mapping keeps the hairpin network it was installed with.
                    var network = networks is null
                        ? objects.InstalledContainerNetwork(listings["nat"], map)
                        : RouteListing.Longest(networks, map.ContainerEndpoint.Address);
                    wanted.AddRange(builder.BuildDockerMap(map, network));
                }
            }

            plan.AddRange(setup.Changes(family, listings, routeLocalnet));
            plan.AddRange(ObjectChanges(family, listings, wanted));
        }

        host.AddTurnOn(plan, routeLocalnet);
        return plan;
    }

    /// <summary>
    /// What turns the owned object rules of one family into exactly <paramref name="wanted"/> (which holds no rule
    /// twice): deletes of every owned rule (by comment) that no wanted rule takes, with the port buckets no wanted rule
    /// needs (<see cref="BucketPlanner.Stale"/>), then the missing buckets and adds of the wanted rules that are missing. Setup's own rules are left to <see cref="SetupPlanner"/>; a rule present twice loses the extra copy.
    /// </summary>
    public List<Change> ObjectChanges(AddressFamily family, Dictionary<string, TableListing> listings, List<IptablesRule> wanted)
    {
        // The owned rules the tables hold, with how many copies of each no wanted rule has taken yet.
        var owned = new List<(string Table, ListedRule Rule, RuleKey Key)>();
        var untaken = new Dictionary<RuleKey, int>();
        foreach (var (table, listing) in listings)
        {
            foreach (var rule in listing.Rules)
            {
                if (builder.IsObjectComment(rule.Comment))
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
        var chainDeletes = new List<Change>();
        var deleted = new Dictionary<string, List<ListedRule>>(StringComparer.Ordinal);
        var byTable = owned.GroupBy(static o => o.Table).ToDictionary(static g => g.Key, static g => g.ToList(), StringComparer.Ordinal);
        foreach (var (table, listing) in listings)
        {
            var extra = new List<ListedRule>();
            foreach (var (_, rule, key) in byTable.GetValueOrDefault(table) ?? [])
            {
                if (untaken[key] is > 0 and var copies)
                {
                    untaken[key] = copies - 1;
                    extra.Add(rule);
                }
            }

            chainDeletes.AddRange(buckets.Stale(family, table, listing, wanted, extra));
            deleted[table] = extra;
            deletes.AddRange(listing.DeletesInOrder(family, table, [.. extra.OrderBy(listing.PositionOf)]));
        }

        return [.. deletes, .. chainDeletes, .. buckets.Missing(family, listings, wanted, deleted), .. adds];
    }
}
