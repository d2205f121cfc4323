using System.Net;
using NatMap.Iptables.Internal;

namespace NatMap.Iptables;

/// <summary>
/// A static destination NAT: traffic to <see cref="ExternalIp"/> on <see cref="Ports"/> is sent to <see cref="InternalIp"/>.
/// </summary>
/// <param name="ExternalIp">The address the traffic arrives for.</param>
/// <param name="InternalIp">The address it is translated to. Must be of the same family as <paramref name="ExternalIp"/>.</param>
/// <param name="Ports">The destination ports to translate; kept unchanged unless <see cref="InternalPort"/> is set.</param>
/// <param name="Protocol">The transport protocol; TCP by default.</param>
/// <param name="ExternalInterface">When set, only traffic arriving on this interface is translated.</param>
/// <remarks>
/// <para>Installed as a DNAT rule in nat <c>PREROUTING</c> and an ACCEPT rule in the library's filter chain (reached from
/// the top of <c>FORWARD</c>, so it needs <see cref="IIptablesManager.SetupAsync"/>), through ip6tables for IPv6.</para>
/// <para>Every field is validated when set; a failure throws an <see cref="ArgumentException"/> naming the property.</para>
/// </remarks>
public sealed record DnatConfig(
    IPAddress ExternalIp,
    IPAddress InternalIp,
    PortSet Ports,
    TransportProtocol Protocol = TransportProtocol.Tcp,
    string? ExternalInterface = null)
{
    /// <summary>Gets the address the traffic arrives for.</summary>
    public IPAddress ExternalIp { get => Guard.Copy(field); init => field = Guard.Address(value, nameof(ExternalIp)); }
        = Guard.Address(ExternalIp, nameof(ExternalIp));

    /// <summary>Gets the address the traffic is translated to.</summary>
    public IPAddress InternalIp { get => Guard.Copy(field); init => field = Guard.Address(value, nameof(InternalIp)); }
        = StaticNat.SameFamily(ExternalIp, nameof(ExternalIp), Guard.Address(InternalIp, nameof(InternalIp)), nameof(InternalIp));

    /// <summary>Gets the destination ports to translate.</summary>
    public PortSet Ports { get; init => field = StaticNat.Ports(value, nameof(Ports)); }
        = StaticNat.Ports(Ports, nameof(Ports));

    /// <summary>Gets the transport protocol.</summary>
    public TransportProtocol Protocol { get; init => field = Guard.Protocol(value, nameof(Protocol)); }
        = Guard.Protocol(Protocol, nameof(Protocol));

    /// <summary>Gets the interface the traffic must arrive on, or <see langword="null"/> for any interface.</summary>
    public string? ExternalInterface { get; init => field = value is null ? null : Guard.InterfaceName(value, nameof(ExternalInterface)); }
        = ExternalInterface is null ? null : Guard.InterfaceName(ExternalInterface, nameof(ExternalInterface));

    /// <summary>
    /// Gets the port the traffic is sent to on <see cref="InternalIp"/>, or <see langword="null"/> (the default) to keep
    /// the original destination port. Only a single-port <see cref="Ports"/> can be redirected to another port.
    /// </summary>
    public int? InternalPort { get; init => field = value is null ? null : Guard.Port(value.Value, nameof(InternalPort)); }

    /// <summary>Gets a value indicating whether the rule is IPv6 (installed through ip6tables).</summary>
    public bool IsIPv6 => ExternalIp.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6;

    /// <summary>Checks the rules between fields, which a <see langword="with"/> expression can break.</summary>
    internal void Validate()
    {
        StaticNat.ValidateTranslation(ExternalIp, InternalIp, Ports);
        if (InternalPort is not null && !Ports.IsSinglePort)
        {
            throw new ArgumentException(
                $"InternalPort ({InternalPort}) can only be set when Ports is a single port, not '{Ports}': iptables would send every port of the set to that one port.",
                nameof(InternalPort));
        }
    }
}
