using System.Net;
using System.Net.Sockets;
using NatMap.Iptables.Rules;

namespace NatMap.Iptables.Internal;

/// <summary>
/// Plans the install and the removal of one object, whose rules all carry one comment, from the tables it goes to as
/// listed (only the lines carrying the comment need be kept). Pure: no I/O.
/// </summary>
internal sealed class ObjectPlanner(NatRuleBuilder builder, HostCommands commands)
{
    /// <summary>
    /// The one decision on which objects need Setup: those with a rule in the library's chain (a Docker mapping, a
    /// static DNAT), which iptables refuses without the chain. The tables those rules go to, by family, in order.
    /// </summary>
    public static IEnumerable<(AddressFamily Family, string Table)> TablesNeedingChain(IEnumerable<IptablesRule> rules, string chainName) =>
        rules.Where(r => r.Chain == chainName).Select(static r => (r.Family, r.Table)).Distinct();

    /// <summary>
    /// What makes the rules that carry <paramref name="comment"/> exactly <paramref name="wanted"/> (none, for a
    /// removal): deletes of every listed copy beyond the first of a wanted rule and of every listed rule no wanted rule
    /// is (every copy, review item 3), then adds of the wanted rules not listed. Rules already in place are left alone,
    /// so an install is idempotent.
    /// </summary>
    public static List<Change> Plan(AddressFamily family, Dictionary<string, TableListing> listings, string comment, IReadOnlyList<IptablesRule> wanted)
    {
        var changes = new List<Change>();
        var adds = new List<Change>();
        var taken = new HashSet<RuleKey>();
        var wantedKeys = wanted.Select(static r => new RuleKey(r.Table, r.Chain, r.Specification)).ToHashSet();
        foreach (var (table, listing) in listings)
        {
            var extra = listing.Rules.Where(r =>
                r.Comment == comment
                && !(wantedKeys.Contains(new RuleKey(table, r.Chain, r.Specification)) && taken.Add(new RuleKey(table, r.Chain, r.Specification))));
            changes.AddRange(listing.DeletesInOrder(family, table, [.. extra], tolerateMissing: true));
        }

        foreach (var rule in wanted)
        {
            if (!taken.Contains(new RuleKey(rule.Table, rule.Chain, rule.Specification)))
            {
                adds.Add(RuleChange.Add(rule));
            }
        }

        return [.. changes, .. adds];
    }

    /// <summary>
    /// Review item 11: an object whose rules go to the library's chain needs Setup. When the listing shows the table
    /// but not the chain, the install would fail with iptables' own "No chain/target/match by that name" (or, per
    /// rule, half done), so it stops before running anything and says what to do.
    /// </summary>
    /// <exception cref="InvalidOperationException">The library's chain is missing.</exception>
    public void RequireSetup(string operation, AddressFamily family, IReadOnlyList<IptablesRule> rules, Dictionary<string, TableListing> listings)
    {
        if (listings.Values.All(static l => l.Chains.Count == 0))
        {
            return; // nothing listed at all: a runner that runs nothing (a dry run, an unscripted fake) tells nothing
        }

        foreach (var (_, table) in TablesNeedingChain(rules, builder.ChainName))
        {
            if (!listings[table].Chains.Contains(builder.ChainName))
            {
                throw new InvalidOperationException(
                    $"{operation} needs the chain {builder.ChainName} in the {table} table ({commands.Program(family)}), and it is not there: " +
                    $"call {nameof(IIptablesManager.SetupAsync)} first (natmap setup --apply), or {nameof(IIptablesManager.SyncAsync)}, which sets up what is missing. Nothing was changed.");
            }
        }
    }

    /// <summary>The nat POSTROUTING hairpin rule of a mapping as installed: its source network, when that holds the container.</summary>
    public IPNetwork? InstalledContainerNetwork(TableListing nat, DockerPortMap map)
    {
        var comment = builder.DockerMapComment(map);
        foreach (var rule in nat.InChain("POSTROUTING"))
        {
            if (rule.Comment == comment && rule.JumpTarget == "MASQUERADE"
                && RuleSpecification.ValueOf(rule.Specification, "-s") is { } source
                && IPNetwork.TryParse(source, out var network)
                && network.PrefixLength > 0
                && network.Contains(map.ContainerEndpoint.Address))
            {
                return network;
            }
        }

        return null;
    }
}
