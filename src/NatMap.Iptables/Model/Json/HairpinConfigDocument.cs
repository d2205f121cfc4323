using System.Text.Json.Serialization;
using NatMap.Iptables.Internal;

namespace NatMap.Iptables;

/// <summary>A <see cref="HairpinConfig"/> as text, for JSON and configuration binding.</summary>
public sealed class HairpinConfigDocument
{
    /// <summary>Gets or sets the external address the LAN clients connect to. Required.</summary>
    public string? ExternalIp { get; set; }

    /// <summary>Gets or sets the internal address of the server. Required.</summary>
    public string? InternalIp { get; set; }

    /// <summary>Gets or sets the ports, such as <c>80</c>, <c>80,443</c> or <c>8000-8100</c>; JSON may give one port as a number. Required.</summary>
    [JsonConverter(typeof(PortsTextJsonConverter))]
    public string? Ports { get; set; }

    /// <summary>Gets or sets the protocol, <c>tcp</c> or <c>udp</c>.</summary>
    /// <value>The default, <see langword="null"/>, means <c>tcp</c>.</value>
    public string? Protocol { get; set; }

    /// <summary>Gets or sets the clients' network, such as <c>10.0.0.0/24</c>.</summary>
    /// <value>The default, <see langword="null"/>, translates any source.</value>
    public string? LanCidr { get; set; }
}
