using System.Net.Sockets;

namespace NatMap.Iptables.Internal;

/// <summary>
/// Applies each change as its own <c>iptables [-w N] -t TABLE …</c> (<see cref="RuleApplyMode.PerRule"/>), each
/// journaled with its own undo as soon as it took effect.
/// </summary>
internal sealed class PerRuleApplier(HostCommands commands, PartialCommit partial) : IRuleApplier
{
    /// <inheritdoc/>
    public async Task ApplyAsync(Operation operation, AddressFamily family, IReadOnlyList<RuleChange> changes, CancellationToken cancellationToken)
    {
        foreach (var change in changes)
        {
            var undo = change.Undo is { } inverse ? commands.ForChange(inverse) : null;
            cancellationToken.ThrowIfCancellationRequested(); // not started: nothing to read back
            bool applied;
            try
            {
                applied = await operation.ApplyAsync(commands.ForChange(change), undo, cancellationToken, change.TolerateMissing, UnknownOutcome.CallerFindsOut).ConfigureAwait(false);
            }
            catch (Exception exception) when (exception is not IptablesCommandException)
            {
                // The process may have made its change before it timed out or was cancelled: read it back.
                await partial.JournalVisibleAsync(operation, family, [change]).ConfigureAwait(false);
                throw;
            }

            if (applied)
            {
                operation.Executor.Telemetry.RulesChanged(family, [change]);
            }
        }
    }
}
