using NatMap.Iptables.Shared;

namespace NatMap.Iptables.Testing;

/// <summary>Reads a <see cref="CommandSpec"/> the way a test wants to assert it.</summary>
public static class CommandSpecExtensions
{
    /// <summary>
    /// The per-rule view of <paramref name="command"/>. When it runs <c>iptables-restore</c> or
    /// <c>ip6tables-restore</c> (any backend, directly or through <c>ip netns exec</c>) with its input on
    /// <see cref="CommandSpec.StandardInput"/>, one <c>iptables</c> command per input line, exactly as
    /// <see cref="RuleApplyMode.PerRule"/> would have run it: the same program, lock wait and namespace prefix, then
    /// <c>-t TABLE</c> and the line's arguments. Otherwise a list holding only <paramref name="command"/>.
    /// </summary>
    /// <param name="command">The command, for example one of <see cref="FakeCommandRunner.Processes"/>.</param>
    /// <returns>The equivalent per-rule commands, in input order.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="command"/> is <see langword="null"/>.</exception>
    /// <remarks>
    /// A <c>:CHAIN POLICY</c> declaration becomes <c>-P CHAIN POLICY</c> for a built-in chain and <c>-N CHAIN</c>
    /// for a user chain; the library itself never writes declarations, because under <c>--noflush</c> one flushes
    /// an existing chain.
    /// </remarks>
    public static IReadOnlyList<CommandSpec> ToPerRuleCommands(this CommandSpec command)
    {
        ArgumentNullException.ThrowIfNull(command);
        string[] all = [command.FileName, .. command.Arguments];
        var index = Array.FindIndex(all, IsRestoreProgram);
        if (index < 0 || command.StandardInput is null)
        {
            return [command];
        }

        var program = all[index][..^"-restore".Length];
        var options = new List<string>();
        for (var i = index + 1; i < all.Length; i++)
        {
            if (all[i] is "-w" or "--wait" or "-W" or "--wait-interval" && i + 1 < all.Length)
            {
                options.Add(all[i]);
                options.Add(all[++i]);
            }
        }

        var prefix = all[..index];
        var commands = new List<CommandSpec>();
        string? table = null;
        foreach (var rawLine in command.StandardInput.Split('\n'))
        {
            var line = rawLine.TrimEnd('\r');
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }

            if (line[0] == '*')
            {
                table = line[1..].Trim();
                continue;
            }

            if (line == "COMMIT")
            {
                table = null;
                continue;
            }

            List<string> tokens;
            if (line[0] == ':')
            {
                // ":NAME POLICY [packets:bytes]": a built-in chain's policy, or "-" for a user chain.
                var fields = line[1..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
                tokens = fields.Length > 1 && fields[1] != "-" ? ["-P", fields[0], fields[1]] : ["-N", fields[0]];
            }
            else
            {
                tokens = ArgumentLine.Split(line, out _);
            }

            string[] perRule = [program, .. options, .. table is null ? [] : (string[])["-t", table], .. tokens];
            commands.Add(prefix.Length == 0
                ? new CommandSpec(perRule[0], perRule[1..])
                : new CommandSpec(prefix[0], [.. prefix[1..], .. perRule]));
        }

        return commands;
    }

    private static bool IsRestoreProgram(string argument)
    {
        var name = Path.GetFileName(argument);
        return name.EndsWith("tables-restore", StringComparison.Ordinal)
            || name.EndsWith("tables-nft-restore", StringComparison.Ordinal)
            || name.EndsWith("tables-legacy-restore", StringComparison.Ordinal);
    }
}
