using System.Net.Sockets;
using NatMap.Iptables.Internal;
using NatMap.Iptables.Rules;

namespace NatMap.Iptables;

public sealed partial class IptablesManager
{
    /// <inheritdoc/>
    public async Task SetupAsync(CancellationToken cancellationToken = default)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        var journal = new UndoJournal(this, "Setup");
        try
        {
            foreach (var family in Families)
            {
                await SetupFamilyAsync(family, journal, cancellationToken).ConfigureAwait(false);
            }

            Log.OperationDone(_logger, "Setup", journal.Commands);
        }
        catch (Exception exception)
        {
            await journal.RollBackAsync(exception).ConfigureAwait(false);
            throw;
        }
        finally
        {
            _ = _gate.Release();
        }
    }

    private async Task SetupFamilyAsync(AddressFamily family, UndoJournal journal, CancellationToken cancellationToken)
    {
        var chain = _options.ChainName;
        var filter = await ListAsync(family, "filter", cancellationToken).ConfigureAwait(false);
        var nat = await ListAsync(family, "nat", cancellationToken).ConfigureAwait(false);

        // Docker makes DOCKER-USER and the FORWARD jump to it; without Docker the library makes both, and only then.
        if (!filter.Chains.Contains(NatMapDefaults.DockerUserChain))
        {
            await CreateChainAsync(journal, family, "filter", NatMapDefaults.DockerUserChain, cancellationToken).ConfigureAwait(false);
            var jump = RuleBuilder.BuildDockerUserJump(family);
            await journal.ApplyAsync(_commands.ForRule(jump, RuleAction.Add), _commands.ForRule(jump, RuleAction.Delete), cancellationToken).ConfigureAwait(false);
        }

        if (!filter.Chains.Contains(chain))
        {
            await CreateChainAsync(journal, family, "filter", chain, cancellationToken).ConfigureAwait(false);
        }

        if (!nat.Chains.Contains(chain))
        {
            await CreateChainAsync(journal, family, "nat", chain, cancellationToken).ConfigureAwait(false);
        }

        if (!filter.InChain(chain).Any(r => r.Comment == RuleBuilder.SetupComment && r.JumpTarget == "ACCEPT"))
        {
            var returns = RuleBuilder.BuildForwardReturnRule(family);
            await journal.ApplyAsync(_commands.ForRule(returns, RuleAction.Add), _commands.ForRule(returns, RuleAction.Delete), cancellationToken).ConfigureAwait(false);
        }

        if (family == AddressFamily.InterNetwork)
        {
            await SetupLoopbackAsync(journal, cancellationToken).ConfigureAwait(false);
        }

        foreach (var jump in RuleBuilder.BuildSetupJumps(family))
        {
            var listing = jump.Table == "nat" ? nat : filter;
            if (listing.InChain(jump.Chain).Any(r => r.Comment == RuleBuilder.SetupComment && r.JumpTarget == chain))
            {
                continue;
            }

            await journal.ApplyAsync(_commands.ForRule(jump, RuleAction.Add), _commands.ForRule(jump, RuleAction.Delete), cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The raw-table guard first, then route_localnet: the setting is never on without the guard that keeps packets to
    /// 127.0.0.0/8 from other interfaces out.
    /// </summary>
    private async Task SetupLoopbackAsync(UndoJournal journal, CancellationToken cancellationToken)
    {
        var raw = await ListAsync(AddressFamily.InterNetwork, "raw", cancellationToken).ConfigureAwait(false);
        var routeLocalnetOff = _options.ManageHostSettings
            && await ReadSysctlAsync(NatMapDefaults.RouteLocalnetSetting, cancellationToken).ConfigureAwait(false) != "1";
        var hasGuard = raw.InChain("PREROUTING").Any(r =>
            r.JumpTarget == "DROP" && (r.Comment == RuleBuilder.SetupComment || r.Comment == RuleBuilder.RouteLocalnetComment));
        if (!hasGuard)
        {
            var guard = RuleBuilder.BuildLoopbackGuard(restoresRouteLocalnet: routeLocalnetOff);
            await journal.ApplyAsync(_commands.ForRule(guard, RuleAction.Add), _commands.ForRule(guard, RuleAction.Delete), cancellationToken).ConfigureAwait(false);
        }

        if (routeLocalnetOff)
        {
            await journal.ApplyAsync(
                _commands.WriteSysctl(NatMapDefaults.RouteLocalnetSetting, "1"),
                _commands.WriteSysctl(NatMapDefaults.RouteLocalnetSetting, "0"),
                cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task<string> ReadSysctlAsync(string setting, CancellationToken cancellationToken)
    {
        var result = await RunCheckedAsync(_commands.ReadSysctl(setting), cancellationToken).ConfigureAwait(false);
        return result.StandardOutput.Trim();
    }

    private Task CreateChainAsync(UndoJournal journal, AddressFamily family, string table, string chain, CancellationToken cancellationToken) =>
        journal.ApplyAsync(
            _commands.Create(family, ["-t", table, "-N", chain]),
            _commands.Create(family, ["-t", table, "-X", chain]),
            cancellationToken);
}
