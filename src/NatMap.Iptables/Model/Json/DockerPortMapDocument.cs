namespace NatMap.Iptables;

/// <summary>A <see cref="DockerPortMap"/> as text, for JSON and configuration binding.</summary>
public sealed class DockerPortMapDocument
{
    /// <summary>Gets or sets the container identifier. Required.</summary>
    public string? ContainerId { get; set; }

    /// <summary>Gets or sets the published host endpoint, such as <c>0.0.0.0:8080</c> or <c>[::1]:8080</c>. Required.</summary>
    public string? HostEndpoint { get; set; }

    /// <summary>Gets or sets the container endpoint, such as <c>172.17.0.2:80</c>. Required.</summary>
    public string? ContainerEndpoint { get; set; }

    /// <summary>Gets or sets the protocol, <c>tcp</c> or <c>udp</c>.</summary>
    /// <value>The default, <see langword="null"/>, means <c>tcp</c>.</value>
    public string? Protocol { get; set; }
}
