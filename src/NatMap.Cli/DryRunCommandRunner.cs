using NatMap.Iptables;

namespace NatMap.Cli;

/// <summary>
/// The runner of a dry run: commands that only read the host (<c>iptables-save</c>, <c>iptables -S</c>, <c>ip route
/// show</c>, <c>sysctl -n</c>) really run, so the plan is made against the host as it is; every other command is printed
/// and reported as a success, and never reaches the host.
/// </summary>
/// <remarks>Reads are recognised from a closed list; anything not on it counts as a change and is only printed.</remarks>
/// <remarks>
/// A read whose program is not installed (a machine without iptables, where a dry run is still useful to see what
/// natmap would do) reads as empty, with one note on <c>error</c>: the commands printed are then those for a host
/// where nothing is installed yet.
/// </remarks>
internal sealed class DryRunCommandRunner(ICommandRunner reader, TextWriter output, TextWriter error) : ICommandRunner
{
    private readonly PrintingCommandRunner _printer = new(output);
    private bool _noted;

    public async Task<CommandResult> RunAsync(CommandSpec command, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(command);
        if (!IsRead(command))
        {
            return await _printer.RunAsync(command, cancellationToken).ConfigureAwait(false);
        }

        try
        {
            return await reader.RunAsync(command, cancellationToken).ConfigureAwait(false);
        }
        catch (System.ComponentModel.Win32Exception exception)
        {
            if (!_noted)
            {
                _noted = true;
                await error.WriteLineAsync($"# could not read the host ({command.FileName}: {exception.Message}); showing the commands for a host where nothing is installed yet").ConfigureAwait(false);
            }

            return CommandResult.Success;
        }
    }

    /// <summary>Whether a command only reads: a closed list, so a command not on it is printed, not run.</summary>
    public static bool IsRead(CommandSpec command)
    {
        if (command.StandardInput is not null)
        {
            return false;
        }

        var (_, unwrapped, arguments) = Iptables.Shared.NetnsExec.Unwrap(command);
        var program = Path.GetFileName(unwrapped);
        string[] args = [.. arguments];
        var family = program.Replace("-nft", string.Empty, StringComparison.Ordinal).Replace("-legacy", string.Empty, StringComparison.Ordinal);
        return family switch
        {
            "iptables-save" or "ip6tables-save" => args.All(static a => a is "-t" or "nat" or "filter" or "raw" or "mangle" or "security" or "-c"),
            "iptables" or "ip6tables" => args.Any(static a => a is "-S" or "-L" or "-C" or "--list-rules" or "--list" or "--check")
                && !args.Any(static a => a is "-A" or "-I" or "-D" or "-R" or "-N" or "-X" or "-F" or "-P" or "-Z" or "-E"
                    or "--append" or "--insert" or "--delete" or "--replace" or "--new-chain" or "--delete-chain" or "--flush"
                    or "--policy" or "--zero" or "--rename-chain"),
            "ip" => IsIpRead(args),
            "sysctl" => args.All(static a => a == "-n" || (!a.StartsWith('-') && !a.Contains('=', StringComparison.Ordinal))),
            _ => false,
        };
    }

    private static bool IsIpRead(string[] args)
    {
        var words = args.SkipWhile(static a => a.StartsWith('-')).ToArray();
        return words is [("route" or "r" or "addr" or "address" or "a"), ("show" or "list" or "get"), ..];
    }
}
