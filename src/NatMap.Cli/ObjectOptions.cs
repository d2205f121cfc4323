using System.CommandLine;
using NatMap.Iptables;

namespace NatMap.Cli;

/// <summary>
/// The four kinds of object and their options. Each builds a one-object <see cref="NatMapStateDocument"/>, so the
/// command line validates exactly as the state file does; an error names the option it came from.
/// </summary>
internal static class ObjectOptions
{
    public static IReadOnlyList<Kind> Kinds { get; } = BuildKinds();

    public static Task Run(IptablesManager manager, NatMapState state, bool install, CancellationToken ct) => state switch
    {
        { DockerMaps: [var map] } => install ? manager.InstallDockerMapAsync(map, ct) : manager.RemoveDockerMapAsync(map, ct),
        { Dnats: [var dnat] } => install ? manager.InstallDnatAsync(dnat, ct) : manager.RemoveDnatAsync(dnat, ct),
        { Snats: [var snat] } => install ? manager.InstallSnatAsync(snat, ct) : manager.RemoveSnatAsync(snat, ct),
        { Hairpins: [var hairpin] } => install ? manager.InstallHairpinAsync(hairpin, ct) : manager.RemoveHairpinAsync(hairpin, ct),
        _ => throw new InvalidOperationException("One object was expected."),
    };

    private static IReadOnlyList<Kind> BuildKinds()
    {
        static Option<string> Text(string name, string description, string helpName, bool required = true) =>
            new(name) { Description = description, HelpName = helpName, Required = required };
        var udp = new Option<bool>("--udp") { Description = "UDP instead of TCP." };

        var container = Text("--container", "The container id (part of the rule comment).", "ID");
        var host = Text("--host", "The host endpoint to publish: 0.0.0.0:8080, 127.0.0.1:8080, [::]:8080.", "ADDR:PORT");
        var target = Text("--target", "The container endpoint: 172.17.0.2:80 or [fd00::2]:80.", "ADDR:PORT");
        var docker = new Kind("docker", "A Docker-style port mapping.", [container, host, target, udp], parsed => Check(
            new NatMapStateDocument
            {
                DockerMaps = [new DockerPortMapDocument
                {
                    ContainerId = parsed.GetValue(container), HostEndpoint = parsed.GetValue(host), ContainerEndpoint = parsed.GetValue(target), Protocol = Protocol(parsed, udp),
                }],
            },
            new() { ["containerId"] = "--container", ["hostEndpoint"] = "--host", ["containerEndpoint"] = "--target", ["protocol"] = "--udp" }));

        var external = Text("--external", "The external address.", "IP");
        var @internal = Text("--internal", "The internal address.", "IP");
        var ports = Text("--ports", "The ports: 80, 80,443 or 8000-8100.", "PORTS");
        var inInterface = Text("--in-interface", "Only traffic arriving on this interface.", "IF", required: false);
        var internalPort = new Option<int?>("--internal-port") { Description = "Send a single port to this port instead.", HelpName = "PORT" };
        var dnat = new Kind("dnat", "A static destination NAT.", [external, @internal, ports, udp, inInterface, internalPort], parsed => Check(
            new NatMapStateDocument
            {
                Dnats = [new DnatConfigDocument
                {
                    ExternalIp = parsed.GetValue(external), InternalIp = parsed.GetValue(@internal), Ports = parsed.GetValue(ports), Protocol = Protocol(parsed, udp),
                    ExternalInterface = parsed.GetValue(inInterface), InternalPort = parsed.GetValue(internalPort),
                }],
            },
            new() { ["externalIp"] = "--external", ["internalIp"] = "--internal", ["ports"] = "--ports", ["externalInterface"] = "--in-interface", ["internalPort"] = "--internal-port" }));

        var outInterface = Text("--out-interface", "The interface the traffic leaves through.", "IF");
        var snat = new Kind("snat", "A static source NAT.", [@internal, external, outInterface], parsed => Check(
            new NatMapStateDocument
            {
                Snats = [new SnatConfigDocument { InternalIp = parsed.GetValue(@internal), ExternalIp = parsed.GetValue(external), ExternalInterface = parsed.GetValue(outInterface) }],
            },
            new() { ["externalIp"] = "--external", ["internalIp"] = "--internal", ["externalInterface"] = "--out-interface" }));

        var lan = Text("--lan", "The clients' network, e.g. 192.168.1.0/24 (default: any source).", "CIDR", required: false);
        var hairpin = new Kind("hairpin", "Hairpin NAT: LAN clients reach a LAN server through its external address.", [external, @internal, ports, udp, lan], parsed => Check(
            new NatMapStateDocument
            {
                Hairpins = [new HairpinConfigDocument
                {
                    ExternalIp = parsed.GetValue(external), InternalIp = parsed.GetValue(@internal), Ports = parsed.GetValue(ports), Protocol = Protocol(parsed, udp),
                    LanCidr = parsed.GetValue(lan),
                }],
            },
            new() { ["externalIp"] = "--external", ["internalIp"] = "--internal", ["ports"] = "--ports", ["lanCidr"] = "--lan" }));

        return [docker, dnat, snat, hairpin];
    }

    private static string Protocol(ParseResult parsed, Option<bool> udp) => parsed.GetValue(udp) ? "udp" : "tcp";

    /// <summary>Validates through the state format and names the option of each error.</summary>
    private static NatMapState Check(NatMapStateDocument document, Dictionary<string, string> optionOf)
    {
        if (document.TryToState(out var state, out var errors))
        {
            return state;
        }

        var lines = errors.Select(e =>
        {
            var field = e.Path[(e.Path.LastIndexOf('.') + 1)..];
            return optionOf.TryGetValue(field, out var option) ? $"{option}: {e.Message}" : e.Message;
        });
        throw new UsageException(string.Join(Environment.NewLine, lines));
    }

    /// <summary>One kind of object: its subcommand name, options, and how to build it from a parse.</summary>
    internal sealed record Kind(string Name, string Description, IReadOnlyList<Option> Options, Func<ParseResult, NatMapState> Build);
}
