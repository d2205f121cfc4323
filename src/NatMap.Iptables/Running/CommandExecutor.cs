using Microsoft.Extensions.Logging;

namespace NatMap.Iptables.Internal;

/// <summary>
/// Runs the library's commands through the caller's <see cref="ICommandRunner"/>: logs each, traces and counts it, and
/// bounds it by <see cref="NatMapOptions.CommandTimeout"/>. The one owner of that timeout, so it holds for any runner,
/// whether the manager came from DI or from its constructor.
/// </summary>
internal sealed class CommandExecutor(ICommandRunner runner, TimeSpan commandTimeout, ILogger logger, Telemetry telemetry)
{
    /// <summary>Gets the logger every stage of an operation writes to.</summary>
    public ILogger Logger => logger;

    /// <summary>Gets the telemetry every stage of an operation reports to.</summary>
    public Telemetry Telemetry => telemetry;

    /// <summary>Gets the longest a command may run, and the longest an operation waits for the cross-process lock.</summary>
    public TimeSpan CommandTimeout => commandTimeout;

    /// <summary>Runs <paramref name="command"/> and returns its result, whatever its exit code.</summary>
    /// <exception cref="TimeoutException">The command ran longer than the timeout.</exception>
    public async Task<CommandResult> RunAsync(CommandSpec command, CancellationToken cancellationToken)
    {
        Log.Running(logger, command);
        if (command.StandardInput is { } input)
        {
            Log.Input(logger, command, input);
        }

        using var activity = Telemetry.StartCommand(command);

        // Every command is bounded here, whichever runner was given, rollback steps included: a hung program must not
        // hold the operation gate for ever.
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(commandTimeout);
        CommandResult result;
        try
        {
            result = await runner.RunAsync(command, timeout.Token).WaitAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException exception) when (!cancellationToken.IsCancellationRequested && timeout.IsCancellationRequested)
        {
            telemetry.CommandDone(command, -1, activity);
            throw new TimeoutException(
                $"The command ran longer than NatMapOptions.CommandTimeout ({commandTimeout}) and was killed.{Environment.NewLine}Command: {command}",
                exception);
        }
        catch
        {
            telemetry.CommandDone(command, -1, activity);
            throw;
        }

        telemetry.CommandDone(command, result.ExitCode, activity);
        Log.Exited(logger, command, result.ExitCode);
        return result;
    }

    /// <summary>Runs <paramref name="command"/>; a non-zero exit code throws.</summary>
    /// <exception cref="IptablesCommandException">The command exited with a non-zero code.</exception>
    public async Task<CommandResult> RunCheckedAsync(CommandSpec command, CancellationToken cancellationToken)
    {
        var result = await RunAsync(command, cancellationToken).ConfigureAwait(false);
        return result.IsSuccess ? result : throw new IptablesCommandException(command, result);
    }

    /// <summary>
    /// Whether a failed per-rule command only says the rule or chain is not there. Both backends of iptables 1.8 exit
    /// with 1 and say "Bad rule (does a matching rule exist in that chain?)" or "No chain/target/match by that name".
    /// </summary>
    public static bool IsMissing(CommandResult result) =>
        result.ExitCode == 1
        && (result.StandardError.Contains("does a matching rule exist", StringComparison.Ordinal)
            || result.StandardError.Contains("No chain/target/match by that name", StringComparison.Ordinal));
}
