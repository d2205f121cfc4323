using NatMap.Iptables;

namespace NatMap.Cli;

/// <summary>
/// Before an install: has Setup run for the object's family? Without its chains iptables fails with a raw "No
/// chain/target/match by that name", so the CLI reads the tables first and says what to do instead.
/// </summary>
internal static class SetupCheck
{
    public static async Task<string?> MissingAsync(ICommandRunner runner, NatMapOptions options, NatMapState state, CancellationToken ct)
    {
        var ipv6 = Describe.Items(state).Any(static o => o switch
        {
            DockerPortMap m => m.IsIPv6,
            DnatConfig d => d.IsIPv6,
            SnatConfig s => s.IsIPv6,
            HairpinConfig h => h.IsIPv6,
            _ => false,
        });
        var program = (ipv6 ? options.Ip6tablesPath : options.IptablesPath) + "-save";
        foreach (var table in new[] { "nat", "filter" })
        {
            var read = Wrap(options, new CommandSpec(program, ["-t", table]));
            var save = await runner.RunAsync(read, ct).ConfigureAwait(false);
            if (!save.IsSuccess)
            {
                throw new IptablesCommandException(read, save);
            }

            if (!save.StandardOutput.Split('\n').Any(l => l.StartsWith($":{options.ChainName} ", StringComparison.Ordinal)))
            {
                var family = ipv6 ? "IPv6" : "IPv4";
                return $"natmap is not set up on this host: the {family} {table} table has no {options.ChainName} chain. Run 'natmap setup --apply{NamespaceHint(options)}' first.";
            }
        }

        return null;
    }

    /// <summary>A command in the options' namespace, as the library runs its own.</summary>
    public static CommandSpec Wrap(NatMapOptions options, CommandSpec command) =>
        Iptables.Shared.NetnsExec.Wrap(options.IpPath, options.NetworkNamespace, command.FileName, command.Arguments, command.StandardInput);

    private static string NamespaceHint(NatMapOptions options) => options.NetworkNamespace is { } ns ? $" --netns {ns}" : string.Empty;
}
