using System.Net.Sockets;
using NatMap.Iptables.Internal;

namespace NatMap.Iptables;

public sealed partial class IptablesManager
{
    private static readonly string[] FlushedTables = ["raw", "nat", "filter"];

    /// <inheritdoc/>
    public async Task FlushAllAsync(CancellationToken cancellationToken = default)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            // Flushing is not undone on failure: it only removes, and running it again finishes the job.
            var journal = new UndoJournal(this, "FlushAll");
            foreach (var family in Families)
            {
                foreach (var table in FlushedTables)
                {
                    await FlushTableAsync(family, table, journal, cancellationToken).ConfigureAwait(false);
                }
            }

            Log.OperationDone(_logger, "FlushAll", journal.Commands);
        }
        finally
        {
            _ = _gate.Release();
        }
    }

    private async Task FlushTableAsync(AddressFamily family, string table, UndoJournal journal, CancellationToken cancellationToken)
    {
        var chain = _options.ChainName;
        var owned = _options.CommentPrefix + ":";
        var listing = await ListAsync(family, table, cancellationToken).ConfigureAwait(false);

        // Rules the library put in other chains, jumps included, so the library's chains are no longer referenced.
        var ours = listing.Rules
            .Where(r => r.Chain != chain && r.Comment?.StartsWith(owned, StringComparison.Ordinal) == true)
            .Reverse()
            .ToList();
        foreach (var rule in ours)
        {
            await journal.ApplyAsync(_commands.Create(family, ["-t", table, "-D", rule.Chain, .. rule.Specification]), null, cancellationToken, tolerateMissing: true).ConfigureAwait(false);
        }

        // The guard's comment records that Setup turned route_localnet on; put it back now that the guard is gone.
        if (ours.Any(r => r.Comment == RuleBuilder.RouteLocalnetComment))
        {
            await journal.ApplyAsync(_commands.WriteSysctl(NatMapDefaults.RouteLocalnetSetting, "0"), null, cancellationToken).ConfigureAwait(false);
        }

        if (listing.Chains.Contains(chain))
        {
            await journal.ApplyAsync(_commands.Create(family, ["-t", table, "-F", chain]), null, cancellationToken, tolerateMissing: true).ConfigureAwait(false);
            await journal.ApplyAsync(_commands.Create(family, ["-t", table, "-X", chain]), null, cancellationToken, tolerateMissing: true).ConfigureAwait(false);
        }

        // DOCKER-USER goes only if the library made it (its FORWARD jump carried our comment) and nothing else uses it.
        var dockerUser = NatMapDefaults.DockerUserChain;
        var madeDockerUser = ours.Any(r => r.Chain == "FORWARD" && r.JumpTarget == dockerUser);
        if (table == "filter" && madeDockerUser && listing.Chains.Contains(dockerUser))
        {
            var remaining = listing.Rules.Except(ours).Where(r => r.Chain != chain).ToList();
            var inUse = remaining.Any(r => r.Chain == dockerUser || r.JumpTarget == dockerUser);
            if (!inUse)
            {
                await journal.ApplyAsync(_commands.Create(family, ["-t", table, "-X", dockerUser]), null, cancellationToken, tolerateMissing: true).ConfigureAwait(false);
            }
        }
    }
}
