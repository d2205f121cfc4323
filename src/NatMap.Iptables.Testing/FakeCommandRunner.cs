using NatMap.Iptables.Testing.Internal;

namespace NatMap.Iptables.Testing;

/// <summary>
/// An <see cref="ICommandRunner"/> that runs nothing: it records every command and answers with scripted results
/// (exit code 0 and empty output unless told otherwise). Thread-safe.
/// </summary>
/// <remarks>
/// <para>With no script, list commands print nothing, so the manager sees an empty host: <c>SetupAsync</c> creates
/// every chain and jump, and installs add every rule. Script a response to model other states or failures.</para>
/// <para>The most recently added script that matches a command answers it; a script given <c>times</c> stops
/// answering after that many commands.</para>
/// <para>Both transports look the same: an <c>iptables-restore</c> batch is recorded in <see cref="Commands"/> as the
/// per-rule commands it stands for (see <see cref="CommandSpecExtensions.ToPerRuleCommands"/>), so an assertion on a rule's
/// argv holds whichever <see cref="NatMapOptions.ApplyMode"/> ran it. <see cref="Processes"/> has the commands as
/// run. A script matches a batch when it matches the batch itself or any of its lines, and then answers the whole
/// batch, as the real program would.</para>
/// </remarks>
public sealed class FakeCommandRunner : ICommandRunner
{
    private readonly object _lock = new();
    private readonly List<CommandSpec> _commands = [];
    private readonly List<CommandSpec> _processes = [];
    private readonly CommandScript _script = new();

    /// <summary>
    /// Gets every command run so far, in order (a snapshot), in per-rule form: each line of an
    /// <c>iptables-restore</c> batch appears as the <c>iptables</c> command it stands for.
    /// </summary>
    public IReadOnlyList<CommandSpec> Commands
    {
        get
        {
            lock (_lock)
            {
                return _commands.ToArray();
            }
        }
    }

    /// <summary>
    /// Gets every process run so far, in order (a snapshot), exactly as the manager ran it: an
    /// <c>iptables-restore</c> batch is one entry, with its input in <see cref="CommandSpec.StandardInput"/>.
    /// </summary>
    public IReadOnlyList<CommandSpec> Processes
    {
        get
        {
            lock (_lock)
            {
                return _processes.ToArray();
            }
        }
    }

