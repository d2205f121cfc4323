using System.Net.Sockets;
using NatMap.Iptables.Internal;
using NatMap.Iptables.Rules;

namespace NatMap.Iptables;

public sealed partial class IptablesManager
{
    /// <inheritdoc/>
    public async Task SetupAsync(CancellationToken cancellationToken = default)
    {
        await RunOperationAsync("Setup", async journal =>
        {
            var plan = new List<Change>();
            var routeLocalnet = await ManagedRouteLocalnetAsync(cancellationToken).ConfigureAwait(false);
            foreach (var family in Families)
            {
                var listings = await ReadAsync(family, SetupTables(family), cancellationToken).ConfigureAwait(false);
                plan.AddRange(SetupChanges(family, listings, routeLocalnet));
            }

            AddRouteLocalnet(plan, routeLocalnet);
            await ApplyAsync(journal, plan, cancellationToken).ConfigureAwait(false);
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>How many of Setup's chains and rules are missing, over every family: one read per family.</summary>
    internal async Task<int> SetupMissingAsync(CancellationToken cancellationToken)
    {
        var missing = 0;
        foreach (var family in Families)
        {
            var listings = await ReadAsync(family, SetupTables(family), cancellationToken).ConfigureAwait(false);
            missing += SetupChanges(family, listings, routeLocalnet: null).Count;
        }

        return missing;
    }

    private static string[] SetupTables(AddressFamily family) =>
        family == AddressFamily.InterNetwork ? ["filter", "nat", "raw"] : ["filter", "nat"];

    /// <summary>The value of <c>route_localnet</c> when the library manages host settings, else <see langword="null"/> (not read).</summary>
    private async Task<string?> ManagedRouteLocalnetAsync(CancellationToken cancellationToken) =>
        _options.ManageHostSettings
            ? await ReadSysctlAsync(NatMapDefaults.RouteLocalnetSetting, cancellationToken).ConfigureAwait(false)
            : null;

    /// <summary>Whether Setup is to turn <c>route_localnet</c> on: the library manages host settings and it is off.</summary>
    private static bool TurnsOnRouteLocalnet(string? routeLocalnet) => routeLocalnet is not null && routeLocalnet != "1";

    /// <summary>route_localnet goes on last, after the raw-table guard that keeps packets to 127.0.0.0/8 from other interfaces out.</summary>
    private void AddRouteLocalnet(List<Change> plan, string? routeLocalnet)
    {
        if (TurnsOnRouteLocalnet(routeLocalnet))
        {
            plan.Add(new HostChange(
                _commands.WriteSysctl(NatMapDefaults.RouteLocalnetSetting, "1"),
                _commands.WriteSysctl(NatMapDefaults.RouteLocalnetSetting, "0")));
        }
    }

    /// <summary>
    /// What Setup adds to one family, given its tables as they are and the value of <c>route_localnet</c> when the
    /// library manages it (<see langword="null"/> otherwise): only what is missing.
    /// </summary>
    private List<Change> SetupChanges(AddressFamily family, Dictionary<string, TableListing> listings, string? routeLocalnet)
    {
        var turnOnRouteLocalnet = TurnsOnRouteLocalnet(routeLocalnet);
        var chain = _options.ChainName;
        var filter = listings["filter"];
        var nat = listings["nat"];
        var changes = new List<Change>();

        // Docker makes DOCKER-USER and the FORWARD jump to it; without Docker the library makes both, and only then.
        // A DOCKER-USER that nothing jumps to (a Setup stopped between the two) gets the library's jump.
        if (!filter.Chains.Contains(NatMapDefaults.DockerUserChain))
        {
            changes.Add(RuleChange.NewChain(family, "filter", NatMapDefaults.DockerUserChain));
            changes.Add(RuleChange.Add(RuleBuilder.BuildDockerUserJump(family)));
        }
        else if (!filter.InChain("FORWARD").Any(static r => r.JumpTarget == NatMapDefaults.DockerUserChain))
        {
            changes.Add(RuleChange.Add(RuleBuilder.BuildDockerUserJump(family)));
        }

        if (!filter.Chains.Contains(chain))
        {
            changes.Add(RuleChange.NewChain(family, "filter", chain));
        }

        if (!nat.Chains.Contains(chain))
        {
            changes.Add(RuleChange.NewChain(family, "nat", chain));
        }

        if (!filter.InChain(chain).Any(r => r.Comment == RuleBuilder.SetupComment && r.JumpTarget == "ACCEPT"))
        {
            changes.Add(RuleChange.Add(RuleBuilder.BuildForwardReturnRule(family)));
        }

        if (family == AddressFamily.InterNetwork)
        {
            // The guard's comment is where ownership of route_localnet lives (in the kernel, not in this object): a
            // guard marked :route_localnet says the library turned the setting on and FlushAll turns it off. When Setup
            // turns it on, the guard it leaves is the marked one, replacing an unmarked guard of this prefix. When the
            // setting is already on and no loopback guard at all stands (another tool flushed the raw table after the
            // library turned it on), the guard put back is marked too: FlushAll is then the one to turn it off.
            var raw = listings["raw"];
            var allGuards = raw.InChain("PREROUTING").Where(IsLoopbackGuard).ToList();
            var guards = allGuards.Where(r => r.Comment == RuleBuilder.SetupComment || r.Comment == RuleBuilder.RouteLocalnetComment).ToList();
            var marked = guards.Any(r => r.Comment == RuleBuilder.RouteLocalnetComment);
            var markIt = turnOnRouteLocalnet || (routeLocalnet == "1" && allGuards.Count == 0);
            if (guards.Count == 0 || (turnOnRouteLocalnet && !marked))
            {
                changes.Add(RuleChange.Add(RuleBuilder.BuildLoopbackGuard(restoresRouteLocalnet: markIt)));
                if (turnOnRouteLocalnet)
                {
                    changes.AddRange(raw.DeletesInOrder(family, "raw", guards));
                }
            }

            if (!nat.InChain("POSTROUTING").Any(r => r.Comment == RuleBuilder.SetupComment && r.JumpTarget == "MASQUERADE"))
            {
                changes.Add(RuleChange.Add(RuleBuilder.BuildLoopbackMasquerade()));
            }
        }

        foreach (var jump in RuleBuilder.BuildSetupJumps(family))
        {
            var listing = jump.Table == "nat" ? nat : filter;
            if (!listing.InChain(jump.Chain).Any(r => r.Comment == RuleBuilder.SetupComment && r.JumpTarget == chain))
            {
                changes.Add(RuleChange.Add(jump));
            }
        }

        return changes;
    }

    /// <summary>
    /// Whether a rule is a loopback guard, whoever made it: a raw <c>PREROUTING</c> rule that drops packets to
    /// 127.0.0.0/8 arriving on any interface but <c>lo</c>, whatever its comment.
    /// </summary>
    private bool IsLoopbackGuard(ListedRule rule) =>
        rule.Chain == "PREROUTING"
        && rule.JumpTarget == "DROP"
        && WithoutComment(rule.Specification).SequenceEqual(WithoutComment(RuleBuilder.BuildLoopbackGuard().Specification), StringComparer.Ordinal);

    private static IEnumerable<string> WithoutComment(IReadOnlyList<string> specification)
    {
        for (var i = 0; i < specification.Count; i++)
        {
            if (specification[i] == "-m" && i + 3 < specification.Count && specification[i + 1] == "comment" && specification[i + 2] == "--comment")
            {
                i += 3;
                continue;
            }

            yield return specification[i];
        }
    }

    private async Task<string> ReadSysctlAsync(string setting, CancellationToken cancellationToken)
    {
        var result = await RunCheckedAsync(_commands.ReadSysctl(setting), cancellationToken).ConfigureAwait(false);
        return result.StandardOutput.Trim();
    }
}
