using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace NatMap.Iptables.Internal;

/// <summary>How model values are written as iptables arguments.</summary>
internal static class Tokens
{
    public static string Protocol(TransportProtocol protocol) => protocol == TransportProtocol.Udp ? "udp" : "tcp";

    /// <summary>A host address as iptables -S prints it: <c>10.0.0.1/32</c>, <c>fd00::1/128</c>.</summary>
    public static string Host(IPAddress address) =>
        address.AddressFamily == AddressFamily.InterNetworkV6 ? $"{address}/128" : $"{address}/32";

    /// <summary>A network as iptables -S prints it: <c>192.168.1.0/24</c>.</summary>
    public static string Network(IPNetwork network) =>
        string.Create(CultureInfo.InvariantCulture, $"{network.BaseAddress}/{network.PrefixLength}");

    /// <summary>An address in a comment or NAT target: IPv6 in brackets.</summary>
    public static string Bracketed(IPAddress address) =>
        address.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{address}]" : address.ToString();

    /// <summary>A NAT target: <c>10.0.0.2:80</c>, <c>[fd00::2]:80</c>, or the bare address when the port is kept.</summary>
    public static string NatTarget(IPAddress address, int? port) => port is { } value
        ? string.Create(CultureInfo.InvariantCulture, $"{Bracketed(address)}:{value}")
        : address.ToString();

    public static string Endpoint(IPEndPoint endpoint) => NatTarget(endpoint.Address, endpoint.Port);
}
