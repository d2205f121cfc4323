using System.Net;

namespace NatMap.Iptables.Internal;

/// <summary>Field checks shared by <see cref="DnatConfig"/>, <see cref="SnatConfig"/> and <see cref="HairpinConfig"/>.</summary>
internal static class StaticNat
{
    /// <summary>Checks the family in a property initializer, where the first field may not be set yet.</summary>
    public static IPAddress SameFamily(IPAddress? first, string firstName, IPAddress second, string secondName)
    {
        if (first is not null)
        {
            Guard.SameFamily(first, firstName, second, secondName);
        }

        return second;
    }

    /// <summary>
    /// The checks between the fields of a translation from one address to another (<see cref="DnatConfig"/>,
    /// <see cref="HairpinConfig"/>), which a <see langword="with"/> expression can break: one family, some ports.
    /// </summary>
    public static void ValidateTranslation(IPAddress externalIp, IPAddress internalIp, PortSet ports)
    {
        Guard.SameFamily(externalIp, "ExternalIp", internalIp, "InternalIp");
        _ = Ports(ports, "Ports");
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

        if (network.PrefixLength == 0)
        {
            // iptables lists "-s 0.0.0.0/0" without -s, so the rule would never read back as written and every install
            // would add another copy; a LAN of every address is what a null LanCidr already means.
            throw new ArgumentException(
                $"The network {network} matches every source, which iptables cannot tell from no match at all; leave {paramName} null to translate any source.", paramName);
        }

        return new IPNetwork(Guard.Address(network.BaseAddress, paramName, allowUnspecified: true, allowLoopback: true), network.PrefixLength);
    }
}
