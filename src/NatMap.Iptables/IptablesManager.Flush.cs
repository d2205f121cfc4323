using System.Net.Sockets;
using NatMap.Iptables.Internal;

namespace NatMap.Iptables;

public sealed partial class IptablesManager
{
    private static readonly string[] FlushedTables = ["raw", "nat", "filter"];

    /// <inheritdoc/>
    public async Task FlushAllAsync(CancellationToken cancellationToken = default)
    {
        await RunOperationAsync("FlushAll", async journal =>
        {
            // Like every operation, a failed flush is undone: each deleted rule goes back where it was.
            var plan = new List<Change>();
            foreach (var family in Families)
            {
                var listings = await ReadAsync(family, FlushedTables, cancellationToken).ConfigureAwait(false);
                foreach (var table in FlushedTables)
                {
                    FlushChanges(family, table, listings[table], plan);
                }

                if (family == AddressFamily.InterNetwork && await RouteLocalnetToTurnOffAsync(listings["raw"], cancellationToken).ConfigureAwait(false))
                {
                    // Off first, while the guard still stands; undone (back to 1) only after every later step was undone,
                    // the guard's return included, because rollback stops at the first undo that fails.
                    plan.Insert(0, new HostChange(
                        _commands.WriteSysctl(NatMapDefaults.RouteLocalnetSetting, "0"),
                        _commands.WriteSysctl(NatMapDefaults.RouteLocalnetSetting, "1")));
                }
            }

            await ApplyAsync(journal, plan, cancellationToken).ConfigureAwait(false);
            await ResetFlowsAsync(journal, plan.OfType<RuleChange>(), cancellationToken).ConfigureAwait(false);
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Whether FlushAll turns <c>route_localnet</c> off before it deletes this prefix's loopback guards: when a guard
    /// says the library turned it on (its comment ends in <c>:route_localnet</c>), or when the library manages host
    /// settings, the setting is 1 and no other loopback guard (another prefix's, or a foreign one) would remain. So
    /// FlushAll never leaves route_localnet=1 without a guard, whoever turned it on and whatever this object remembers.
    /// </summary>
    private async Task<bool> RouteLocalnetToTurnOffAsync(TableListing raw, CancellationToken cancellationToken)
    {
        var guards = raw.InChain("PREROUTING").Where(IsLoopbackGuard).ToList();
        var ours = guards.Where(r => r.Comment?.StartsWith(_options.CommentPrefix + ":", StringComparison.Ordinal) == true).ToList();
        if (ours.Any(r => r.Comment == RuleBuilder.RouteLocalnetComment))
        {
            return true;
        }

        return _options.ManageHostSettings
            && ours.Count > 0
            && ours.Count == guards.Count
            && await ReadSysctlAsync(NatMapDefaults.RouteLocalnetSetting, cancellationToken).ConfigureAwait(false) == "1";
    }

    private void FlushChanges(AddressFamily family, string table, TableListing listing, List<Change> plan)
    {
        var chain = _options.ChainName;
        var owned = _options.CommentPrefix + ":";

        // Rules the library put in other chains, jumps included, so the library's chains are no longer referenced;
        // then every rule of its own chain, which is deleted empty. Each deleted rule's undo puts it back where it was.
        var ours = listing.Rules
            .Where(r => r.Chain != chain && r.Comment?.StartsWith(owned, StringComparison.Ordinal) == true)
            .ToList();

        plan.AddRange(listing.DeletesInOrder(family, table, [.. ours, .. listing.InChain(chain)], tolerateMissing: true));
        if (listing.Chains.Contains(chain))
        {
            plan.Add(RuleChange.DeleteChain(family, table, chain) with { UndoVerb = "-N" });
        }

        // DOCKER-USER goes only if the library made it (its FORWARD jump carried our comment, or nothing jumps to it: a
        // Setup stopped between making it and its jump) and nothing else uses it. Docker's always has Docker's jump.
        var dockerUser = NatMapDefaults.DockerUserChain;
        var madeDockerUser = ours.Any(r => r.Chain == "FORWARD" && r.JumpTarget == dockerUser)
            || !listing.Rules.Any(r => r.JumpTarget == dockerUser);
        if (table == "filter" && madeDockerUser && listing.Chains.Contains(dockerUser))
        {
            var remaining = listing.Rules.Except(ours).Where(r => r.Chain != chain).ToList();
            if (!remaining.Any(r => r.Chain == dockerUser || r.JumpTarget == dockerUser))
            {
                plan.Add(RuleChange.DeleteChain(family, table, dockerUser) with { UndoVerb = "-N" });
            }
        }
    }
}
