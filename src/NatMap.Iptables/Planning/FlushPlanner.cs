using System.Net.Sockets;
using NatMap.Iptables.Rules;

namespace NatMap.Iptables.Internal;

/// <summary>
/// Plans FlushAll: from the tables as they are, the deletes of every rule and chain the library made, each undone by
/// putting it back where it was. Pure: no I/O.
/// </summary>
internal sealed class FlushPlanner(NatRuleBuilder builder)
{
    /// <summary>The tables FlushAll reads and writes, in every family.</summary>
    public static readonly string[] Tables = ["raw", "nat", "filter"];

    /// <summary>The deletes of one family, table by table in <see cref="Tables"/> order.</summary>
    public List<Change> Plan(AddressFamily family, Dictionary<string, TableListing> listings)
    {
        var plan = new List<Change>();
        foreach (var table in Tables)
        {
            AddTable(family, table, listings[table], plan);
        }

        return plan;
    }

    private void AddTable(AddressFamily family, string table, TableListing listing, List<Change> plan)
    {
        // Rules the library put in other chains, jumps included, so the library's chains are no longer referenced;
        // then every rule of its own chains (the roots, and the port groups and buckets), which are deleted empty, the
        // roots last. Each deleted rule's undo puts it back where it was.
        var ours = listing.Rules.Where(r => !builder.IsOwnChain(r.Chain) && builder.IsOwned(r.Comment)).ToList();

        plan.AddRange(listing.DeletesInOrder(family, table, [.. ours, .. listing.Rules.Where(r => builder.IsOwnChain(r.Chain))], tolerateMissing: true));
        foreach (var chain in listing.Chains.Where(builder.IsOwnChain).OrderBy(c => builder.TryParseBucket(c, out var node) ? node.Bucket < 0 ? 1 : 0 : 2).ThenBy(static c => c, StringComparer.Ordinal))
        {
            plan.Add(RuleChange.DeleteChain(family, table, chain));
        }

        // DOCKER-USER goes only if the library made it (its FORWARD jump carried our comment, or nothing jumps to it: a
        // Setup stopped between making it and its jump) and nothing else uses it. Docker's always has Docker's jump.
        var dockerUser = NatMapDefaults.DockerUserChain;
        var madeDockerUser = ours.Any(r => r.Chain == "FORWARD" && r.JumpTarget == dockerUser)
            || !listing.Rules.Any(r => r.JumpTarget == dockerUser);
        if (table == "filter" && madeDockerUser && listing.Chains.Contains(dockerUser))
        {
            var remaining = listing.Rules.Except(ours).Where(r => !builder.IsOwnChain(r.Chain)).ToList();
            if (!remaining.Any(r => r.Chain == dockerUser || r.JumpTarget == dockerUser))
            {
                plan.Add(RuleChange.DeleteChain(family, table, dockerUser));
            }
        }
    }
}
