namespace NatMap.Iptables.Testing.Internal;

/// <summary>
/// Scripted responses shared by the fakes: an ordered list of (predicate, responder, remaining uses). The most
/// recently added entry that matches wins, so a later, more specific script overrides an earlier, general one.
/// </summary>
internal sealed class CommandScript
{
    private readonly List<Entry> _entries = [];

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

    public void Clear() => _entries.Clear();

    /// <summary>Finds the response for <paramref name="command"/>; the caller holds the fake's lock.</summary>
    public bool TryRespond(CommandSpec command, out CommandResult result) => TryRespond(command, [command], out result);

    /// <summary>
    /// Answers a process: a script matches when its predicate matches the process itself or one of its per-rule
    /// views (the lines of an <c>iptables-restore</c> batch), and its responder gets the command that matched.
    /// </summary>
    public bool TryRespond(CommandSpec process, IReadOnlyList<CommandSpec> views, out CommandResult result)
    {
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
}
