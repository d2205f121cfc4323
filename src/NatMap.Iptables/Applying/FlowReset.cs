using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace NatMap.Iptables.Internal;

/// <summary>
/// One set of conntrack entries to delete: a protocol, the original destination address when the translation is bound
/// to one, and the original destination port, or every port when <see cref="Port"/> is <see langword="null"/>.
/// </summary>
internal readonly record struct FlowReset(AddressFamily Family, string Protocol, IPAddress? Destination, int? Port)
{
    /// <summary>
    /// Past this many ports, a translation bound to an address resets every flow to that address with one command,
    /// instead of one command per port.
    /// </summary>
    public const int MaxPortsPerTranslation = 16;

    /// <summary>The arguments of <c>conntrack -D</c> that delete exactly these flows.</summary>
    public string[] ToArguments() =>
    [
        "-D", "-f", Family == AddressFamily.InterNetworkV6 ? "ipv6" : "ipv4", "-p", Protocol,
        .. Destination is { } address ? (string[])["--orig-dst", address.ToString()] : [],
        .. Port is { } port ? (string[])["--orig-port-dst", port.ToString(CultureInfo.InvariantCulture)] : [],
    ];

    /// <summary>
    /// The flows that the DNAT rules among <paramref name="changes"/> affect: every added or deleted rule whose target
    /// is <c>DNAT</c> and whose protocol <paramref name="mode"/> covers, by the destination (<c>-d</c>) and ports it
    /// matches. Each distinct set once, in order.
    /// </summary>
    public static IReadOnlyList<FlowReset> For(IEnumerable<RuleChange> changes, ConntrackReset mode)
    {
        if (mode == ConntrackReset.None)
        {
            return [];
        }

        var resets = new List<FlowReset>();
        foreach (var change in changes)
        {
            if (change.Kind is ChangeKind.Append or ChangeKind.Insert or ChangeKind.Delete && Translation(change.Family, change.Specification, mode) is { } found)
            {
                foreach (var reset in found)
                {
                    if (!resets.Contains(reset))
                    {
                        resets.Add(reset);
                    }
                }
            }
        }

        return resets;
    }

    /// <summary>The flows of one rule, or <see langword="null"/> when it is not a DNAT of a covered protocol.</summary>
    private static List<FlowReset>? Translation(AddressFamily family, IReadOnlyList<string> specification, ConntrackReset mode)
    {
        string? protocol = null, ports = null, target = null;
        IPAddress? destination = null;
        for (var i = 0; i + 1 < specification.Count; i++)
        {
            var value = specification[i + 1];
            switch (specification[i])
            {
                case "!":
                    i++; // a negated match never narrows the flows to reset
                    break;
                case "-p":
                    protocol = value;
                    break;
                case "-d":
                    var slash = value.IndexOf('/', StringComparison.Ordinal);
                    var network = slash < 0 ? value : value[..slash];
                    var hostMask = family == AddressFamily.InterNetworkV6 ? "128" : "32";
                    destination = slash < 0 || value[(slash + 1)..] == hostMask ? IPAddress.Parse(network) : null;
                    break;
                case "--dport" or "--dports":
                    ports = value;
                    break;
                case "-j":
                    target = value;
                    break;
            }
        }

        if (target != "DNAT" || ports is null || !(protocol == "udp" || (protocol == "tcp" && mode == ConntrackReset.UdpAndTcp)))
        {
            return null;
        }

        return Translation(family, protocol, destination, Ports(ports));
    }

    /// <summary>
    /// The flows of one translation that the nftables backend added or removed: its protocol, its destination address
    /// when it is bound to one, and its ports; none when <paramref name="mode"/> does not cover the protocol.
    /// </summary>
    public static IReadOnlyList<FlowReset> For(IPAddress? destination, AddressFamily family, TransportProtocol protocol, IEnumerable<int> ports, ConntrackReset mode) =>
        protocol == TransportProtocol.Udp ? (mode == ConntrackReset.None ? [] : Translation(family, "udp", destination, [.. ports]))
        : mode == ConntrackReset.UdpAndTcp ? Translation(family, "tcp", destination, [.. ports]) : [];

    private static List<FlowReset> Translation(AddressFamily family, string protocol, IPAddress? destination, List<int> numbers)
    {
        if (destination is not null && numbers.Count > MaxPortsPerTranslation)
        {
            return [new FlowReset(family, protocol, destination, null)];
        }

        return [.. numbers.Select(port => new FlowReset(family, protocol, destination, port))];
    }

    /// <summary>The ports of <c>--dport</c> or <c>--dports</c>: <c>53</c>, <c>8000:8100</c>, <c>53,5353,6000:6010</c>.</summary>
    private static List<int> Ports(string ports)
    {
        var numbers = new List<int>();
        foreach (var part in ports.Split(','))
        {
            var bounds = part.Split(':');
            var first = int.Parse(bounds[0], CultureInfo.InvariantCulture);
            var last = bounds.Length > 1 ? int.Parse(bounds[1], CultureInfo.InvariantCulture) : first;
            for (var port = first; port <= last; port++)
            {
                numbers.Add(port);
            }
        }

        return numbers;
    }
}
