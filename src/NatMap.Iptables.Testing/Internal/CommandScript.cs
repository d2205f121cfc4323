namespace NatMap.Iptables.Testing.Internal;

/// <summary>
/// The scripting both fakes share: responses (predicate, responder, remaining uses), failures at a process number,
/// and delays, plus the flow that applies them to each process. The most recently added response that matches wins,
/// so a later, more specific script overrides an earlier, general one. Thread-safe.
/// </summary>
internal sealed class CommandScript
{
    private readonly object _lock = new();
    private readonly List<Entry> _entries = [];
    private readonly List<DelayEntry> _delays = [];
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
    /// that matched.
    /// </summary>
    public async Task<CommandResult> RunAsync(CommandSpec process, IReadOnlyList<CommandSpec> views, Func<CommandSpec, CommandResult> unscripted, CancellationToken cancellationToken)
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

        lock (_lock)
        {
            _answering = number;
            if (TryRespond(process, views) is { } scripted)
            {
                return scripted;
            }
        }

        return unscripted(process);
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
