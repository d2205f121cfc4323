using System.Net;

namespace NatMap.Iptables.Testing;

/// <summary>The first packet of a connection, for <see cref="FakeIptables.Trace"/>.</summary>
/// <param name="Source">The source address.</param>
/// <param name="Destination">The destination address.</param>
/// <param name="Protocol">TCP or UDP.</param>
/// <param name="DestinationPort">The destination port.</param>
public sealed record SimulatedPacket(IPAddress Source, IPAddress Destination, TransportProtocol Protocol, int DestinationPort)
{
    /// <summary>Gets the interface the packet arrives on, for a packet from the network; ignored when <see cref="LocallyGenerated"/>.</summary>
    public string? InInterface { get; init; }

    /// <summary>Gets a value indicating whether a process on the host sent the packet (it then walks <c>OUTPUT</c>, not <c>PREROUTING</c>).</summary>
    public bool LocallyGenerated { get; init; }

    /// <summary>Gets the source port; 40000 unless set.</summary>
    public int SourcePort { get; init; } = 40000;
}
