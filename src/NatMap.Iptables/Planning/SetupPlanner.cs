using System.Net.Sockets;
using NatMap.Iptables.Rules;

namespace NatMap.Iptables.Internal;

/// <summary>
/// Plans Setup: from the tables as they are, what is missing of the library's chains, jumps, guards and
/// <c>route_localnet</c>. Pure: no I/O.
/// </summary>
internal sealed class SetupPlanner(NatRuleBuilder builder, HostSettings host)
{
    /// <summary>The tables Setup reads and writes in <paramref name="family"/>.</summary>
    public static string[] Tables(AddressFamily family) =>
        family == AddressFamily.InterNetwork ? ["filter", "nat", "raw"] : ["filter", "nat"];

    /// <summary>
    /// The whole plan of Setup over every family: each family's missing chains and rules, then <c>route_localnet</c>
    /// (last, after the guard). <paramref name="routeLocalnet"/> is its value when the library manages it, else
    /// <see langword="null"/>.
    /// </summary>
    public List<Change> Plan(IEnumerable<(AddressFamily Family, Dictionary<string, TableListing> Listings)> families, string? routeLocalnet)
    {
        var plan = new List<Change>();
        foreach (var (family, listings) in families)
        {
            plan.AddRange(Changes(family, listings, routeLocalnet));
        }

        host.AddTurnOn(plan, routeLocalnet);
        return plan;
    }

    /// <summary>
    /// What Setup adds to one family, given its tables as they are and the value of <c>route_localnet</c> when the
    /// library manages it (<see langword="null"/> otherwise): only what is missing. No host change.
    /// </summary>
    public List<Change> Changes(AddressFamily family, Dictionary<string, TableListing> listings, string? routeLocalnet)
    {
        var turnOnRouteLocalnet = HostSettings.TurnsOn(routeLocalnet);
        var chain = builder.ChainName;
        var filter = listings["filter"];
        var nat = listings["nat"];
        var changes = new List<Change>();

        // Docker makes DOCKER-USER and the FORWARD jump to it; without Docker the library makes both, and only then.
        // A DOCKER-USER that nothing jumps to (a Setup stopped between the two) gets the library's jump.
        if (!filter.Chains.Contains(NatMapDefaults.DockerUserChain))
        {
            changes.Add(RuleChange.NewChain(family, "filter", NatMapDefaults.DockerUserChain));
            changes.Add(RuleChange.Add(builder.BuildDockerUserJump(family)));
        }
        else if (!filter.InChain("FORWARD").Any(static r => r.JumpTarget == NatMapDefaults.DockerUserChain))
        {
            changes.Add(RuleChange.Add(builder.BuildDockerUserJump(family)));
        }

        if (!filter.Chains.Contains(chain))
        {
            changes.Add(RuleChange.NewChain(family, "filter", chain));
        }

        if (!nat.Chains.Contains(chain))
        {
            changes.Add(RuleChange.NewChain(family, "nat", chain));
        }

        // Translated connections go on to the hairpin rules of the mappings; every other connection passes POSTROUTING
        // with this one jump.
        if (!nat.Chains.Contains(builder.PostroutingChainName))
        {
            changes.Add(RuleChange.NewChain(family, "nat", builder.PostroutingChainName));
        }

        if (!nat.InChain("POSTROUTING").Any(r => r.Comment == builder.SetupComment && r.JumpTarget == builder.PostroutingChainName))
        {
            changes.Add(RuleChange.Add(builder.BuildPostroutingJump(family)));
        }

        if (!filter.InChain(chain).Any(r => r.Comment == builder.SetupComment && r.JumpTarget == "ACCEPT"))
        {
            changes.Add(RuleChange.Add(builder.BuildForwardReturnRule(family)));
        }

        if (family == AddressFamily.InterNetwork)
        {
            // The guard's comment is where ownership of route_localnet lives (see HostSettings). When Setup turns it on,
            // the guard it leaves is the marked one, replacing an unmarked guard of this prefix.
            var raw = listings["raw"];
            var allGuards = raw.InChain("PREROUTING").Where(builder.IsLoopbackGuard).ToList();
            var guards = allGuards.Where(r => r.Comment == builder.SetupComment || r.Comment == builder.RouteLocalnetComment).ToList();
            var marked = guards.Any(r => r.Comment == builder.RouteLocalnetComment);
            if (guards.Count == 0 || (turnOnRouteLocalnet && !marked))
            {
                changes.Add(RuleChange.Add(builder.BuildLoopbackGuard(restoresRouteLocalnet: HostSettings.MarksGuard(routeLocalnet, allGuards.Count))));
                if (turnOnRouteLocalnet)
                {
                    changes.AddRange(raw.DeletesInOrder(family, "raw", guards));
                }
            }

            if (!nat.InChain("POSTROUTING").Any(r => r.Comment == builder.SetupComment && r.JumpTarget == "MASQUERADE"))
            {
                changes.Add(RuleChange.Add(builder.BuildLoopbackMasquerade()));
            }
        }

        foreach (var jump in builder.BuildSetupJumps(family))
        {
            var listing = jump.Table == "nat" ? nat : filter;
            if (!listing.InChain(jump.Chain).Any(r => r.Comment == builder.SetupComment && r.JumpTarget == chain))
            {
                changes.Add(RuleChange.Add(jump));
            }
        }

        return changes;
    }
}
