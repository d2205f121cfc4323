using System.Net.Sockets;
using NatMap.Iptables.Internal;

namespace NatMap.Iptables;

public sealed partial class IptablesManager
{
    /// <summary>
    /// Reads tables of one family: one <c>iptables-save</c> for all of them in batch mode (with <c>-t</c> when only
    /// one is wanted), one <c>iptables -t TABLE -S</c> per table in per-rule mode. A table the kernel does not have
    /// reads as empty.
    /// </summary>
    private async Task<Dictionary<string, TableListing>> ReadAsync(AddressFamily family, string[] tables, CancellationToken cancellationToken)
    {
        var listings = new Dictionary<string, TableListing>(StringComparer.Ordinal);
        if (_options.Transport == IptablesTransport.Batch)
        {
            var result = await RunCheckedAsync(_commands.Save(family, tables.Length == 1 ? tables[0] : null), cancellationToken).ConfigureAwait(false);
            var saved = SaveListing.Parse(result.StandardOutput);
            foreach (var table in tables)
            {
                listings[table] = saved.GetValueOrDefault(table) ?? TableListing.Empty;
            }
        }
        else
        {
            foreach (var table in tables)
            {
                var result = await RunCheckedAsync(_commands.Create(family, ["-t", table, "-S"]), cancellationToken).ConfigureAwait(false);
                listings[table] = TableListing.Parse(result.StandardOutput);
            }
        }

        return listings;
    }

    /// <summary>
    /// Reads the tables one object's rules go to, keeping only the rule lines that carry its comment (every chain is
    /// still listed, and every kept rule knows its position). An install among thousands of rules then tokenizes a
    /// handful of lines instead of every rule of every table (review item 5). In batch mode a save that printed no
    /// table at all (a fresh nft host creates a table only when it is first used) is followed by one
    /// <c>iptables-save -t TABLE</c>, which lists the built-in chains of a real host, so that <see cref="RequireSetup"/>
    /// can tell a host without the library's chain from a runner that runs nothing.
    /// </summary>
    private async Task<Dictionary<string, TableListing>> ReadObjectAsync(AddressFamily family, string[] tables, string comment, CancellationToken cancellationToken)
    {
        bool Keep(string line) => line.Contains(comment, StringComparison.Ordinal);
        var listings = new Dictionary<string, TableListing>(StringComparer.Ordinal);
        if (_options.Transport == IptablesTransport.Batch)
        {
            var result = await RunCheckedAsync(_commands.Save(family, tables.Length == 1 ? tables[0] : null), cancellationToken).ConfigureAwait(false);
            var saved = SaveListing.Parse(result.StandardOutput, Keep);
            if (saved.Count == 0 && tables.Length > 1 && result.StandardOutput.Length == 0)
            {
                var one = await RunCheckedAsync(_commands.Save(family, tables[0]), cancellationToken).ConfigureAwait(false);
                saved = SaveListing.Parse(one.StandardOutput, Keep);
            }

            foreach (var table in tables)
            {
                listings[table] = saved.GetValueOrDefault(table) ?? TableListing.Empty;
            }
        }
        else
        {
            foreach (var table in tables)
            {
                var result = await RunCheckedAsync(_commands.Create(family, ["-t", table, "-S"]), cancellationToken).ConfigureAwait(false);
                listings[table] = TableListing.Parse(result.StandardOutput, Keep);
            }
        }

        return listings;
    }

    /// <summary>
    /// Applies a plan in order. Consecutive rule changes form a segment, run family by family and, within a family,
    /// table by table: in batch mode as one <c>iptables-restore</c> per family, in per-rule mode as one command per
    /// change. Host changes (sysctl writes) run between segments. Every applied step leaves its undo in the journal.
    /// </summary>
    private async Task ApplyAsync(UndoJournal journal, IReadOnlyList<Change> plan, CancellationToken cancellationToken)
    {
        var segment = new List<RuleChange>();
        foreach (var change in plan)
        {
            if (change is RuleChange rule)
            {
                segment.Add(rule);
                continue;
            }

            await ApplySegmentAsync(journal, segment, cancellationToken).ConfigureAwait(false);
            segment.Clear();
            var host = (HostChange)change;
            _ = await journal.ApplyAsync(host.Command, host.Undo, cancellationToken, unknown: UnknownOutcome.Undo).ConfigureAwait(false);
        }

        await ApplySegmentAsync(journal, segment, cancellationToken).ConfigureAwait(false);
    }

