namespace NatMap.Iptables.Testing.Internal;

/// <summary>
/// The scripting both fakes share: responses (predicate, responder, remaining uses), failures at a process number,
/// delays, and faults that strike a process after part of it took effect, plus the flow that applies them to each
/// process. The most recently added response that matches wins,
/// so a later, more specific script overrides an earlier, general one. Thread-safe.
/// </summary>
internal sealed class CommandScript
{
    private readonly object _lock = new();
    private readonly List<Entry> _entries = [];
    private readonly List<DelayEntry> _delays = [];
    private readonly List<FaultEntry> _faults = [];
    private int _started;
    private int _answering;

    public void Add(Func<CommandSpec, bool> predicate, Func<CommandSpec, CommandResult> responder, int? times)
    {
        ArgumentNullException.ThrowIfNull(predicate);
        ArgumentNullException.ThrowIfNull(responder);
        CheckTimes(times);
        lock (_lock)
        {
            _entries.Add(new Entry(predicate, responder, times));
        }
    }

    public void AddFailure(Func<CommandSpec, bool> predicate, int exitCode, string? standardError, int? times)
    {
        ArgumentOutOfRangeException.ThrowIfZero(exitCode);
        var result = new CommandResult(exitCode, string.Empty, standardError ?? string.Empty);
        Add(predicate, _ => result, times);
    }

    /// <summary>Fails the <paramref name="processNumber"/>th process (counting from 1), once.</summary>
    public void AddFailureAt(int processNumber, int exitCode, string? standardError)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(processNumber);
        AddFailure(_ => _answering == processNumber, exitCode, standardError, 1);
    }

    public void AddFault(Func<CommandSpec, bool> predicate, CommandFault fault, int? times)
    {
        ArgumentNullException.ThrowIfNull(predicate);
        ArgumentNullException.ThrowIfNull(fault);
        CheckTimes(times);
        lock (_lock)
        {
            _faults.Add(new FaultEntry(predicate, fault, times));
        }
    }

    /// <summary>Strikes the <paramref name="processNumber"/>th process (counting from 1) with <paramref name="fault"/>, once.</summary>
    public void AddFaultAt(int processNumber, CommandFault fault)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(processNumber);
        AddFault(_ => _answering == processNumber, fault, 1);
    }

    public void AddDelay(Func<CommandSpec, bool> predicate, TimeSpan delay, int? times)
    {
        ArgumentNullException.ThrowIfNull(predicate);
        ArgumentOutOfRangeException.ThrowIfLessThan(delay, TimeSpan.Zero);
        CheckTimes(times);
        lock (_lock)
        {
            _delays.Add(new DelayEntry(predicate, delay, times));
        }
    }

    /// <summary>Removes every response, failure and delay.</summary>
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
    public void ResetCount()
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
    public async Task<CommandResult> RunAsync(CommandSpec process, IReadOnlyList<CommandSpec> views, Func<CommandSpec, int?, CommandResult> unscripted, CancellationToken cancellationToken)
    {
        TimeSpan delay;
        int number;
        lock (_lock)
        {
            number = ++_started;
            delay = DelayFor(process, views);
        }

        if (delay > TimeSpan.Zero)
        {
            await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
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
    public static CommandResult InjectedFailure(CommandSpec process)
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
    public static CommandResult RunUpTo(CommandSpec process, int? committedTables, CommandResult completed)
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
    public static bool IsRestore(CommandSpec process) =>
        process.StandardInput is not null
        && (process.FileName.EndsWith("-restore", StringComparison.Ordinal) || process.Arguments.Any(static a => a.EndsWith("-restore", StringComparison.Ordinal)));

    /// <summary>What legacy iptables prints when its bounded wait for the xtables lock runs out (exit code 4).</summary>
    public static string LockMessage(CommandSpec process)
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

/// <summary>Counts down an entry's remaining uses, removing it after its last.</summary>
internal static class ScriptEntries
{
    public static void UseOnce<T>(this List<T> entries, int index, int? remaining, Func<int, T> withRemaining)
    {
        if (remaining is not { } left)
        {
            return;
        }

        if (left == 1)
        {
            entries.RemoveAt(index);
        }
        else
        {
            entries[index] = withRemaining(left - 1);
        }
    }
}
