using System.Net.Sockets;
using NatMap.Iptables.Rules;

namespace NatMap.Iptables.Internal;

/// <summary>
/// Plans the port dispatch of the library's chains (see <see cref="NatRuleBuilder.BuildDispatchJumps"/>): the group and
/// bucket chains, and their jumps, that the rules of the mappings need. A chain is made, with its jump, when the first
/// rule needs it, and deleted, with its jump, when its last rule goes. Pure: no I/O.
/// </summary>
internal sealed class BucketPlanner(NatRuleBuilder builder)
{
    /// <summary>The group and bucket chains <paramref name="rules"/> need, by table, each group before its buckets, once each.</summary>
    public IEnumerable<(string Table, PortBucket Node)> Needed(IEnumerable<IptablesRule> rules)
    {
        var seen = new HashSet<(string, PortBucket)>();
        foreach (var rule in rules)
        {
            if (builder.TryParseBucket(rule.Chain, out var node) && node.Bucket >= 0)
            {
                if (seen.Add((rule.Table, node with { Bucket = -1 })))
                {
                    yield return (rule.Table, node with { Bucket = -1 });
                }

                if (seen.Add((rule.Table, node)))
                {
                    yield return (rule.Table, node);
                }
            }
        }
    }

    /// <summary>
    /// The chains and jumps that <paramref name="wanted"/> need and the listings do not show: each missing chain, then its
    /// jump; a jump alone where the chain stands without it. The jumps of one chain are kept in order of their ports
    /// (tcp before udp), whatever the order the mappings came in: each goes before the first listed jump of that chain
    /// to higher ports that the plan keeps, or to the end. So the tables after a removal are exactly as if the removed
    /// mapping had never been installed. <paramref name="deleted"/> are the listed rules the plan deletes first, by table.
    /// </summary>
    public List<Change> Missing(AddressFamily family, Dictionary<string, TableListing> listings, IEnumerable<IptablesRule> wanted, IReadOnlyDictionary<string, List<ListedRule>>? deleted = null)
    {
        var changes = new List<Change>();
        var inserted = new Dictionary<(string, string), int>();
        var gone = new Dictionary<string, (HashSet<ListedRule> Rules, ILookup<string, ListedRule> GoneByChain, ILookup<string, ListedRule> ByChain)>(StringComparer.Ordinal);
        foreach (var (table, node) in Needed(wanted).OrderBy(static n => n.Table, StringComparer.Ordinal).ThenBy(static n => n.Node))
        {
            var listing = listings[table];
            var chain = builder.BucketChain(node);
            var jump = builder.DispatchJump(family, table, node);
            if (!gone.TryGetValue(table, out var read))
            {
                // Once per table: a sync of thousands of buckets would otherwise scan every listed rule for each.
                var goneRules = deleted?.GetValueOrDefault(table) ?? [];
                read = (
                    new HashSet<ListedRule>(goneRules, ReferenceEqualityComparer.Instance),
                    goneRules.ToLookup(static r => r.Chain, StringComparer.Ordinal),
                    listing.Rules.ToLookup(static r => r.Chain, StringComparer.Ordinal));
                gone[table] = read;
            }

            var goneHere = read.Rules;
            var siblings = read.ByChain[jump.Chain].Where(r => !goneHere.Contains(r)).ToList();
            if (listing.Chains.Contains(chain))
            {
                if (siblings.Any(r => r.SameSpecification(jump.Specification)))
                {
                    continue;
                }
            }
            else
            {
                changes.Add(RuleChange.NewChain(family, table, chain));
            }

            // The first kept jump of the same chain to higher ports: the new jump goes where that one stands once the
            // plan's deletes before it are done, after the jumps this plan already put in front of it.
            var next = siblings.FirstOrDefault(r =>
                r.Comment == builder.BucketComment && r.JumpTarget is { } target
                && builder.TryParseBucket(target, out var sibling) && sibling.CompareTo(node) > 0);
            if (next is null)
            {
                changes.Add(RuleChange.Add(jump));
                continue;
            }

            var at = listing.PositionOf(next);
            var key = (table, jump.Chain);
            var position = at - read.GoneByChain[jump.Chain].Count(r => listing.PositionOf(r) < at) + inserted.GetValueOrDefault(key);
            inserted[key] = inserted.GetValueOrDefault(key) + 1;
            changes.Add(new RuleChange(family, table, ChangeKind.Insert, jump.Chain, jump.Specification)
            {
                Position = position,
                Undo = new(family, table, ChangeKind.Delete, jump.Chain, jump.Specification),
            });
        }

        return changes;
    }

