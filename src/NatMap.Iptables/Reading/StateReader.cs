using System.Net;
using System.Net.Sockets;
using NatMap.Iptables.Rules;

namespace NatMap.Iptables.Internal;

/// <summary>
/// Rebuilds the objects the library owns from the nat table. Each object is read from the fields of its defining
/// rule (the DNAT, or the SNAT) and kept only if the builder gives it back the very comment the rule carries: a rule
/// that merely looks like ours, or one edited by hand, is never misread.
/// </summary>
internal sealed class StateReader(NatRuleBuilder builder)
{
    private readonly string _prefix = builder.CommentPrefix + ":";

    private readonly List<DockerPortMap> _maps = [];
    private readonly List<DnatConfig> _dnats = [];
    private readonly List<SnatConfig> _snats = [];
    private readonly List<HairpinConfig> _hairpins = [];

    // Every object read so far, to drop the second rule of one object (a DNAT read both ways, a duplicated rule) in
    // constant time: List.Contains made reading n objects O(n²) (review item 5). Records of different types never equal.
    private readonly HashSet<object> _seen = [];

    public NatMapState State => new() { DockerMaps = [.. _maps], Dnats = [.. _dnats], Snats = [.. _snats], Hairpins = [.. _hairpins] };

    /// <summary>Reads the owned objects of one family's nat table.</summary>
    public void Read(TableListing nat, AddressFamily family)
    {
        foreach (var rule in nat.Rules)
        {
            if (rule.Comment is not { } comment || !builder.IsOwned(comment))
            {
                continue;
            }

            var kind = comment.AsSpan(_prefix.Length);
            if (kind.StartsWith("docker:") && builder.IsDnatChain(rule.Chain) && rule.JumpTarget == "DNAT")
            {
                AddIfRecognised(_maps, comment, () => ReadDockerMap(rule, family, comment), builder.DockerMapComment);
            }
            else if (kind.StartsWith("dnat:") && rule.Chain == "PREROUTING" && rule.JumpTarget == "DNAT")
            {
                // The rule's target port is either the original port (kept) or a redirect; the comment says which.
                AddIfRecognised(_dnats, comment, () => ReadDnat(rule), builder.DnatComment);
                AddIfRecognised(_dnats, comment, () => ReadDnat(rule) with { InternalPort = TargetPort(rule) }, builder.DnatComment);
            }
            else if (kind.StartsWith("snat:") && rule.Chain == "POSTROUTING" && rule.JumpTarget == "SNAT")
            {
                AddIfRecognised(_snats, comment, () => new SnatConfig(Host(Value(rule, "-s")), IPAddress.Parse(Value(rule, "--to-source")!), Value(rule, "-o")!), builder.SnatComment);
            }
            else if (kind.StartsWith("hairpin:") && rule.Chain == "PREROUTING" && rule.JumpTarget == "DNAT")
            {
                AddIfRecognised(_hairpins, comment, () => new HairpinConfig(
                    Host(Value(rule, "-d")),
                    NatTarget(Value(rule, "--to-destination")).Address,
                    Ports(rule),
                    Protocol(rule),
                    Value(rule, "-s") is { } lan ? IPNetwork.Parse(lan) : null), builder.HairpinComment);
            }
        }
    }

    private static DockerPortMap ReadDockerMap(ListedRule rule, AddressFamily family, string comment)
    {
        var fields = comment.Split(':');
        var id = fields.Length > 2 ? fields[2] : throw new FormatException($"'{comment}' has no container id.");
        var host = Value(rule, "-d") is { } bound
            ? Host(bound)
            : family == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any;
        var port = int.Parse(Value(rule, "--dport")!, System.Globalization.CultureInfo.InvariantCulture);
        var (address, containerPort) = NatTarget(Value(rule, "--to-destination"));
        return new DockerPortMap(id, new IPEndPoint(host, port), new IPEndPoint(address, containerPort ?? port), Protocol(rule));
    }

    private static DnatConfig ReadDnat(ListedRule rule) =>
        new(Host(Value(rule, "-d")), NatTarget(Value(rule, "--to-destination")).Address, Ports(rule), Protocol(rule), Value(rule, "-i"));

    private static int? TargetPort(ListedRule rule) => NatTarget(Value(rule, "--to-destination")).Port;

    private void AddIfRecognised<T>(List<T> list, string comment, Func<T> read, Func<T, string> commentOf)
        where T : class
    {
        var item = Try(read);
        if (item is not null && commentOf(item) == comment && _seen.Add(item))
        {
            list.Add(item);
        }
    }

    private static T? Try<T>(Func<T> read)
        where T : class
    {
        try
        {
            return read();
        }
        catch (Exception exception) when (exception is ArgumentException or FormatException)
        {
            return null;
        }
    }

    private static string? Value(ListedRule rule, string option) => RuleSpecification.ValueOf(rule.Specification, option);

    private static TransportProtocol Protocol(ListedRule rule) => Value(rule, "-p") switch
    {
        "tcp" => TransportProtocol.Tcp,
        "udp" => TransportProtocol.Udp,
        var other => throw new FormatException($"Unsupported protocol '{other}'."),
    };

    private static PortSet Ports(ListedRule rule) => PortSet.Parse(Value(rule, "--dports") ?? Value(rule, "--dport")!);

    /// <summary>A host match as iptables prints it (<c>10.0.0.1/32</c>, <c>fd00::1/128</c>); other masks are not a host.</summary>
    private static IPAddress Host(string? text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var network = IPNetwork.Parse(text);
        var full = network.BaseAddress.AddressFamily == AddressFamily.InterNetworkV6 ? 128 : 32;
        return network.PrefixLength == full ? network.BaseAddress : throw new FormatException($"'{text}' is not a single host.");
    }

    /// <summary>A NAT target: <c>10.0.0.2:80</c>, <c>10.0.0.2</c>, <c>[fd00::2]:80</c> or <c>fd00::2</c>.</summary>
    private static (IPAddress Address, int? Port) NatTarget(string? text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.StartsWith('['))
        {
            var endpoint = IPEndPoint.Parse(text);
            return (endpoint.Address, endpoint.Port);
        }

        var colons = text.Count(c => c == ':');
        if (colons == 1)
        {
            var endpoint = IPEndPoint.Parse(text);
            return (endpoint.Address, endpoint.Port);
        }

        return (IPAddress.Parse(text), null);
    }
}
