using NatMap.Iptables.Testing.Internal;

namespace NatMap.Iptables.Testing;

/// <summary>
/// The scripted behaviour of a fake runner: responses, failures, faults and delays, matched against each process it
/// runs. <see cref="FakeCommandRunner"/> and <see cref="FakeIptables"/> each expose theirs as <c>Script</c>, as
/// <c>FakeLogger</c> exposes its <c>Collector</c>. Thread-safe.
/// </summary>
/// <remarks>
/// <para>A script matches a process when its predicate matches the process itself or, for an
/// <c>iptables-restore</c> batch, any of the per-rule commands its lines stand for (see
/// <see cref="CommandSpecExtensions.ToPerRuleCommands"/>); it then answers the whole process, as the real program
/// would. The most recently added response that matches wins, so a later, more specific script overrides an earlier,
/// general one; a script given <c>times</c> expires after answering that many processes.</para>
/// <para>A scripted response or failure replaces the process: on <see cref="FakeIptables"/> it changes nothing. A
/// <see cref="CommandFault"/> instead lets the process take effect up to the fault.</para>
/// <para>Processes are numbered from 1 since the fake was made or last cleared (its <c>Clear</c>), for
/// <see cref="FailAt"/> and <see cref="FaultAt"/>.</para>
/// </remarks>
public sealed class CommandScript
{
    private readonly object _lock = new();
    private readonly string _owner;
    private readonly List<Entry> _entries = [];
    private readonly List<DelayEntry> _delays = [];
    private readonly List<FaultEntry> _faults = [];
    private int _started;
    private int _answering;

    /// <summary>Initializes a new instance for the fake named <paramref name="owner"/> (its name starts default error texts).</summary>
    internal CommandScript(string owner)
    {
        _owner = owner;
    }

    /// <summary>Gets or sets the clock <see cref="DelayWhen"/> waits on, so a <c>FakeTimeProvider</c> can release held processes.</summary>
    /// <value>The default is <c>TimeProvider.System</c>.</value>
    /// <exception cref="ArgumentNullException">The value is <see langword="null"/>.</exception>
    public TimeProvider TimeProvider
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

    = TimeProvider.System;

    /// <summary>Answers the processes <paramref name="predicate"/> matches with <paramref name="result"/>.</summary>
    /// <param name="predicate">Which commands; see <see cref="CommandMatch"/>.</param>
    /// <param name="result">The result to return.</param>
    /// <param name="times">How many processes to answer before the script expires; <see langword="null"/> for all.</param>
    /// <returns>This instance, for chaining.</returns>
    /// <exception cref="ArgumentNullException">An argument is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="times"/> is zero or negative.</exception>
    public CommandScript RespondTo(Func<CommandSpec, bool> predicate, CommandResult result, int? times = null)
    {
        ArgumentNullException.ThrowIfNull(result);
        return RespondUsing(predicate, _ => result, times);
    }

    /// <summary>Answers the processes <paramref name="predicate"/> matches with what <paramref name="responder"/> returns.</summary>
    /// <param name="predicate">Which commands; see <see cref="CommandMatch"/>.</param>
    /// <param name="responder">Computes the result from the command that matched (a line of a batch, when that matched).</param>
    /// <param name="times">How many processes to answer before the script expires; <see langword="null"/> for all.</param>
    /// <returns>This instance, for chaining.</returns>
    /// <exception cref="ArgumentNullException">An argument is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="times"/> is zero or negative.</exception>
    public CommandScript RespondUsing(Func<CommandSpec, bool> predicate, Func<CommandSpec, CommandResult> responder, int? times = null)
    {
        ArgumentNullException.ThrowIfNull(predicate);
        ArgumentNullException.ThrowIfNull(responder);
        CheckTimes(times);
        lock (_lock)
        {
            _entries.Add(new Entry(predicate, responder, times));
        }

        return this;
    }

