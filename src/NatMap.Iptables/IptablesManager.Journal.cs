using NatMap.Iptables.Internal;

namespace NatMap.Iptables;

public sealed partial class IptablesManager
{
    /// <summary>
    /// Runs one mutating operation: one at a time per manager, every applied step journaled, and all of them undone,
    /// newest first, when the operation fails or is cancelled.
    /// </summary>
    private async Task RunOperationAsync(string operation, Func<UndoJournal, Task> body, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        var journal = new UndoJournal(this, operation);
        try
        {
            await body(journal).ConfigureAwait(false);
            journal.Done();
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

    /// <summary>Runs the commands of one operation and remembers how to undo each, so a failure leaves nothing half-done.</summary>
    private sealed class UndoJournal(IptablesManager manager, string operation)
    {
        private readonly System.Diagnostics.Activity? _activity = Telemetry.StartOperation(operation);
        private readonly long _startedAt = System.Diagnostics.Stopwatch.GetTimestamp();

        // Each undo is made when it is needed: a large batch's inverse is only rendered if the operation rolls back.
        private readonly Stack<Func<CommandSpec>> _undo = new();

        public int Commands { get; private set; }

        public string Operation => operation;

        /// <summary>Runs a command as part of the operation, counting it, without judging its result.</summary>
        public Task<CommandResult> RunAsync(CommandSpec command, CancellationToken cancellationToken)
        {
            cancellationToken.ThrowIfCancellationRequested();
            Commands++;
            return manager.RunAsync(command, cancellationToken);
        }

        /// <summary>Records how to undo a step that has taken effect; <paramref name="undo"/> runs only on rollback.</summary>
        public void Push(Func<CommandSpec> undo) => _undo.Push(undo);

        /// <summary>Runs one step; returns whether it took effect (a tolerated "missing" failure did not).</summary>
        public async Task<bool> ApplyAsync(CommandSpec command, CommandSpec? undo, CancellationToken cancellationToken, bool tolerateMissing = false)
        {
            cancellationToken.ThrowIfCancellationRequested();
            Commands++;
            var result = await manager.RunAsync(command, cancellationToken).ConfigureAwait(false);
            if (result.IsSuccess)
            {
                if (undo is not null)
                {
                    _undo.Push(() => undo);
                }

                return true;
            }

            return tolerateMissing && IsMissing(result) ? false : throw new IptablesCommandException(command, result);
        }

        /// <summary>Ends a successful operation: logs it and records its duration.</summary>
        public void Done()
        {
            Log.OperationDone(manager._logger, operation, Commands);
            manager._telemetry.OperationDone(operation, _startedAt, failure: null, _activity);
            _activity?.Dispose();
        }

        /// <summary>Ends a failed operation: undoes every applied step, newest first, then records the failure.</summary>
        public async Task RollBackAsync(Exception cause)
        {
            try
            {
                await UndoAsync(cause).ConfigureAwait(false);
            }
            finally
            {
                manager._telemetry.OperationDone(operation, _startedAt, cause, _activity);
                _activity?.Dispose();
            }
        }

        private async Task UndoAsync(Exception cause)
        {
            if (_undo.Count == 0)
            {
                return;
            }

            var reason = cause is IptablesCommandException failed
                ? $"{new CommandSpec(failed.FileName, failed.Arguments)} exited with code {failed.ExitCode}"
                : cause.GetType().Name;
            Log.RollingBack(manager._logger, operation, reason, _undo.Count);
            while (_undo.TryPop(out var makeUndo))
            {
                var undo = makeUndo();
                // Rollback must finish even when the operation was cancelled, and one failed undo must not stop the rest.
                try
                {
                    var result = await manager.RunAsync(undo, CancellationToken.None).ConfigureAwait(false);
                    if (!result.IsSuccess)
                    {
                        Log.RollbackFailed(manager._logger, operation, undo, result.ExitCode, result.StandardError.Trim());
                    }
                }
#pragma warning disable CA1031 // The original failure is the one to report; a failed undo is logged.
                catch (Exception exception)
#pragma warning restore CA1031
                {
                    Log.RollbackFailed(manager._logger, operation, undo, -1, exception.Message);
                }
            }
        }
    }
}
