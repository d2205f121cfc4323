using System.Net;
using System.Net.Sockets;
using NatMap.Iptables.Rules;

namespace NatMap.Iptables.Internal;

/// <summary>
/// Plans the install and the removal of one object, whose rules all carry one comment, from the tables it goes to as
/// listed (only the lines carrying the comment need be kept). Pure: no I/O.
/// </summary>
internal sealed class ObjectPlanner(NatRuleBuilder builder, HostCommands commands, BucketPlanner buckets)
{
    /// <summary>
    /// The one decision on which objects need Setup: those with a rule in one of the library's chains (a Docker
    /// mapping, a static DNAT), which iptables refuses without the chain its dispatch starts from. The tables those
    /// rules go to, by family, in order, with that root chain.
    /// </summary>
    public static IEnumerable<(AddressFamily Family, string Table, string Root)> TablesNeedingChain(IEnumerable<IptablesRule> rules, NatRuleBuilder builder) =>
        rules.Select(r => (r.Family, r.Table, Root: builder.RootOf(r.Chain))).Where(static r => r.Root is not null).Select(static r => (r.Family, r.Table, r.Root!)).Distinct();

    /// <summary>What an object's read keeps besides its own rules: the dispatch jumps, which <see cref="Plan"/> places the object's among.</summary>
    public IReadOnlyCollection<string> AlsoKeeping { get; } = [builder.BucketComment];

    /// <summary>
    /// What makes the rules that carry <paramref name="comment"/> exactly <paramref name="wanted"/> (none, for a
    /// removal): deletes of every listed copy beyond the first of a wanted rule and of every listed rule no wanted rule
    /// is (every copy, review item 3), with the jumps to and the chains of the port buckets this leaves empty; then the
    /// missing bucket chains and jumps the wanted rules need, and adds of the wanted rules not listed. Rules already in
    /// place are left alone, so an install is idempotent. The listings need keep only the rules that carry the comment
    /// and the lines of <see cref="AlsoKeeping"/>. <paramref name="built"/>, the object's rules as built (the wanted ones
    /// by default), name its bucket chains, which a removal deletes when it finds them empty.
    /// </summary>
    public List<Change> Plan(AddressFamily family, Dictionary<string, TableListing> listings, string comment, IReadOnlyList<IptablesRule> wanted, IEnumerable<IptablesRule>? built = null)
    {
        var taken = new HashSet<RuleKey>();
        var wantedKeys = wanted.Select(static r => new RuleKey(r.Table, r.Chain, r.Specification)).ToHashSet();
        var extras = new Dictionary<string, List<ListedRule>>(StringComparer.Ordinal);
        foreach (var (table, listing) in listings)
        {
            extras[table] = [.. listing.Rules.Where(r =>
                r.Comment == comment
                && !(wantedKeys.Contains(new RuleKey(table, r.Chain, r.Specification)) && taken.Add(new RuleKey(table, r.Chain, r.Specification))))];
        }

        var added = wanted.Where(r => !taken.Contains(new RuleKey(r.Table, r.Chain, r.Specification))).ToList();
        var changes = new List<Change>();
        var chainDeletes = new List<Change>();
        foreach (var (table, listing) in listings)
        {
            var deleted = extras[table];
            chainDeletes.AddRange(buckets.Prune(family, table, listing, deleted, added, built ?? wanted, wanted));
            changes.AddRange(listing.DeletesInOrder(family, table, [.. deleted.OrderBy(listing.PositionOf)], tolerateMissing: true));
        }

        return [.. changes, .. chainDeletes, .. buckets.Missing(family, listings, wanted, extras), .. added.Select(RuleChange.Add)];
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

        foreach (var (_, table, root) in TablesNeedingChain(rules, builder))
        {
            if (!listings[table].Chains.Contains(root))
            {
                throw new InvalidOperationException(
                    $"{operation} needs the chain {root} in the {table} table ({commands.Program(family)}), and it is not there: " +
                    $"call {nameof(IIptablesManager.SetupAsync)} first (natmap setup --apply), or {nameof(IIptablesManager.SyncAsync)}, which sets up what is missing. Nothing was changed.");
            }
        }
    }

    /// <summary>The nat POSTROUTING hairpin rule of a mapping as installed: its source network, when that holds the container.</summary>
    public IPNetwork? InstalledContainerNetwork(TableListing nat, DockerPortMap map)
    {
        var comment = builder.DockerMapComment(map);
        foreach (var rule in nat.Rules)
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
