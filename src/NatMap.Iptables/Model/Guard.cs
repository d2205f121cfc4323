using System.Net;
using System.Net.Sockets;

namespace NatMap.Iptables.Internal;

/// <summary>Validation shared by the model types. Every method throws an <see cref="ArgumentException"/> naming the field.</summary>
internal static class Guard
{
    /// <summary>A name token: letters, digits, '_', '.', '-'; not starting with '-'.</summary>
    public static bool IsNameToken(string value, bool allowTrailingPlus = false)
    {
        if (value.Length == 0 || value[0] == '-')
        {
            return false;
        }

        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            var ok = char.IsAsciiLetterOrDigit(c) || c is '_' or '.' or '-'
                || (allowTrailingPlus && c == '+' && i == value.Length - 1 && i > 0);
            if (!ok)
            {
                return false;
            }
        }

        return true;
    }

    public static string ContainerId(string? value, string paramName)
    {
        ArgumentNullException.ThrowIfNull(value, paramName);
        if (value.Length == 0)
        {
            throw new ArgumentException("The container id must not be empty.", paramName);
        }

        if (value.Length > NatMapLimits.MaxContainerIdLength)
        {
            throw new ArgumentException(
                $"The container id is {value.Length} characters long; at most {NatMapLimits.MaxContainerIdLength} are allowed.", paramName);
        }

        if (!IsNameToken(value))
        {
            throw new ArgumentException(
                $"The container id '{Printable(value)}' may contain only ASCII letters, digits, '_', '.' and '-', and must not start with '-'.", paramName);
        }

        return value;
    }

    public static string InterfaceName(string? value, string paramName)
    {
        ArgumentNullException.ThrowIfNull(value, paramName);
        if (value.Length == 0)
        {
            throw new ArgumentException("The interface name must not be empty.", paramName);
        }

        if (value.Length > NatMapLimits.MaxInterfaceNameLength)
        {
            throw new ArgumentException(
                $"The interface name '{Printable(value)}' is {value.Length} characters long; the kernel allows at most {NatMapLimits.MaxInterfaceNameLength} (IFNAMSIZ).", paramName);
        }

        if (!IsNameToken(value, allowTrailingPlus: true) || value is "." or "..")
        {
            throw new ArgumentException(
                $"The interface name '{Printable(value)}' may contain only ASCII letters, digits, '_', '.' and '-' (and a trailing '+' wildcard); no whitespace, '/', quotes or a leading '-'.", paramName);
        }

        return value;
    }

    public static TransportProtocol Protocol(TransportProtocol value, string paramName)
    {
        if (value is not (TransportProtocol.Tcp or TransportProtocol.Udp))
        {
            throw new ArgumentOutOfRangeException(paramName, value, "The protocol must be Tcp or Udp.");
        }

        return value;
    }

    public static int Port(int value, string paramName)
    {
        if (value is < NatMapLimits.MinPort or > NatMapLimits.MaxPort)
        {
            throw new ArgumentOutOfRangeException(
                paramName, value, $"The port must be between {NatMapLimits.MinPort} and {NatMapLimits.MaxPort}; port 0 cannot be mapped.");
        }

        return value;
    }

    /// <summary>Validates an address and returns a private copy (an <see cref="IPAddress"/> is mutable).</summary>
    public static IPAddress Address(IPAddress? value, string paramName, bool allowUnspecified = false, bool allowLoopback = false)
    {
        ArgumentNullException.ThrowIfNull(value, paramName);
        if (value.AddressFamily is not (AddressFamily.InterNetwork or AddressFamily.InterNetworkV6))
        {
            throw new ArgumentException($"The address '{value}' must be an IPv4 or IPv6 address.", paramName);
        }

        if (value.IsIPv4MappedToIPv6)
        {
            throw new ArgumentException(
                $"The IPv4-mapped IPv6 address '{value}' is not supported; use the IPv4 address {value.MapToIPv4()} instead.", paramName);
        }

        if (value.AddressFamily == AddressFamily.InterNetworkV6 && value.ScopeId != 0)
        {
            throw new ArgumentException(
                $"The scoped IPv6 address '{value}' is not supported; ip6tables cannot match a zone. Remove the '%{value.ScopeId}' suffix.", paramName);
        }

        if (!allowUnspecified && (value.Equals(IPAddress.Any) || value.Equals(IPAddress.IPv6Any)))
        {
            throw new ArgumentException(
                $"The unspecified address '{value}' is not allowed here; give a specific address.", paramName);
        }

        if (!allowLoopback && IPAddress.IsLoopback(value))
        {
            throw new ArgumentException($"The loopback address '{value}' is not allowed here.", paramName);
        }

        if (IsMulticastOrBroadcast(value))
        {
            throw new ArgumentException($"The multicast or broadcast address '{value}' cannot be translated.", paramName);
        }

        return new IPAddress(value.GetAddressBytes());
    }

    /// <summary>
    /// A private copy of a validated address, for a getter: an <see cref="IPAddress"/> is mutable (its
    /// <see cref="IPAddress.ScopeId"/>), so handing out the stored instance would let a caller change a validated model.
    /// </summary>
    public static IPAddress Copy(IPAddress value) => new(value.GetAddressBytes());

    /// <summary>A private copy of a validated network, for the same reason as <see cref="Copy(IPAddress)"/>.</summary>
    public static IPNetwork Copy(IPNetwork value) => new(Copy(value.BaseAddress), value.PrefixLength);

    public static IPEndPoint Endpoint(IPEndPoint? value, string paramName, bool allowUnspecified, bool allowLoopback)
    {
        ArgumentNullException.ThrowIfNull(value, paramName);
        var address = Address(value.Address, paramName, allowUnspecified, allowLoopback);
        Port(value.Port, paramName);
        return new IPEndPoint(address, value.Port);
    }

    public static void SameFamily(IPAddress first, string firstName, IPAddress second, string secondName)
    {
        if (first.AddressFamily != second.AddressFamily)
        {
            throw new ArgumentException(
                $"{firstName} ({first}) and {secondName} ({second}) must be of the same address family; NAT between IPv4 and IPv6 is not possible with iptables.",
                secondName);
        }
    }

    /// <summary>Shows control characters as escapes so an error message cannot be split or spoofed.</summary>
    public static string Printable(string value)
    {
        const int max = 64;
        var builder = new System.Text.StringBuilder();
        foreach (var c in value.Length > max ? value[..max] : value)
        {
            _ = char.IsControl(c) ? builder.Append(System.Globalization.CultureInfo.InvariantCulture, $"\\u{(int)c:x4}") : builder.Append(c);
        }

        return value.Length > max ? builder.Append('…').ToString() : builder.ToString();
    }

    private static bool IsMulticastOrBroadcast(IPAddress value)
    {
        if (value.AddressFamily == AddressFamily.InterNetworkV6)
        {
            return value.IsIPv6Multicast;
        }

        Span<byte> bytes = stackalloc byte[4];
        _ = value.TryWriteBytes(bytes, out _);
        return bytes[0] >= 224 || value.Equals(IPAddress.Broadcast);
    }
}