    /// <summary>
    /// For a plan that deletes <paramref name="deleted"/> (listed rules of <paramref name="listing"/>) and adds
    /// <paramref name="added"/> to one table: the jumps to delete (added to <paramref name="deleted"/>) and the chain
    /// deletes, leaf first, of the buckets and groups it leaves empty, and of the object's own (those of
    /// <paramref name="built"/>, the object's rules as built) that stand empty already, as a removal whose rollback
    /// failed leaves them. A chain another chain than its parent jumps to is kept, and so is one the rules of
    /// <paramref name="wanted"/> need.
    /// </summary>
    public List<Change> Prune(AddressFamily family, string table, TableListing listing, List<ListedRule> deleted, IEnumerable<IptablesRule> added, IEnumerable<IptablesRule> built, IEnumerable<IptablesRule> wanted)
    {
        // A chain the wanted rules need stays, empty or not: Missing puts its jumps in (a group left empty by a rollback
        // that failed, whose bucket jump an install is about to add, must not be deleted by the same plan).
        var needed = Needed(wanted).Where(n => n.Table == table).Select(n => builder.BucketChain(n.Node)).ToHashSet(StringComparer.Ordinal);
        var remaining = new Dictionary<string, int>(StringComparer.Ordinal);
        int Remaining(string chain) => remaining.TryGetValue(chain, out var count) ? count : listing.RuleCount(chain);
        foreach (var rule in deleted)
        {
            remaining[rule.Chain] = Remaining(rule.Chain) - 1;
        }

        foreach (var rule in added)
        {
            if (rule.Table == table)
            {
                remaining[rule.Chain] = Remaining(rule.Chain) + 1;
            }
        }

        var chainDeletes = new List<Change>();
        var touched = deleted.Select(static r => r.Chain)
            .Concat(Needed(built).Where(n => n.Table == table).Select(n => builder.BucketChain(n.Node)))
            .ToList();
        foreach (var level in (int[])[1, 0])
        {
            foreach (var chain in touched.Distinct(StringComparer.Ordinal).ToList())
            {
                if (!builder.TryParseBucket(chain, out var node) || (node.Bucket >= 0 ? 1 : 0) != level
                    || !listing.Chains.Contains(chain) || Remaining(chain) != 0 || needed.Contains(chain))
                {
                    continue;
                }

                var parent = builder.ParentChain(node);
                var jumps = listing.Rules.Where(r => r.JumpTarget == chain).ToList();
                if (jumps.Any(r => r.Chain != parent))
                {
                    continue;
                }

                deleted.AddRange(jumps);
                remaining[parent] = Remaining(parent) - jumps.Count;
                touched.Add(parent);
                chainDeletes.Add(RuleChange.DeleteChain(family, table, chain));
            }
        }

        return chainDeletes;
    }

    /// <summary>
    /// For a sync to <paramref name="wanted"/> of one table, whose listing holds every rule: the dispatch rules to delete
    /// (added to <paramref name="deleted"/>, which holds the object rules the sync deletes) and the chain deletes, leaf
    /// first. A jump goes when its chain is not needed, when it is not exactly the jump the builder makes, or when it is a
    /// second copy; a chain that is not needed goes with every rule it holds.
    /// </summary>
    public List<Change> Stale(AddressFamily family, string table, TableListing listing, IEnumerable<IptablesRule> wanted, List<ListedRule> deleted)
    {
        var needed = Needed(wanted.Where(r => r.Table == table)).Select(n => builder.BucketChain(n.Node)).ToHashSet(StringComparer.Ordinal);
        var gone = new HashSet<ListedRule>(deleted, ReferenceEqualityComparer.Instance);
        var kept = new HashSet<string>(StringComparer.Ordinal);
        var stale = new List<string>();
        foreach (var chain in listing.Chains)
        {
            if (builder.TryParseBucket(chain, out _) && !needed.Contains(chain))
            {
                stale.Add(chain);
            }
        }

        var staleSet = stale.ToHashSet(StringComparer.Ordinal);
        foreach (var rule in listing.Rules)
        {
            if (gone.Contains(rule))
            {
                continue;
            }

            var drop = staleSet.Contains(rule.Chain);
            if (!drop && rule.JumpTarget is { } target && builder.TryParseBucket(target, out var node))
            {
                drop = !needed.Contains(target)
                    || !rule.SameSpecification(builder.DispatchJump(family, table, node).Specification)
                    || rule.Chain != builder.ParentChain(node)
                    || !kept.Add(target);
            }

            if (drop)
            {
                deleted.Add(rule);
                _ = gone.Add(rule);
            }
        }

        // Buckets before groups, so that no chain is deleted while a jump to it is still planned to stand.
        return [.. stale
            .OrderBy(c => builder.TryParseBucket(c, out var node) && node.Bucket < 0 ? 1 : 0)
            .ThenBy(static c => c, StringComparer.Ordinal)
            .Select(c => RuleChange.DeleteChain(family, table, c))];
    }
}
