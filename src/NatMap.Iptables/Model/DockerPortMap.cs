using System.Net;
using NatMap.Iptables.Internal;

namespace NatMap.Iptables;

/// <summary>
/// A Docker-style port mapping: traffic to <see cref="HostEndpoint"/> is translated to <see cref="ContainerEndpoint"/>.
/// </summary>
/// <param name="ContainerId">Identifies the container; it becomes part of the rule comment.</param>
/// <param name="HostEndpoint">The host address and port to publish. <c>0.0.0.0</c> or <c>::</c> publishes on every host address.</param>
/// <param name="ContainerEndpoint">The container address and port that receive the traffic.</param>
/// <param name="Protocol">The transport protocol; TCP by default.</param>
/// <remarks>
/// <para>Every field is validated when set, by the constructor and by <see langword="with"/> expressions alike, and
/// a failure throws an <see cref="ArgumentException"/> whose <see cref="ArgumentException.ParamName"/> is the property name.</para>
/// <para><see cref="ContainerId"/> accepts ASCII letters, digits, <c>_</c>, <c>.</c> and <c>-</c> (not leading), at most
/// <see cref="NatMapLimits.MaxContainerIdLength"/> characters. Ports run from 1 to 65535. Both endpoints must be of one
/// address family; IPv6 mappings are installed with ip6tables. The container address must be a specific unicast address.</para>
/// <para>The endpoints are copied: changing the <see cref="IPEndPoint"/> passed in later does not change the mapping.</para>
/// </remarks>
public sealed record DockerPortMap(
    string ContainerId,
    IPEndPoint HostEndpoint,
    IPEndPoint ContainerEndpoint,
    TransportProtocol Protocol = TransportProtocol.Tcp)
{
    /// <summary>Gets the container identifier.</summary>
    /// <exception cref="ArgumentException">On set: empty, too long, or a character outside the allowed set.</exception>
    public string ContainerId { get; init => field = Guard.ContainerId(value, nameof(ContainerId)); }
        = Guard.ContainerId(ContainerId, nameof(ContainerId));

    /// <summary>Gets the published host endpoint. An unspecified address (<c>0.0.0.0</c>, <c>::</c>) means every host address.</summary>
    /// <exception cref="ArgumentException">On set: port 0, or an address that cannot be matched.</exception>
    public IPEndPoint HostEndpoint
    {
        get => new(Guard.Copy(field.Address), field.Port);
        init => field = Guard.Endpoint(value, nameof(HostEndpoint), allowUnspecified: true, allowLoopback: true);
    }

    = Guard.Endpoint(HostEndpoint, nameof(HostEndpoint), allowUnspecified: true, allowLoopback: true);

    /// <summary>Gets the container endpoint that receives the traffic.</summary>
    /// <exception cref="ArgumentException">On set: port 0, an unspecified, loopback or multicast address, or a family other than the host endpoint's.</exception>
    public IPEndPoint ContainerEndpoint
    {
        get => new(Guard.Copy(field.Address), field.Port);
        init => field = Guard.Endpoint(value, nameof(ContainerEndpoint), allowUnspecified: false, allowLoopback: false);
    }

    = CheckFamilies(HostEndpoint, Guard.Endpoint(ContainerEndpoint, nameof(ContainerEndpoint), allowUnspecified: false, allowLoopback: false));

    /// <summary>Gets the transport protocol.</summary>
    public TransportProtocol Protocol { get; init => field = Guard.Protocol(value, nameof(Protocol)); }
        = Guard.Protocol(Protocol, nameof(Protocol));

    /// <summary>Gets a value indicating whether the mapping is IPv6 (installed through ip6tables).</summary>
    public bool IsIPv6 => HostEndpoint.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6;

    private static IPEndPoint CheckFamilies(IPEndPoint? host, IPEndPoint container)
    {
        if (host is not null)
        {
            Guard.SameFamily(host.Address, nameof(HostEndpoint), container.Address, nameof(ContainerEndpoint));
        }

        return container;
    }
}
