namespace NatMap.Iptables.Testing.Internal;

/// <summary>
/// Scripted responses shared by the fakes: an ordered list of (predicate, responder, remaining uses). The most
/// recently added entry that matches wins, so a later, more specific script overrides an earlier, general one.
/// </summary>
internal sealed class CommandScript
{
    private readonly List<Entry> _entries = [];
    private readonly List<DelayEntry> _delays = [];

    private int _started;
    private int _answering;

    /// <summary>Counts a new process and returns its number, from 1 since the fake was made or cleared; the caller holds the fake's lock.</summary>
    public int Begin() => ++_started;

    /// <summary>Starts counting processes from 1 again.</summary>
    public void ResetCount() => _started = 0;

    /// <summary>Fails the <paramref name="processNumber"/>th process (counting from 1), once.</summary>
    public void AddFailureAt(int processNumber, int exitCode, string standardError)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(processNumber);
        ArgumentOutOfRangeException.ThrowIfZero(exitCode);
        var result = new CommandResult(exitCode, string.Empty, standardError ?? string.Empty);
        Add(_ => _answering == processNumber, _ => result, 1);
    }

    public void AddDelay(Func<CommandSpec, bool> predicate, TimeSpan delay, int? times)
    {
        ArgumentNullException.ThrowIfNull(predicate);
        ArgumentOutOfRangeException.ThrowIfLessThan(delay, TimeSpan.Zero);
        if (times is { } count)
        {
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count, nameof(times));
        }

        _delays.Add(new DelayEntry(predicate, delay, times));
    }

    /// <summary>How long to hold a process before answering it: the sum of the matching delays, each used up once.</summary>
    public TimeSpan DelayFor(CommandSpec process, IReadOnlyList<CommandSpec> views)
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
            if (entry.Remaining is { } remaining)
            {
                if (remaining == 1)
                {
                    _delays.RemoveAt(i);
                }
                else
                {
                    _delays[i] = entry with { Remaining = remaining - 1 };
                }
            }
        }

        return total;
    }

    public void Add(Func<CommandSpec, bool> predicate, Func<CommandSpec, CommandResult> responder, int? times)
    {
        ArgumentNullException.ThrowIfNull(predicate);
        ArgumentNullException.ThrowIfNull(responder);
        if (times is { } count)
        {
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count, nameof(times));
        }

        _entries.Add(new Entry(predicate, responder, times));
    }

    public void Clear()
    {
        _entries.Clear();
        _delays.Clear();
    }

    /// <summary>
    /// Answers a process: a script matches when its predicate matches the process itself or one of its per-rule
    /// views (the lines of an <c>iptables-restore</c> batch), and its responder gets the command that matched.
    /// </summary>
    /// <param name="process">The process.</param>
    /// <param name="views">Its per-rule views.</param>
    /// <param name="processNumber">Its number, from <see cref="Begin"/>.</param>
    /// <param name="result">The scripted result, if any.</param>
    /// <returns>Whether a script answered.</returns>
    public bool TryRespond(CommandSpec process, IReadOnlyList<CommandSpec> views, int processNumber, out CommandResult result)
    {
        _answering = processNumber;
        for (var i = _entries.Count - 1; i >= 0; i--)
        {
            var entry = _entries[i];
            var matched = entry.Predicate(process) ? process : views.FirstOrDefault(entry.Predicate);
            if (matched is null)
            {
                continue;
            }

            if (entry.Remaining is { } remaining)
            {
                if (remaining == 1)
                {
                    _entries.RemoveAt(i);
                }
                else
                {
                    _entries[i] = entry with { Remaining = remaining - 1 };
                }
            }

            result = entry.Responder(matched) ?? throw new InvalidOperationException("A scripted responder returned null.");
            return true;
        }

        result = CommandResult.Success;
        return false;
    }

    private sealed record Entry(Func<CommandSpec, bool> Predicate, Func<CommandSpec, CommandResult> Responder, int? Remaining);

    private sealed record DelayEntry(Func<CommandSpec, bool> Predicate, TimeSpan Delay, int? Remaining);
}
