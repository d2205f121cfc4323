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

    private Task CreateChainAsync(UndoJournal journal, AddressFamily family, string table, string chain, CancellationToken cancellationToken) =>
        journal.ApplyAsync(
            _commands.Create(family, ["-t", table, "-N", chain]),
            _commands.Create(family, ["-t", table, "-X", chain]),
            cancellationToken);
}
