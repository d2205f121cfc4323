using System.Net.Sockets;
using NatMap.Iptables.Internal;
using NatMap.Iptables.Rules;

namespace NatMap.Iptables.Nftables;

/// <summary>
/// Plans the nftables backend's one iptables rule: an accept in <c>DOCKER-USER</c> for connections our DNATs marked.
/// In nftables an accept is not final: a drop in iptables' own FORWARD base chain (Docker's policy, ufw's) still drops a
/// connection our table translated. The rule is written only where iptables filters forwarded traffic: FORWARD's policy
/// is not ACCEPT, FORWARD holds a rule, or <c>DOCKER-USER</c> exists. A host that uses no iptables gets nothing, so
/// FlushAll leaves its ruleset exactly as it was. Pure: no I/O.
/// </summary>
internal sealed class NftCoexistence(NatRuleBuilder builder)
{
    /// <summary>Gets the accept rule's comment: owned by the prefix, so FlushAll's iptables planner deletes it.</summary>
    public string Comment { get; } = $"{builder.CommentPrefix}:{NftSchema.CoexistenceCommentSuffix}";

    /// <summary>The accept rule of one family.</summary>
    public IptablesRule Accept(AddressFamily family) => NftRenderer.DockerUserAccept(family, Comment);

    /// <summary>
    /// Whether iptables filters forwarded traffic in the family, judged from <c>iptables-save -t filter</c>: a FORWARD
    /// chain whose policy is not ACCEPT, a FORWARD chain holding any rule, or a <c>DOCKER-USER</c> chain (Docker's, or a
    /// previous Setup's).
    /// </summary>
    public static bool Filters(string save, TableListing filter)
    {
        ArgumentNullException.ThrowIfNull(save);
        ArgumentNullException.ThrowIfNull(filter);
        var policy = TableListing.LogicalLines(save)
            .Select(static line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .FirstOrDefault(static words => words.Length >= 2 && words[0] == ":FORWARD")?[1];
        return (policy is not null && policy != "ACCEPT")
            || filter.InChain("FORWARD").Any()
            || filter.Chains.Contains(NatMapDefaults.DockerUserChain);
    }

    /// <summary>
    /// What Setup adds to one family's filter table: nothing where iptables does not filter forwarding; otherwise
    /// <c>DOCKER-USER</c> and its FORWARD jump when missing (as the iptables backend makes them), and the accept rule.
    /// </summary>
    public List<Change> Plan(AddressFamily family, string save, TableListing filter)
    {
        var changes = new List<Change>();
        if (!Filters(save, filter))
        {
            return changes;
        }

        var dockerUser = NatMapDefaults.DockerUserChain;
        if (!filter.Chains.Contains(dockerUser))
        {
            changes.Add(RuleChange.NewChain(family, "filter", dockerUser));
            changes.Add(RuleChange.Add(builder.BuildDockerUserJump(family)));
        }
        else if (!filter.InChain("FORWARD").Any(static r => r.JumpTarget == NatMapDefaults.DockerUserChain))
        {
            changes.Add(RuleChange.Add(builder.BuildDockerUserJump(family)));
        }

        // Found by its comment, whatever else a hand edit changed in it.
        if (!filter.InChain(dockerUser).Any(r => r.Comment == Comment))
        {
            changes.Add(RuleChange.Add(Accept(family)));
        }

        return changes;
    }
}
