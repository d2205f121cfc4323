using System.Net;
using System.Reflection;
using NatMap.Iptables;

namespace NatMap.Cli;

/// <summary>The natmap command line: parse, build the request, run it dry (default) or for real (--apply).</summary>
internal static class CliApp
{
    public const string Usage = """
        natmap: publish ports through Linux NAT with NatMap.Iptables.

        Usage: natmap plan <kind> [options] [--remove] [--apply]

        Without --apply nothing runs: natmap prints the exact commands the request would run on a host where
        nothing is installed yet (no root needed). With --apply it runs them (root needed).

        Kinds:
          setup                                       chains and jumps (idempotent)
          flush                                       remove everything natmap owns, both families
          docker  --container ID --host ADDR:PORT --target ADDR:PORT [--udp]
          dnat    --external IP --internal IP --ports PORTS [--udp] [--in-interface IF] [--internal-port N]
          snat    --internal IP --external IP --out-interface IF
          hairpin --external IP --internal IP --ports PORTS [--udp] [--lan CIDR]

        Options:
          --remove                remove the object instead of installing it
          --apply                 run the commands instead of printing them
          --netns NAME            run every command in network namespace NAME (ip netns exec)
          --iptables PROGRAM      IPv4 program, e.g. iptables-legacy (default iptables)
          --ip6tables PROGRAM     IPv6 program (default ip6tables)
          --no-ipv6               leave ip6tables alone in setup and flush
          --per-rule              one iptables process per rule instead of one iptables-restore batch per family
          --chain NAME            chain name (default NATMAP)
          --comment-prefix TEXT   comment prefix (default natmap)

        PORTS: 80, 80,443 or 8000-8100. IPv6 endpoints: [fd00::2]:80.

        Example:
          natmap plan docker --container web --host 0.0.0.0:8080 --target 172.17.0.2:80
        """;

    /// <summary>Runs the command line. Exit codes: 0 done, 1 a command failed, 2 the request is invalid.</summary>
    public static async Task<int> RunAsync(IReadOnlyList<string> args, TextWriter output, TextWriter error, ICommandRunner? applyRunner, CancellationToken cancellationToken)
    {
        try
        {
            var parsed = CliArguments.Parse(args);
            if (parsed.Has("--version"))
            {
                await output.WriteLineAsync(typeof(IptablesManager).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown").ConfigureAwait(false);
                return 0;
            }

            if (parsed.Has("--help") || parsed.Has("-h") || parsed.Positionals.Count == 0)
            {
                await output.WriteLineAsync(Usage).ConfigureAwait(false);
                return parsed.Positionals.Count == 0 && !parsed.Has("--help") && !parsed.Has("-h") ? 2 : 0;
            }

            if (parsed.Positionals is not ["plan", var kind])
            {
                throw new UsageException($"Expected 'plan <kind>', got '{string.Join(' ', parsed.Positionals)}'.");
            }

            var options = new NatMapOptions
            {
                NetworkNamespace = parsed.Optional("--netns"),
                IptablesPath = parsed.Optional("--iptables") ?? NatMapDefaults.IptablesPath,
                Ip6tablesPath = parsed.Optional("--ip6tables") ?? NatMapDefaults.Ip6tablesPath,
                ChainName = parsed.Optional("--chain") ?? NatMapDefaults.ChainName,
                CommentPrefix = parsed.Optional("--comment-prefix") ?? NatMapDefaults.CommentPrefix,
                EnableIpv6 = !parsed.Has("--no-ipv6"),
                Transport = parsed.Has("--per-rule") ? IptablesTransport.PerRule : IptablesTransport.Batch,
            };
            var apply = parsed.Has("--apply");
            var runner = apply ? applyRunner ?? new CliWrapCommandRunner() : new PrintingCommandRunner(output);
            var manager = new IptablesManager(runner, options);
            var operation = BuildOperation(kind, parsed, manager);
            parsed.RejectUnused();

            if (!apply)
            {
                await error.WriteLineAsync("# dry run: the commands below would run on a host where nothing is installed yet; add --apply to run them.").ConfigureAwait(false);
            }

            await operation(cancellationToken).ConfigureAwait(false);
            return 0;
        }
        catch (Exception exception) when (exception is UsageException or ArgumentException or FormatException or InvalidOperationException)
        {
            await error.WriteLineAsync($"natmap: {exception.Message}").ConfigureAwait(false);
            await error.WriteLineAsync("Run 'natmap --help' for usage.").ConfigureAwait(false);
            return 2;
        }
        catch (IptablesCommandException exception)
        {
            await error.WriteLineAsync($"natmap: {exception.Message}").ConfigureAwait(false);
            return 1;
        }
    }

    private static Func<CancellationToken, Task> BuildOperation(string kind, CliArguments args, IptablesManager manager)
    {
        var remove = args.Has("--remove");
        var protocol = args.Has("--udp") ? TransportProtocol.Udp : TransportProtocol.Tcp;
        switch (kind)
        {
            case "setup":
                return manager.SetupAsync;
            case "flush":
                return manager.FlushAllAsync;
            case "docker":
            {
                var map = new DockerPortMap(args.Required("--container"), Endpoint(args, "--host"), Endpoint(args, "--target"), protocol);
                return ct => remove ? manager.RemoveDockerMapAsync(map, ct) : manager.InstallDockerMapAsync(map, ct);
            }

            case "dnat":
            {
                var config = new DnatConfig(Address(args, "--external"), Address(args, "--internal"), PortSet.Parse(args.Required("--ports")), protocol, args.Optional("--in-interface"))
                {
                    InternalPort = args.Optional("--internal-port") is { } port ? Port(port) : null,
                };
                return ct => remove ? manager.RemoveDnatAsync(config, ct) : manager.InstallDnatAsync(config, ct);
            }

            case "snat":
            {
                var config = new SnatConfig(Address(args, "--internal"), Address(args, "--external"), args.Required("--out-interface"));
                return ct => remove ? manager.RemoveSnatAsync(config, ct) : manager.InstallSnatAsync(config, ct);
            }

            case "hairpin":
            {
                var config = new HairpinConfig(Address(args, "--external"), Address(args, "--internal"), PortSet.Parse(args.Required("--ports")), protocol,
                    args.Optional("--lan") is { } lan ? Network(lan) : null);
                return ct => remove ? manager.RemoveHairpinAsync(config, ct) : manager.InstallHairpinAsync(config, ct);
            }

            default:
                throw new UsageException($"Unknown kind '{kind}'; use setup, flush, docker, dnat, snat or hairpin.");
        }
    }

    private static IPEndPoint Endpoint(CliArguments args, string name) =>
        IPEndPoint.TryParse(args.Required(name), out var endpoint) ? endpoint : throw new UsageException($"{name} must be ADDRESS:PORT, e.g. 0.0.0.0:8080 or [::]:8080.");

    private static IPAddress Address(CliArguments args, string name) =>
        IPAddress.TryParse(args.Required(name), out var address) ? address : throw new UsageException($"{name} must be an IP address.");

    private static IPNetwork Network(string text) =>
        IPNetwork.TryParse(text, out var network) ? network : throw new UsageException("--lan must be a network such as 192.168.1.0/24.");

    private static int Port(string text) =>
        int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var port)
            ? port
            : throw new UsageException("--internal-port must be a number.");
}
