using System.Net.Sockets;

namespace NatMap.Iptables.Internal;

/// <summary>
/// Applies one family's changes as one <c>iptables-restore --noflush</c> (<see cref="RuleApplyMode.Batch"/>). On
/// success the operation gets the inverse restore. On failure or cancellation it finds out what took effect, because
/// each table commits on its own and the tables before the failing one are already in.
/// </summary>
internal sealed class RestoreApplier(HostCommands commands, PartialCommit partial) : IRuleApplier
{
    /// <inheritdoc/>
    public async Task ApplyAsync(Operation operation, AddressFamily family, IReadOnlyList<RuleChange> changes, CancellationToken cancellationToken)
    {
        if (changes.Count == 0)
        {
            return;
        }

        var command = commands.Restore(family, RestoreScript.Render(changes));
        cancellationToken.ThrowIfCancellationRequested(); // not started: nothing to read back
        CommandResult result;
        try
        {
            result = await operation.RunAsync(command, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            // A timeout (TimeoutException) or a cancellation may come after some tables committed.
            await partial.JournalVisibleAsync(operation, family, changes).ConfigureAwait(false);
            throw;
        }

        if (!result.IsSuccess)
        {
            await partial.JournalVisibleAsync(operation, family, changes).ConfigureAwait(false);
            throw new IptablesCommandException(command, result);
        }

        partial.JournalInverse(operation, family, changes);
        operation.Executor.Telemetry.RulesChanged(family, changes);
    }
}