    /// <summary>Makes the processes <paramref name="predicate"/> matches print <paramref name="standardOutput"/> and succeed.</summary>
    /// <param name="predicate">Which commands; see <see cref="CommandMatch"/>.</param>
    /// <param name="standardOutput">The output, for example an <c>iptables -S</c> listing.</param>
    /// <param name="times">How many processes to answer; <see langword="null"/> for all.</param>
    /// <returns>This instance, for chaining.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="predicate"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="times"/> is zero or negative.</exception>
    public CommandScript OutputWhen(Func<CommandSpec, bool> predicate, string standardOutput, int? times = null) =>
        RespondTo(predicate, new CommandResult(0, standardOutput ?? string.Empty, string.Empty), times);

    /// <summary>Makes the processes <paramref name="predicate"/> matches fail.</summary>
    /// <param name="predicate">Which commands; see <see cref="CommandMatch"/>.</param>
    /// <param name="exitCode">The exit code; not zero.</param>
    /// <param name="standardError">The error text; <see langword="null"/> for <c>FAKE: scripted failure</c>, FAKE being the fake's type name.</param>
    /// <param name="times">How many processes to fail; <see langword="null"/> for all.</param>
    /// <returns>This instance, for chaining.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="predicate"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="exitCode"/> is 0, or <paramref name="times"/> is zero or negative.</exception>
    public CommandScript FailWhen(Func<CommandSpec, bool> predicate, int exitCode = 1, string? standardError = null, int? times = null)
    {
        ArgumentOutOfRangeException.ThrowIfZero(exitCode);
        var result = new CommandResult(exitCode, string.Empty, standardError ?? $"{_owner}: scripted failure");
        return RespondTo(predicate, result, times);
    }

    /// <summary>
    /// Fails the <paramref name="processNumber"/>th process (counting from 1 since the fake was made or cleared; a
    /// restore batch is one process), once.
    /// </summary>
    /// <param name="processNumber">Which process, from 1.</param>
    /// <param name="exitCode">The exit code; not zero.</param>
    /// <param name="standardError">The error text; <see langword="null"/> as for <see cref="FailWhen"/>.</param>
    /// <returns>This instance, for chaining.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="processNumber"/> is zero or negative, or <paramref name="exitCode"/> is 0.</exception>
    public CommandScript FailAt(int processNumber, int exitCode = 1, string? standardError = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(processNumber);
        return FailWhen(_ => _answering == processNumber, exitCode, standardError, 1);
    }

