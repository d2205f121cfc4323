using System.Text;
using CliWrap;
using CliWrap.Buffered;

namespace NatMap.Iptables;

/// <summary>The default <see cref="ICommandRunner"/>: starts the program directly (never through a shell) with CliWrap.</summary>
/// <remarks>
/// A non-zero exit code is returned as a <see cref="CommandResult"/>. Cancellation and the timeout kill the process.
/// </remarks>
public sealed class CliWrapCommandRunner : ICommandRunner
{
    /// <summary>Initializes a new instance.</summary>
    /// <param name="timeout">How long a command may run before it is killed; <see langword="null"/> for no limit.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="timeout"/> is zero or negative.</exception>
    public CliWrapCommandRunner(TimeSpan? timeout = null)
    {
        if (timeout is { } value)
        {
            ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(value, TimeSpan.Zero, nameof(timeout));
        }

        Timeout = timeout;
    }

    /// <summary>Gets how long a command may run before it is killed, or <see langword="null"/> for no limit.</summary>
    public TimeSpan? Timeout { get; }

    /// <inheritdoc/>
    /// <exception cref="TimeoutException">The command ran longer than <see cref="Timeout"/>; it was killed.</exception>
    /// <exception cref="System.ComponentModel.Win32Exception">The program could not be started (for example, it is not installed).</exception>
    public async Task<CommandResult> RunAsync(CommandSpec command, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(command);
        using var timeoutSource = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (Timeout is { } timeout)
        {
            timeoutSource.CancelAfter(timeout);
        }

        var cli = Cli.Wrap(command.FileName)
            .WithArguments(command.Arguments)
            .WithValidation(CommandResultValidation.None);
        if (command.StandardInput is not null)
        {
            cli = cli.WithStandardInputPipe(PipeSource.FromString(command.StandardInput, Encoding.UTF8));
        }

        try
        {
            var result = await cli.ExecuteBufferedAsync(Encoding.UTF8, timeoutSource.Token).ConfigureAwait(false);
            return new CommandResult(result.ExitCode, result.StandardOutput, result.StandardError);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested && Timeout is not null)
        {
            throw new TimeoutException($"The command ran longer than {Timeout} and was killed.{Environment.NewLine}Command: {command}");
        }
    }
}
