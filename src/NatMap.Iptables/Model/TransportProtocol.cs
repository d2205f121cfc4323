namespace NatMap.Iptables;

/// <summary>The transport protocol a port mapping or NAT rule applies to.</summary>
public enum TransportProtocol
{
    /// <summary>TCP; rendered as <c>tcp</c> in iptables arguments.</summary>
    Tcp,

    /// <summary>UDP; rendered as <c>udp</c> in iptables arguments.</summary>
    Udp,
}
