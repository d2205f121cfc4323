using System.Net.Sockets;

namespace NatMap.Iptables.Internal;

/// <summary>
/// What both rule appliers journal: the restore that undoes changes that took effect, and, after a failure, a timeout or
/// a cancellation, the undo of exactly the changes a fresh read of the tables shows (each table of a restore commits on
/// its own, and a per-rule process may have made its change before it was killed).
/// </summary>
internal sealed class PartialCommit(HostCommands commands, ITableReader reader)
{
    /// <summary>Journals the restore that undoes <paramref name="applied"/>, rendered only if the operation rolls back.</summary>
    public void JournalInverse(Operation operation, AddressFamily family, IReadOnlyList<RuleChange> applied)
    {
        if (applied.Any(static c => c.Undo is not null))
        {
            operation.Push(() => commands.Restore(
                family,
                RestoreScript.Render([.. applied.Reverse().Select(static c => c.Undo).OfType<RuleChange>()])));
        }
    }

    /// <summary>Reads the tables back and journals the undo of the changes that took effect; when the read fails, rollback stops here.</summary>
    public async Task JournalVisibleAsync(Operation operation, AddressFamily family, IReadOnlyList<RuleChange> changes)
    {
        var undoable = changes.Where(static c => c.Undo is not null).ToList();
        if (undoable.Count == 0)
        {
            return;
        }

        try
        {
            // Not cancellable (but bounded by CommandTimeout): without this read, rollback could not know which tables committed.
            var listings = await reader.ReadAsync(family, [.. undoable.Select(static c => c.Table).Distinct()], comment: null, CancellationToken.None).ConfigureAwait(false);
            JournalInverse(operation, family, [.. undoable.Where(c => c.IsVisibleIn(listings[c.Table]))]);
        }
#pragma warning disable CA1031 // The failure being reported is the change's; without the read, rollback stops here.
        catch (Exception exception)
#pragma warning restore CA1031
        {
            Log.RollbackFailed(operation.Executor.Logger, operation.Name, commands.Save(family), -1, exception.Message);
            operation.PushUnknown();
        }
    }
}
