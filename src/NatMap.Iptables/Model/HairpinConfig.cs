using System.Net;
using NatMap.Iptables.Internal;

namespace NatMap.Iptables;

/// <summary>
/// Hairpin NAT: clients on the LAN reach a server on the LAN through its external address. Traffic to
/// <see cref="ExternalIp"/> on <see cref="Ports"/> is sent to <see cref="InternalIp"/>, and masqueraded so the
/// server's replies return through this host.
/// </summary>
/// <param name="ExternalIp">The external address the LAN clients connect to.</param>
/// <param name="InternalIp">The internal address of the server.</param>
/// <param name="Ports">The destination ports.</param>
/// <param name="Protocol">The transport protocol; TCP by default.</param>
/// <param name="LanCidr">
/// The clients' network. When <see langword="null"/> (the default), any source is translated. A network of prefix
/// length 0 (<c>0.0.0.0/0</c>, <c>::/0</c>) is refused: it means the same as <see langword="null"/>, and iptables lists it
/// without <c>-s</c>, so it would never read back as installed.
/// </param>
/// <remarks>
/// <para>The addresses are copied on the way in and on the way out, so changing an <see cref="IPAddress"/> passed in or
/// returned (its <see cref="IPAddress.ScopeId"/>) does not change the configuration.</para>
/// <para>Installed as a DNAT rule in nat <c>PREROUTING</c> and a MASQUERADE rule in nat <c>POSTROUTING</c>, through ip6tables for IPv6.</para>
/// </remarks>
public sealed record HairpinConfig(
    IPAddress ExternalIp,
    IPAddress InternalIp,
    PortSet Ports,
    TransportProtocol Protocol = TransportProtocol.Tcp,
    IPNetwork? LanCidr = null)
{
    /// <summary>Gets the external address the LAN clients connect to.</summary>
    public IPAddress ExternalIp { get => Guard.Copy(field); init => field = Guard.Address(value, nameof(ExternalIp)); }
        = Guard.Address(ExternalIp, nameof(ExternalIp));

    /// <summary>Gets the internal address of the server.</summary>
    public IPAddress InternalIp { get => Guard.Copy(field); init => field = Guard.Address(value, nameof(InternalIp)); }
        = StaticNat.SameFamily(ExternalIp, nameof(ExternalIp), Guard.Address(InternalIp, nameof(InternalIp)), nameof(InternalIp));

    /// <summary>Gets the destination ports.</summary>
    public PortSet Ports { get; init => field = StaticNat.Ports(value, nameof(Ports)); }
        = StaticNat.Ports(Ports, nameof(Ports));

    /// <summary>Gets the transport protocol.</summary>
    public TransportProtocol Protocol { get; init => field = Guard.Protocol(value, nameof(Protocol)); }
        = Guard.Protocol(Protocol, nameof(Protocol));

    /// <summary>Gets the clients' network, or <see langword="null"/> for any source.</summary>
    public IPNetwork? LanCidr { get => field is { } lan ? Guard.Copy(lan) : null; init => field = StaticNat.Network(value, nameof(LanCidr)); }
        = StaticNat.Network(LanCidr, nameof(LanCidr));

    /// <summary>Gets a value indicating whether the rule is IPv6 (installed through ip6tables).</summary>
    public bool IsIPv6 => ExternalIp.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6;

    /// <summary>Checks the rules between fields, which a <see langword="with"/> expression can break.</summary>
    internal void Validate()
    {
        StaticNat.ValidateTranslation(ExternalIp, InternalIp, Ports);
        if (LanCidr is { } lan && lan.BaseAddress.AddressFamily != ExternalIp.AddressFamily)
        {
            throw new ArgumentException(
                $"LanCidr ({lan}) must be of the same address family as ExternalIp ({ExternalIp}).", nameof(LanCidr));
        }
    }
}