    /// <summary>Gets how many commands have run, counted in per-rule form (see <see cref="Commands"/>).</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _commands.Count;
            }
        }
    }

    /// <summary>Gets the most recent command, in per-rule form (see <see cref="Commands"/>).</summary>
    /// <exception cref="InvalidOperationException">No command has run yet.</exception>
    public CommandSpec LatestCommand
    {
        get
        {
            lock (_lock)
            {
                return _commands.Count > 0
                    ? _commands[^1]
                    : throw new InvalidOperationException("FakeCommandRunner has not run any command yet.");
            }
        }
    }

    /// <summary>Gets or sets the result of a command no script matches.</summary>
    /// <value>The default is exit code 0 with empty output.</value>
    public CommandResult DefaultResult
    {
        get
        {
            lock (_lock)
            {
                return field;
            }
        }

        set
        {
            ArgumentNullException.ThrowIfNull(value);
            lock (_lock)
            {
                field = value;
            }
        }
    }

    = CommandResult.Success;

    /// <summary>Returns the commands run so far in per-rule form (see <see cref="Commands"/>), and optionally forgets them and the processes.</summary>
    /// <param name="clear"><see langword="true"/> to forget the returned commands.</param>
    /// <returns>The commands, in order.</returns>
    public IReadOnlyList<CommandSpec> GetSnapshot(bool clear = false)
    {
        lock (_lock)
        {
            var snapshot = _commands.ToArray();
            if (clear)
            {
                _commands.Clear();
                _processes.Clear();
            }

            return snapshot;
        }
    }

    /// <summary>Forgets the recorded commands and processes. Scripts stay.</summary>
    public void Clear()
    {
        lock (_lock)
        {
            _commands.Clear();
            _processes.Clear();
        }

        _script.ResetCount();
    }

    /// <summary>Removes every script; unmatched commands get <see cref="DefaultResult"/> again.</summary>
    public void ClearResponses()
    {
        _script.Clear();
    }

    /// <summary>Answers the commands <paramref name="predicate"/> matches with <paramref name="result"/>.</summary>
    /// <param name="predicate">Which commands; see <see cref="CommandMatch"/>.</param>
    /// <param name="result">The result to return.</param>
    /// <param name="times">How many commands to answer before the script expires; <see langword="null"/> for all.</param>
    /// <returns>This instance, for chaining.</returns>
    /// <exception cref="ArgumentNullException">An argument is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="times"/> is zero or negative.</exception>
    public FakeCommandRunner RespondTo(Func<CommandSpec, bool> predicate, CommandResult result, int? times = null)
    {
        ArgumentNullException.ThrowIfNull(result);
        return RespondUsing(predicate, _ => result, times);
    }

    /// <summary>Answers the commands <paramref name="predicate"/> matches with what <paramref name="responder"/> returns.</summary>
    /// <param name="predicate">Which commands; see <see cref="CommandMatch"/>.</param>
    /// <param name="responder">Computes the result from the command.</param>
    /// <param name="times">How many commands to answer before the script expires; <see langword="null"/> for all.</param>
    /// <returns>This instance, for chaining.</returns>
    /// <exception cref="ArgumentNullException">An argument is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="times"/> is zero or negative.</exception>
    public FakeCommandRunner RespondUsing(Func<CommandSpec, bool> predicate, Func<CommandSpec, CommandResult> responder, int? times = null)
    {
        _script.Add(predicate, responder, times);
        return this;
    }

    /// <summary>Makes the commands <paramref name="predicate"/> matches fail.</summary>
    /// <param name="predicate">Which commands; see <see cref="CommandMatch"/>.</param>
    /// <param name="exitCode">The exit code; 1 by default.</param>
    /// <param name="standardError">The error text.</param>
    /// <param name="times">How many commands to fail; <see langword="null"/> for all.</param>
    /// <returns>This instance, for chaining.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="exitCode"/> is 0.</exception>
    public FakeCommandRunner FailWhen(Func<CommandSpec, bool> predicate, int exitCode = 1, string standardError = "FakeCommandRunner: scripted failure", int? times = null)
    {
        _script.AddFailure(predicate, exitCode, standardError, times);
        return this;
    }

    /// <summary>Makes the commands <paramref name="predicate"/> matches print <paramref name="standardOutput"/> and succeed.</summary>
    /// <param name="predicate">Which commands; see <see cref="CommandMatch"/>.</param>
    /// <param name="standardOutput">The output, for example an <c>iptables -S</c> listing.</param>
    /// <param name="times">How many commands to answer; <see langword="null"/> for all.</param>
    /// <returns>This instance, for chaining.</returns>
    public FakeCommandRunner OutputWhen(Func<CommandSpec, bool> predicate, string standardOutput, int? times = null) =>
        RespondTo(predicate, new CommandResult(0, standardOutput ?? string.Empty, string.Empty), times);

    /// <summary>
    /// Fails the <paramref name="processNumber"/>th process this runner runs, counting from 1 since it was made or last
    /// cleared (a restore batch is one process), once.
    /// </summary>
    /// <param name="processNumber">Which process, from 1.</param>
    /// <param name="exitCode">The exit code to report; not zero.</param>
    /// <param name="standardError">The error output to report.</param>
    /// <returns>This instance, for chaining.</returns>
    public FakeCommandRunner FailAt(int processNumber, int exitCode = 1, string standardError = "FakeCommandRunner: scripted failure")
    {
        _script.AddFailureAt(processNumber, exitCode, standardError);
        return this;
    }

    /// <summary>
    /// Strikes the <paramref name="processNumber"/>th process (counting from 1 since this runner was made or last
    /// cleared) with <paramref name="fault"/>, once: the process is recorded, then ends as the fault says (a failure
    /// result, <see cref="TimeoutException"/> or <see cref="OperationCanceledException"/>).
    /// </summary>
    /// <param name="processNumber">Which process, from 1.</param>
    /// <param name="fault">What happens to it; see <see cref="CommandFault"/>.</param>
    /// <returns>This instance, for chaining.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="fault"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="processNumber"/> is zero or negative.</exception>
    public FakeCommandRunner FaultAt(int processNumber, CommandFault fault)
    {
        _script.AddFaultAt(processNumber, fault);
        return this;
    }

    /// <summary>Strikes the processes <paramref name="predicate"/> matches with <paramref name="fault"/>; see <see cref="FaultAt"/>.</summary>
    /// <param name="predicate">Which commands (a restore batch also matches through any of its lines); see <see cref="CommandMatch"/>.</param>
    /// <param name="fault">What happens to them; see <see cref="CommandFault"/>.</param>
    /// <param name="times">How many processes to strike; <see langword="null"/> for all.</param>
    /// <returns>This instance, for chaining.</returns>
    /// <exception cref="ArgumentNullException">An argument is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="times"/> is zero or negative.</exception>
    public FakeCommandRunner FaultWhen(Func<CommandSpec, bool> predicate, CommandFault fault, int? times = 1)
    {
        _script.AddFault(predicate, fault, times);
        return this;
    }

    /// <summary>
    /// Holds the processes <paramref name="predicate"/> matches for <paramref name="delay"/> before answering them, as a
    /// slow or hung program would; cancellation during the delay cancels the command.
    /// </summary>
    /// <param name="predicate">Which commands; see <see cref="CommandMatch"/>.</param>
    /// <param name="delay">How long to hold each.</param>
    /// <param name="times">How many commands to hold; <see langword="null"/> for all.</param>
    /// <returns>This instance, for chaining.</returns>
    public FakeCommandRunner DelayWhen(Func<CommandSpec, bool> predicate, TimeSpan delay, int? times = null)
    {
        _script.AddDelay(predicate, delay, times);
        return this;
    }

    /// <inheritdoc/>
    public Task<CommandResult> RunAsync(CommandSpec command, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(command);
        cancellationToken.ThrowIfCancellationRequested();
        var views = command.ToPerRuleCommands();
        lock (_lock)
        {
            _processes.Add(command);
            _commands.AddRange(views);
        }

        return _script.RunAsync(command, views, (process, committedTables) => CommandScript.RunUpTo(process, committedTables, DefaultResult), cancellationToken);
    }
}
