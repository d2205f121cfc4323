namespace NatMap.Iptables.Internal;

/// <summary>What the journal records for a step whose process ended without a result (a timeout or a cancellation).</summary>
internal enum UnknownOutcome
{
    /// <summary>Nothing is known: rollback stops at the step.</summary>
    StopRollback,

    /// <summary>The undo is harmless whether or not the step took effect (a sysctl write): it is journaled.</summary>
    Undo,

    /// <summary>The caller reads the tables back and journals what it finds.</summary>
    CallerFindsOut,
}

/// <summary>
/// One mutating operation in progress: runs its commands and remembers how to undo each step, so a failure leaves
/// nothing half-done. Rollback undoes every applied step, newest first, and stops at the first step it cannot undo (an
/// undo that fails, or a step whose effect could not be read back), so the host is always left as some prefix of the
/// operation's plan left it; each plan is ordered so that every prefix is safe (<c>route_localnet</c> is 1 only while
/// the loopback guard stands). <see cref="OperationGate"/> makes one per operation.
/// </summary>
internal sealed class Operation(string name, CommandExecutor executor)
{
    private readonly System.Diagnostics.Activity? _activity = Telemetry.StartOperation(name);
    private readonly long _startedAt = System.Diagnostics.Stopwatch.GetTimestamp();

    // Each undo is made when it is needed: a large batch's inverse is only rendered if the operation rolls back.
    // A null entry is a step whose effect is unknown: rollback cannot go past it.
    private readonly Stack<Func<CommandSpec>?> _undo = new();

    /// <summary>Gets how many commands the operation ran.</summary>
    public int Commands { get; private set; }

    /// <summary>Gets the operation's name, such as <c>InstallDockerMap</c>.</summary>
    public string Name => name;

    /// <summary>Gets the executor the operation's commands run through, for its logger and telemetry.</summary>
    public CommandExecutor Executor => executor;

    /// <summary>Runs a command as part of the operation, counting it, without judging its result.</summary>
    public Task<CommandResult> RunAsync(CommandSpec command, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        Commands++;
        return executor.RunAsync(command, cancellationToken);
    }

    /// <summary>Records how to undo a step that has taken effect; <paramref name="undo"/> runs only on rollback.</summary>
    public void Push(Func<CommandSpec> undo) => _undo.Push(undo);

    /// <summary>
    /// Records a step whose effect could not be found out (its process timed out or was cancelled, and reading the
    /// tables back failed too): rollback stops here and leaves it, and every step before it, in place.
    /// </summary>
    public void PushUnknown() => _undo.Push(null);

    /// <summary>
    /// Runs one step; returns whether it took effect (a tolerated "missing" failure did not). When the process ends
    /// without a result (a timeout, a cancellation) it may still have taken effect: <paramref name="unknown"/> says
    /// what the journal then records.
    /// </summary>
    public async Task<bool> ApplyAsync(CommandSpec command, CommandSpec? undo, CancellationToken cancellationToken, bool tolerateMissing = false, UnknownOutcome unknown = UnknownOutcome.StopRollback)
    {
        cancellationToken.ThrowIfCancellationRequested();
        Commands++;
        CommandResult result;
        try
        {
            result = await executor.RunAsync(command, cancellationToken).ConfigureAwait(false);
        }
        catch when (undo is not null && unknown != UnknownOutcome.CallerFindsOut)
        {
            if (unknown == UnknownOutcome.Undo)
            {
                _undo.Push(() => undo);
            }
            else
            {
                PushUnknown();
            }

            throw;
        }

        if (result.IsSuccess)
        {
            if (undo is not null)
            {
                _undo.Push(() => undo);
            }

            return true;
        }

        return tolerateMissing && CommandExecutor.IsMissing(result) ? false : throw new IptablesCommandException(command, result);
    }

    /// <summary>Ends a successful operation: logs it and records its duration.</summary>
    public void Done()
    {
        Log.OperationDone(executor.Logger, name, Commands);
        executor.Telemetry.OperationDone(name, _startedAt, failure: null, _activity);
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
            executor.Telemetry.OperationDone(name, _startedAt, cause, _activity);
            _activity?.Dispose();
        }
    }

    private async Task UndoAsync(Exception cause)
    {
        if (_undo.Count == 0)
        {
            return;
        }

        var logger = executor.Logger;
        var reason = cause is IptablesCommandException failed
            ? $"{failed.Command with { StandardInput = null }} exited with code {failed.ExitCode}"
            : cause.GetType().Name;
        Log.RollingBack(logger, name, reason, _undo.Count);
        while (_undo.TryPop(out var makeUndo))
        {
            if (makeUndo is null)
            {
                Log.RollbackStopped(logger, name, _undo.Count + 1);
                return;
            }

            var undo = makeUndo();

            // Rollback runs even when the operation was cancelled (each undo still bounded by CommandTimeout). It
            // stops at the first undo that fails: undoing older steps past a step that is still in place could
            // leave a state no prefix of the plan passes through, such as route_localnet on without its guard.
            try
            {
                var result = await executor.RunAsync(undo, CancellationToken.None).ConfigureAwait(false);
                // A per-rule undo that finds its rule or chain already gone has nothing left to do.
                if (result.IsSuccess || (undo.StandardInput is null && CommandExecutor.IsMissing(result)))
                {
                    continue;
                }

                Log.RollbackFailed(logger, name, undo, result.ExitCode, result.StandardError.Trim());
            }
#pragma warning disable CA1031 // The original failure is the one to report; a failed undo is logged.
            catch (Exception exception)
#pragma warning restore CA1031
            {
                Log.RollbackFailed(logger, name, undo, -1, exception.Message);
            }

            Log.RollbackStopped(logger, name, _undo.Count + 1);
            return;
        }
    }
}
