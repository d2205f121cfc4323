using System.Net;

namespace NatMap.Iptables.Internal;

/// <summary>Reads <c>ip -o route show match ADDRESS</c>.</summary>
internal static class RouteListing
{
    /// <summary>The longest on-link route (no <c>via</c>, not <c>default</c>) that contains <paramref name="address"/>.</summary>
    public static IPNetwork? OnLinkNetwork(string output, IPAddress address) =>
        Longest(OnLinkNetworks(output, address.AddressFamily), address);

    /// <summary>The destinations of the on-link routes (no gateway, not unreachable) in <c>ip -o route show</c> output.</summary>
    public static IReadOnlyList<IPNetwork> OnLinkNetworks(string output, System.Net.Sockets.AddressFamily family)
    {
        var networks = new List<IPNetwork>();
        foreach (var line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length == 0 || fields.Contains("via") || fields[0] is "default" or "unreachable" or "prohibit" or "blackhole" or "throw")
            {
                continue;
            }

            var prefix = fields[0].Contains('/', StringComparison.Ordinal)
                ? fields[0]
                : $"{fields[0]}/{(family == System.Net.Sockets.AddressFamily.InterNetwork ? 32 : 128)}";
            if (IPNetwork.TryParse(prefix, out var network) && network.BaseAddress.AddressFamily == family)
            {
                networks.Add(network);
            }
        }

        return networks;
    }

    /// <summary>The longest of <paramref name="networks"/> that contains <paramref name="address"/>, if any.</summary>
    public static IPNetwork? Longest(IReadOnlyList<IPNetwork> networks, IPAddress address)
    {
        IPNetwork? best = null;
        foreach (var network in networks)
        {
            if (network.Contains(address) && (best is null || network.PrefixLength > best.Value.PrefixLength))
            {
                best = network;
            }
        }

        return best;
    }
}
