using System.Net;
using NatMap.Iptables.Internal;

namespace NatMap.Iptables;

/// <summary>
/// A static source NAT: traffic from <see cref="InternalIp"/> leaving through <see cref="ExternalInterface"/> gets
/// the source address <see cref="ExternalIp"/>.
/// </summary>
/// <param name="InternalIp">The source address to translate.</param>
/// <param name="ExternalIp">The source address the outside sees. Must be of the same family as <paramref name="InternalIp"/>.</param>
/// <param name="ExternalInterface">The interface the traffic leaves through.</param>
/// <remarks>Installed as an SNAT rule in nat <c>POSTROUTING</c>, through ip6tables for IPv6.</remarks>
public sealed record SnatConfig(IPAddress InternalIp, IPAddress ExternalIp, string ExternalInterface)
{
    /// <summary>Gets the source address to translate.</summary>
    public IPAddress InternalIp { get => Guard.Copy(field); init => field = Guard.Address(value, nameof(InternalIp)); }
        = Guard.Address(InternalIp, nameof(InternalIp));

    /// <summary>Gets the source address the outside sees.</summary>
    public IPAddress ExternalIp { get => Guard.Copy(field); init => field = Guard.Address(value, nameof(ExternalIp)); }
        = StaticNat.SameFamily(InternalIp, nameof(InternalIp), Guard.Address(ExternalIp, nameof(ExternalIp)), nameof(ExternalIp));

    /// <summary>Gets the interface the traffic leaves through.</summary>
    public string ExternalInterface { get; init => field = Guard.InterfaceName(value, nameof(ExternalInterface)); }
        = Guard.InterfaceName(ExternalInterface, nameof(ExternalInterface));

    /// <summary>Gets a value indicating whether the rule is IPv6 (installed through ip6tables).</summary>
    public bool IsIPv6 => InternalIp.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6;

    /// <summary>Checks the rules between fields, which a <see langword="with"/> expression can break.</summary>
    internal void Validate() => Guard.SameFamily(InternalIp, nameof(InternalIp), ExternalIp, nameof(ExternalIp));
}