    /// <summary>
    /// Strikes the <paramref name="processNumber"/>th process (counting from 1 since the fake was made or cleared)
    /// with <paramref name="fault"/>, once: the process is recorded, takes effect up to
    /// <see cref="CommandFault.CommittedTables"/> tables (on <see cref="FakeIptables"/>), then ends as the fault says (a
    /// failure result, <see cref="TimeoutException"/> or <see cref="OperationCanceledException"/>).
    /// </summary>
    /// <param name="processNumber">Which process, from 1.</param>
    /// <param name="fault">What happens to it; see <see cref="CommandFault"/>.</param>
    /// <returns>This instance, for chaining.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="fault"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="processNumber"/> is zero or negative.</exception>
    public CommandScript FaultAt(int processNumber, CommandFault fault)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(processNumber);
        return FaultWhen(_ => _answering == processNumber, fault, 1);
    }

    /// <summary>Strikes the processes <paramref name="predicate"/> matches with <paramref name="fault"/>; see <see cref="FaultAt"/>.</summary>
    /// <param name="predicate">Which commands; see <see cref="CommandMatch"/>.</param>
    /// <param name="fault">What happens to them; see <see cref="CommandFault"/>.</param>
    /// <param name="times">How many processes to strike; <see langword="null"/> for all.</param>
    /// <returns>This instance, for chaining.</returns>
    /// <exception cref="ArgumentNullException">An argument is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="times"/> is zero or negative.</exception>
    public CommandScript FaultWhen(Func<CommandSpec, bool> predicate, CommandFault fault, int? times = 1)
    {
        ArgumentNullException.ThrowIfNull(predicate);
        ArgumentNullException.ThrowIfNull(fault);
        CheckTimes(times);
        lock (_lock)
        {
            _faults.Add(new FaultEntry(predicate, fault, times));
        }

        return this;
    }

    /// <summary>
    /// Holds the processes <paramref name="predicate"/> matches for <paramref name="delay"/> on <see cref="TimeProvider"/>
    /// before running them, as a slow or hung program would; cancellation during the delay cancels the process, which
    /// then changes nothing.
    /// </summary>
    /// <param name="predicate">Which commands; see <see cref="CommandMatch"/>.</param>
    /// <param name="delay">How long to hold each; zero or more.</param>
    /// <param name="times">How many processes to hold; <see langword="null"/> for all.</param>
    /// <returns>This instance, for chaining.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="predicate"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="delay"/> is negative, or <paramref name="times"/> is zero or negative.</exception>
    public CommandScript DelayWhen(Func<CommandSpec, bool> predicate, TimeSpan delay, int? times = null)
    {
        ArgumentNullException.ThrowIfNull(predicate);
        ArgumentOutOfRangeException.ThrowIfLessThan(delay, TimeSpan.Zero);
        CheckTimes(times);
        lock (_lock)
        {
            _delays.Add(new DelayEntry(predicate, delay, times));
        }

        return this;
    }

    /// <summary>Removes every response, failure, fault and delay; unscripted processes run as if none had been added.</summary>
    public void Clear()
    {
        lock (_lock)
        {
            _entries.Clear();
            _delays.Clear();
            _faults.Clear();
        }
    }

    /// <summary>Starts counting processes from 1 again.</summary>
    internal void ResetCount()
    {
        lock (_lock)
        {
            _started = 0;
        }
    }

    /// <summary>
    /// Runs one process through the scripts: numbers it, holds it for the matching delays (cancellation ends the wait
    /// and the command), then answers it with the latest matching script, or with <paramref name="unscripted"/>.
    /// A script matches when its predicate matches the process itself or one of its per-rule
    /// <paramref name="views"/> (the lines of an <c>iptables-restore</c> batch), and its responder gets the command
    /// that matched. A matching fault (the latest) lets <paramref name="unscripted"/> run the process with at most its
    /// <see cref="CommandFault.CommittedTables"/> tables committed, then ends the process as the fault says.
    /// </summary>
    internal async Task<CommandResult> RunAsync(CommandSpec process, IReadOnlyList<CommandSpec> views, Func<CommandSpec, int?, CommandResult> unscripted, CancellationToken cancellationToken)
    {
        TimeSpan delay;
        int number;
        TimeProvider time;
        lock (_lock)
        {
            number = ++_started;
            delay = DelayFor(process, views);
            time = TimeProvider;
        }

        if (delay > TimeSpan.Zero)
        {
            await Task.Delay(delay, time, cancellationToken).ConfigureAwait(false);
        }

        CommandFault? fault;
        CommandResult? scripted;
        lock (_lock)
        {
            _answering = number;
            fault = TakeFault(process, views);
            scripted = TryRespond(process, views);
        }

        if (fault is null)
        {
            return scripted ?? unscripted(process, null);
        }

        // A scripted answer stands for a whole process: it takes effect unless the fault strikes before anything commits.
        var result = scripted is null ? unscripted(process, fault.CommittedTables)
            : fault.CommittedTables == 0 ? InjectedFailure(process)
            : scripted;
        return await fault.StrikeAsync(process, result, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// How a process that is not an <c>iptables-restore</c> fails when a <see cref="CommandFaultKind.Fail"/> fault
    /// strikes before it takes effect: exit code 4 and the xtables lock message (iptables, with its <c>-w</c> wait), or
    /// exit code 1 (any other program).
    /// </summary>
    internal static CommandResult InjectedFailure(CommandSpec process)
    {
        var program = Path.GetFileName(Shared.NetnsExec.Unwrap(process).Program);
        if (!program.StartsWith("ip", StringComparison.Ordinal) || !program.Contains("tables", StringComparison.Ordinal))
        {
            return new CommandResult(1, string.Empty, $"{program}: injected failure\n");
        }

        return new CommandResult(4, string.Empty, LockMessage(process));
    }

    /// <summary>
    /// The result of a process the fakes do not emulate, run until a fault that lets <paramref name="committedTables"/>
    /// tables commit: <paramref name="completed"/> when that is all of it, else <see cref="InjectedFailure"/>.
    /// </summary>
    internal static CommandResult RunUpTo(CommandSpec process, int? committedTables, CommandResult completed)
    {
        if (committedTables is not { } limit)
        {
            return completed;
        }

        var steps = IsRestore(process)
            ? process.StandardInput!.Split('\n').Count(static l => l.TrimStart().StartsWith('*'))
            : 1;
        return steps <= limit ? completed : InjectedFailure(process);
    }

    /// <summary>Whether the process is an <c>iptables-restore</c> (any family or backend, perhaps behind <c>ip netns exec</c>) with input.</summary>
    internal static bool IsRestore(CommandSpec process) =>
        process.StandardInput is not null
        && (process.FileName.EndsWith("-restore", StringComparison.Ordinal) || process.Arguments.Any(static a => a.EndsWith("-restore", StringComparison.Ordinal)));

    /// <summary>What legacy iptables prints when its bounded wait for the xtables lock runs out (exit code 4).</summary>
    internal static string LockMessage(CommandSpec process)
    {
        var arguments = process.Arguments;
        var wait = 0;
        for (var i = 0; i + 1 < arguments.Count; i++)
        {
            if (arguments[i] is "-w" or "--wait")
            {
                _ = int.TryParse(arguments[i + 1], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out wait);
            }
        }

        return wait > 0
            ? $"Can't lock /run/xtables.lock: Resource temporarily unavailable\nAnother app is currently holding the xtables lock. Stopped waiting after {wait}s.\n"
            : "Another app is currently holding the xtables lock. Perhaps you want to use the -w option?\n";
    }

    private static void CheckTimes(int? times)
    {
        if (times is { } count)
        {
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count, nameof(times));
        }
    }

    /// <summary>The sum of the matching delays, each used up once.</summary>
    private TimeSpan DelayFor(CommandSpec process, IReadOnlyList<CommandSpec> views)
    {
        var total = TimeSpan.Zero;
        for (var i = _delays.Count - 1; i >= 0; i--)
        {
            var entry = _delays[i];
            if (!entry.Predicate(process) && !views.Any(entry.Predicate))
            {
                continue;
            }

            total += entry.Delay;
            _delays.UseOnce(i, entry.Remaining, remaining => entry with { Remaining = remaining });
        }

        return total;
    }

    private CommandFault? TakeFault(CommandSpec process, IReadOnlyList<CommandSpec> views)
    {
        for (var i = _faults.Count - 1; i >= 0; i--)
        {
            var entry = _faults[i];
            if (entry.Predicate(process) || views.Any(entry.Predicate))
            {
                _faults.UseOnce(i, entry.Remaining, remaining => entry with { Remaining = remaining });
                return entry.Fault;
            }
        }

        return null;
    }

    private CommandResult? TryRespond(CommandSpec process, IReadOnlyList<CommandSpec> views)
    {
        for (var i = _entries.Count - 1; i >= 0; i--)
        {
            var entry = _entries[i];
            var matched = entry.Predicate(process) ? process : views.FirstOrDefault(entry.Predicate);
            if (matched is null)
            {
                continue;
            }

            _entries.UseOnce(i, entry.Remaining, remaining => entry with { Remaining = remaining });
            return entry.Responder(matched) ?? throw new InvalidOperationException("A scripted responder returned null.");
        }

        return null;
    }

    private sealed record Entry(Func<CommandSpec, bool> Predicate, Func<CommandSpec, CommandResult> Responder, int? Remaining);

    private sealed record FaultEntry(Func<CommandSpec, bool> Predicate, CommandFault Fault, int? Remaining);

    private sealed record DelayEntry(Func<CommandSpec, bool> Predicate, TimeSpan Delay, int? Remaining);
}
