namespace NatMap.Iptables.Testing;

/// <summary>
/// An <see cref="ICommandRunner"/> that runs nothing: it records every command and answers with scripted results
/// (exit code 0 and empty output unless told otherwise). Thread-safe.
/// </summary>
/// <remarks>
/// <para>With no script, list commands print nothing, so the manager sees an empty host: <c>SetupAsync</c> creates
/// every chain and jump, and installs add every rule. Script responses, failures, faults and delays through
/// <see cref="Script"/> to model other states or failures.</para>
/// <para>Both apply modes look the same: an <c>iptables-restore</c> batch is recorded in <see cref="Commands"/> as the
/// per-rule commands it stands for (see <see cref="CommandSpecExtensions.ToPerRuleCommands"/>), so an assertion on a rule's
/// argv holds whichever <see cref="NatMapOptions.ApplyMode"/> ran it. <see cref="Processes"/> has the commands as
/// run.</para>
/// </remarks>
public sealed class FakeCommandRunner : ICommandRunner
{
    private readonly object _lock = new();
    private readonly List<CommandSpec> _commands = [];
    private readonly List<CommandSpec> _processes = [];

    /// <summary>Gets the scripted responses, failures, faults and delays this runner answers with.</summary>
    public CommandScript Script { get; } = new(nameof(FakeCommandRunner));

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

    /// <summary>Returns the commands run so far in per-rule form (see <see cref="Commands"/>), and optionally forgets them as <see cref="Clear"/> does.</summary>
    /// <param name="clear"><see langword="true"/> to also do what <see cref="Clear"/> does, in the same step.</param>
    /// <returns>The commands, in order.</returns>
    public IReadOnlyList<CommandSpec> GetSnapshot(bool clear = false)
    {
        CommandSpec[] snapshot;
        lock (_lock)
        {
            snapshot = _commands.ToArray();
            if (clear)
            {
                _commands.Clear();
                _processes.Clear();
            }
        }

        if (clear)
        {
            // Outside this lock: a responder runs under the script's lock and may read this runner.
            Script.ResetCount();
        }

        return snapshot;
    }

    /// <summary>Forgets the recorded commands and processes, and numbers processes from 1 again (for <see cref="CommandScript.FailAt"/>). The scripts stay.</summary>
    public void Clear() => _ = GetSnapshot(clear: true);

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

        return Script.RunAsync(command, views, (process, committedTables) => CommandScript.RunUpTo(process, committedTables, DefaultResult), cancellationToken);
    }

}
