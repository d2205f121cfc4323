using System.Text.Json.Serialization;
using NatMap.Iptables.Internal;

namespace NatMap.Iptables;

/// <summary>A <see cref="DnatConfig"/> as text, for JSON and configuration binding.</summary>
public sealed class DnatConfigDocument
{
    /// <summary>Gets or sets the address the traffic arrives for. Required.</summary>
    public string? ExternalIp { get; set; }

    /// <summary>Gets or sets the address the traffic is translated to. Required.</summary>
    public string? InternalIp { get; set; }

    /// <summary>Gets or sets the ports, such as <c>80</c>, <c>80,443</c> or <c>8000-8100</c>; JSON may give one port as a number. Required.</summary>
    [JsonConverter(typeof(PortsTextJsonConverter))]
    public string? Ports { get; set; }

    /// <summary>Gets or sets the protocol, <c>tcp</c> or <c>udp</c>.</summary>
    /// <value>The default, <see langword="null"/>, means <c>tcp</c>.</value>
    public string? Protocol { get; set; }

    /// <summary>Gets or sets the interface the traffic must arrive on.</summary>
    /// <value>The default, <see langword="null"/>, means any interface.</value>
    public string? ExternalInterface { get; set; }

    /// <summary>Gets or sets the port the traffic is sent to, for a single-port <see cref="Ports"/>.</summary>
    /// <value>The default, <see langword="null"/>, keeps the original port.</value>
    public int? InternalPort { get; set; }
}