    private async Task ApplySegmentAsync(UndoJournal journal, List<RuleChange> segment, CancellationToken cancellationToken)
    {
        foreach (var family in segment.GroupBy(static c => c.Family))
        {
            var changes = RestoreScript.GroupByTable(family).SelectMany(static t => t).ToList();
            if (_options.Transport == IptablesTransport.Batch)
            {
                await ApplyBatchAsync(journal, family.Key, changes, cancellationToken).ConfigureAwait(false);
                continue;
            }

            foreach (var change in changes)
            {
                var undo = change.Inverse() is { } inverse ? _commands.ForChange(inverse) : null;
                cancellationToken.ThrowIfCancellationRequested(); // not started: nothing to read back
                bool applied;
                try
                {
                    applied = await journal.ApplyAsync(_commands.ForChange(change), undo, cancellationToken, change.TolerateMissing, UnknownOutcome.CallerFindsOut).ConfigureAwait(false);
                }
                catch (Exception exception) when (exception is not IptablesCommandException)
                {
                    // The process may have made its change before it timed out or was cancelled: read it back.
                    await JournalVisibleAsync(journal, family.Key, [change]).ConfigureAwait(false);
                    throw;
                }

                if (applied)
                {
                    _telemetry.RulesChanged(family.Key, [change]);
                }
            }
        }
    }

    /// <summary>Applies one family's changes in one restore; throws <see cref="IptablesCommandException"/> when it fails.</summary>
    private async Task ApplyBatchAsync(UndoJournal journal, AddressFamily family, List<RuleChange> changes, CancellationToken cancellationToken)
    {
        if (await RunBatchAsync(journal, family, changes, cancellationToken).ConfigureAwait(false) is { } failure)
        {
            throw failure;
        }
    }

    /// <summary>
    /// Runs one family's changes as one <c>iptables-restore --noflush</c>. On success the journal gets the inverse
    /// restore. On failure or cancellation it finds out what took effect, because each table commits on its own and
    /// the tables before the failing one are already in: it reads the tables again and journals the inverse of exactly
    /// the changes it can see.
    /// </summary>
    /// <returns><see langword="null"/> on success, else the failure, not thrown.</returns>
    /// <param name="journal">The operation's journal.</param>
    /// <param name="family">The family of every change.</param>
    /// <param name="changes">The changes, in table order.</param>
    /// <param name="cancellationToken">Cancels the restore.</param>
    /// <param name="journalPartial">
    /// <see langword="false"/> for a speculative batch whose changes may not all have been possible (a removal's
    /// deletes), where what a failed batch left is judged by the caller instead.
    /// </param>
    private async Task<IptablesCommandException?> RunBatchAsync(UndoJournal journal, AddressFamily family, List<RuleChange> changes, CancellationToken cancellationToken, bool journalPartial = true)
    {
        if (changes.Count == 0)
        {
            return null;
        }

        var command = _commands.Restore(family, RestoreScript.Render(changes));
        cancellationToken.ThrowIfCancellationRequested(); // not started: nothing to read back
        CommandResult result;
        try
        {
            result = await journal.RunAsync(command, cancellationToken).ConfigureAwait(false);
        }
        catch when (journalPartial)
        {
            // A timeout (TimeoutException) or a cancellation may come after some tables committed.
            await JournalVisibleAsync(journal, family, changes).ConfigureAwait(false);
            throw;
        }

        if (result.IsSuccess)
        {
            JournalInverse(journal, family, changes);
            _telemetry.RulesChanged(family, changes);
            return null;
        }

        if (journalPartial)
        {
            await JournalVisibleAsync(journal, family, changes).ConfigureAwait(false);
        }

        return new IptablesCommandException(command, result);
    }

    /// <summary>Journals the restore that undoes <paramref name="applied"/>, rendered only if the operation rolls back.</summary>
    private void JournalInverse(UndoJournal journal, AddressFamily family, IReadOnlyList<RuleChange> applied)
    {
        if (applied.Any(static c => c.UndoVerb is not null))
        {
            journal.Push(() => _commands.Restore(
                family,
                RestoreScript.Render([.. applied.Reverse().Select(static c => c.Inverse()).OfType<RuleChange>()])));
        }
    }

    private async Task JournalVisibleAsync(UndoJournal journal, AddressFamily family, List<RuleChange> changes)
    {
        var undoable = changes.Where(static c => c.UndoVerb is not null).ToList();
        if (undoable.Count == 0)
        {
            return;
        }

        try
        {
            // Not cancellable (but bounded by CommandTimeout): without this read, rollback could not know which tables committed.
            var listings = await ReadAsync(family, [.. undoable.Select(static c => c.Table).Distinct()], CancellationToken.None).ConfigureAwait(false);
            JournalInverse(journal, family, [.. undoable.Where(c => c.IsVisibleIn(listings[c.Table]))]);
        }
#pragma warning disable CA1031 // The failure being reported is the restore's; without the read, rollback stops here.
        catch (Exception exception)
#pragma warning restore CA1031
        {
            Log.RollbackFailed(_logger, journal.Operation, _commands.Save(family), -1, exception.Message);
            journal.PushUnknown();
        }
    }
}
