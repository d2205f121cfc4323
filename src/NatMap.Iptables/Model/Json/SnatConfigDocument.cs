namespace NatMap.Iptables;

/// <summary>A <see cref="SnatConfig"/> as text, for JSON and configuration binding.</summary>
public sealed class SnatConfigDocument
{
    /// <summary>Gets or sets the source address to translate. Required.</summary>
    public string? InternalIp { get; set; }

    /// <summary>Gets or sets the source address the outside sees. Required.</summary>
    public string? ExternalIp { get; set; }

    /// <summary>Gets or sets the interface the traffic leaves through. Required.</summary>
    public string? ExternalInterface { get; set; }
}
