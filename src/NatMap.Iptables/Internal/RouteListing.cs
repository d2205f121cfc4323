using System.Net;

namespace NatMap.Iptables.Internal;

/// <summary>Reads <c>ip -o route show match ADDRESS</c>.</summary>
internal static class RouteListing
{
    /// <summary>The longest on-link route (no <c>via</c>, not <c>default</c>) that contains <paramref name="address"/>.</summary>
    public static IPNetwork? OnLinkNetwork(string output, IPAddress address)
    {
        IPNetwork? best = null;
        foreach (var line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length == 0 || fields.Contains("via") || fields[0] is "default" or "unreachable" or "prohibit" or "blackhole")
            {
                continue;
            }

            var prefix = fields[0].Contains('/', StringComparison.Ordinal)
                ? fields[0]
                : $"{fields[0]}/{(address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 32 : 128)}";
            if (IPNetwork.TryParse(prefix, out var network) && network.Contains(address) && (best is null || network.PrefixLength > best.Value.PrefixLength))
            {
                best = network;
            }
        }

        return best;
    }
}
