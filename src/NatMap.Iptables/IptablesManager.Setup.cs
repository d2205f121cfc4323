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
            var turnOnRouteLocalnet = await RouteLocalnetNeededAsync(cancellationToken).ConfigureAwait(false);
            foreach (var family in Families)
            {
                var listings = await ReadAsync(family, SetupTables(family), cancellationToken).ConfigureAwait(false);
                plan.AddRange(SetupChanges(family, listings, turnOnRouteLocalnet));
            }

            AddRouteLocalnet(plan, turnOnRouteLocalnet);
            await ApplyAsync(journal, plan, cancellationToken).ConfigureAwait(false);
            _routeLocalnetIsOurs |= turnOnRouteLocalnet;
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>How many of Setup's chains and rules are missing, over every family: one read per family.</summary>
    internal async Task<int> SetupMissingAsync(CancellationToken cancellationToken)
    {
        var missing = 0;
        foreach (var family in Families)
        {
            var listings = await ReadAsync(family, SetupTables(family), cancellationToken).ConfigureAwait(false);
            missing += SetupChanges(family, listings, turnOnRouteLocalnet: false).Count;
        }

        return missing;
    }

    /// <summary>Whether this manager turned route_localnet on (and FlushAll has not turned it off since).</summary>
    private bool _routeLocalnetIsOurs;

    private static string[] SetupTables(AddressFamily family) =>
        family == AddressFamily.InterNetwork ? ["filter", "nat", "raw"] : ["filter", "nat"];

    /// <summary>Whether Setup is to turn <c>route_localnet</c> on: the library manages host settings and it is off.</summary>
    private async Task<bool> RouteLocalnetNeededAsync(CancellationToken cancellationToken) =>
        _options.ManageHostSettings
        && await ReadSysctlAsync(NatMapDefaults.RouteLocalnetSetting, cancellationToken).ConfigureAwait(false) != "1";

    /// <summary>route_localnet goes on last, after the raw-table guard that keeps packets to 127.0.0.0/8 from other interfaces out.</summary>
    private void AddRouteLocalnet(List<Change> plan, bool turnOn)
    {
        if (turnOn)
        {
            plan.Add(new HostChange(
                _commands.WriteSysctl(NatMapDefaults.RouteLocalnetSetting, "1"),
                _commands.WriteSysctl(NatMapDefaults.RouteLocalnetSetting, "0")));
        }
    }

    /// <summary>What Setup adds to one family, given its tables as they are: only what is missing.</summary>
    private List<Change> SetupChanges(AddressFamily family, Dictionary<string, ChainListing> listings, bool turnOnRouteLocalnet)
    {
        var chain = _options.ChainName;
        var filter = listings["filter"];
        var nat = listings["nat"];
        var changes = new List<Change>();

        // Docker makes DOCKER-USER and the FORWARD jump to it; without Docker the library makes both, and only then.
        if (!filter.Chains.Contains(NatMapDefaults.DockerUserChain))
        {
            changes.Add(RuleChange.NewChain(family, "filter", NatMapDefaults.DockerUserChain));
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
            var hasGuard = listings["raw"].InChain("PREROUTING").Any(r =>
                r.JumpTarget == "DROP" && (r.Comment == RuleBuilder.SetupComment || r.Comment == RuleBuilder.RouteLocalnetComment));
            if (!hasGuard)
            {
                // A guard put back after another tool flushed it keeps saying that route_localnet is the library's to
                // turn off, when this manager turned it on: FlushAll must not leave it on without the guard.
                changes.Add(RuleChange.Add(RuleBuilder.BuildLoopbackGuard(restoresRouteLocalnet: turnOnRouteLocalnet || _routeLocalnetIsOurs)));
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

    private async Task<string> ReadSysctlAsync(string setting, CancellationToken cancellationToken)
    {
        var result = await RunCheckedAsync(_commands.ReadSysctl(setting), cancellationToken).ConfigureAwait(false);
        return result.StandardOutput.Trim();
    }
}
