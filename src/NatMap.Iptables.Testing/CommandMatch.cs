namespace NatMap.Iptables.Testing;

/// <summary>Ready-made predicates for scripting <see cref="FakeCommandRunner"/> responses.</summary>
public static class CommandMatch
{
    /// <summary>Matches every command.</summary>
    public static Func<CommandSpec, bool> Any { get; } = static _ => true;

    /// <summary>Matches commands whose arguments contain <paramref name="arguments"/> as a contiguous run, in order.</summary>
    /// <param name="arguments">For example <c>"-t", "nat", "-N"</c>.</param>
    /// <returns>The predicate.</returns>
    /// <exception cref="ArgumentException"><paramref name="arguments"/> is empty.</exception>
    public static Func<CommandSpec, bool> ArgumentsContain(params string[] arguments)
    {
        ArgumentNullException.ThrowIfNull(arguments);
        if (arguments.Length == 0)
        {
            throw new ArgumentException("Give at least one argument to look for.", nameof(arguments));
        }

        var copy = arguments.ToArray();
        return command =>
        {
            var args = command.Arguments;
            for (var start = 0; start + copy.Length <= args.Count; start++)
            {
                var found = true;
                for (var i = 0; i < copy.Length && found; i++)
                {
                    found = string.Equals(args[start + i], copy[i], StringComparison.Ordinal);
                }

                if (found)
                {
                    return true;
                }
            }

            return false;
        };
    }

    /// <summary>
    /// Matches commands that run <paramref name="program"/>, directly or through <c>ip netns exec NAME</c>.
    /// </summary>
    /// <param name="program">For example <c>ip6tables</c>.</param>
    /// <returns>The predicate.</returns>
    public static Func<CommandSpec, bool> Program(string program)
    {
        ArgumentException.ThrowIfNullOrEmpty(program);
        return command => Shared.NetnsExec.Unwrap(command).Program == program;
    }
}
