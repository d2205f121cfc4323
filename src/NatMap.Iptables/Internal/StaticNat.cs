using System.Net;

namespace NatMap.Iptables.Internal;

/// <summary>Field checks shared by <see cref="DnatConfig"/>, <see cref="SnatConfig"/> and <see cref="HairpinConfig"/>.</summary>
internal static class StaticNat
{
    public static IPAddress SameFamily(IPAddress? first, IPAddress second, string secondName)
    {
        if (first is not null && first.AddressFamily != second.AddressFamily)
        {
            throw new ArgumentException(
                $"{secondName} ({second}) must be of the same address family as {first}; NAT between IPv4 and IPv6 is not possible with iptables.",
                secondName);
        }

        return second;
    }

    public static PortSet Ports(PortSet value, string paramName) => value.IsEmpty
        ? throw new ArgumentException("The port set is empty; give at least one port, for example PortSet.Parse(\"80\").", paramName)
        : value;

    public static IPNetwork? Network(IPNetwork? value, string paramName)
    {
        if (value is not { } network)
        {
            return null;
        }

        Guard.Address(network.BaseAddress, paramName, allowUnspecified: true, allowLoopback: true);
        return network;
    }
}
