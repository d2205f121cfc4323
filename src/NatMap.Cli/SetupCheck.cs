using System.Net.Sockets;
using NatMap.Iptables;
using NatMap.Iptables.Internal;
using NatMap.Iptables.Rules;

namespace NatMap.Cli;

/// <summary>
/// Before an install: has Setup made the chain the object's rules go to? Without it iptables fails with a raw "No
/// chain/target/match by that name", so the CLI reads the tables first and says what to do instead. Which objects need
/// it is the library's decision (<see cref="ObjectPlanner.TablesNeedingChain"/>): Docker mappings and static DNAT.
/// </summary>
internal static class SetupCheck
{
    public static async Task<string?> MissingAsync(ICommandRunner runner, NatMapOptions options, NatMapState state, CancellationToken ct)
    {
        // The library's decision, not a second one: only objects with a rule in the library's chain need Setup.
        var builder = new NatRuleBuilder(options.ChainName, options.CommentPrefix);
        var rules = Describe.Items(state).SelectMany(o => o switch
        {
            DockerPortMap m => builder.BuildDockerMap(m),
            DnatConfig d => builder.BuildDnat(d),
            SnatConfig s => builder.BuildSnat(s),
            HairpinConfig h => builder.BuildHairpin(h),
            _ => [],
        });
        foreach (var table in ObjectPlanner.TablesNeedingChain(rules, builder).GroupBy(static t => (t.Family, t.Table)))
        {
            var (family, name) = table.Key;
            var ipv6 = family == AddressFamily.InterNetworkV6;
            var read = Wrap(options, new CommandSpec((ipv6 ? options.Ip6tablesPath : options.IptablesPath) + "-save", ["-t", name]));
            var save = await runner.RunAsync(read, ct).ConfigureAwait(false);
            if (!save.IsSuccess)
            {
                throw new IptablesCommandException(read, save);
            }

            var lines = save.StandardOutput.Split('\n');
            foreach (var (_, _, root) in table)
            {
                if (!lines.Any(l => l.StartsWith($":{root} ", StringComparison.Ordinal)))
                {
                    return $"natmap is not set up on this host: the {(ipv6 ? "IPv6" : "IPv4")} {name} table has no {root} chain. Run 'natmap setup --apply{NamespaceHint(options)}' first.";
                }
            }
        }

        return null;
    }

    /// <summary>A command in the options' namespace, as the library runs its own.</summary>
    public static CommandSpec Wrap(NatMapOptions options, CommandSpec command) =>
        Iptables.Shared.NetnsExec.Wrap(options.IpPath, options.NetworkNamespace, command.FileName, command.Arguments, command.StandardInput);

    private static string NamespaceHint(NatMapOptions options) => options.NetworkNamespace is { } ns ? $" --netns {ns}" : string.Empty;
}
