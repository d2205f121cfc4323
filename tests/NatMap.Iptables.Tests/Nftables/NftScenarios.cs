using System.Net;
using NatMap.Iptables.Nftables;

namespace NatMap.Iptables.Tests.Nftables;

/// <summary>
/// The examples of docs/rules.md as desired nftables states. Shared as source with the kernel tests, which load each
/// golden file and compare what the kernel lists with it.
/// </summary>
internal static class NftScenarios
{
    public static IReadOnlyDictionary<string, NftDesiredState> All { get; } = new Dictionary<string, NftDesiredState>(StringComparer.Ordinal)
    {
        ["setup"] = NftDesiredState.Empty,
        ["docker"] = NftDesiredState.Empty with
        {
            Mappings =
            [
                new("web", IPEndPoint.Parse("0.0.0.0:8080"), IPEndPoint.Parse("172.17.0.2:80")),
                new("web", IPEndPoint.Parse("[::]:8080"), IPEndPoint.Parse("[fd00::2]:80")),
                new("web", IPEndPoint.Parse("0.0.0.0:8443"), IPEndPoint.Parse("172.17.0.2:443")),
            ],
        },
        ["docker-bound"] = NftDesiredState.Empty with
        {
            Mappings =
            [
                new("dns", IPEndPoint.Parse("192.0.2.10:53"), IPEndPoint.Parse("172.17.0.3:53"), TransportProtocol.Udp),
                new("dns", IPEndPoint.Parse("[2001:db8::10]:53"), IPEndPoint.Parse("[fd00::3]:53"), TransportProtocol.Udp),
                new("db", IPEndPoint.Parse("127.0.0.1:5432"), IPEndPoint.Parse("172.17.0.4:5432")),
                new("db", IPEndPoint.Parse("[::1]:5432"), IPEndPoint.Parse("[fd00::4]:5432")),
            ],
        },
        ["dnat"] = NftDesiredState.Empty with
        {
            Dnats =
            [
                new(IPAddress.Parse("203.0.113.5"), IPAddress.Parse("10.0.0.2"), PortSet.Parse("80,443"), ExternalInterface: "eth0"),
                new(IPAddress.Parse("203.0.113.5"), IPAddress.Parse("10.0.0.3"), PortSet.Parse("6000-6010"), TransportProtocol.Udp),
                new(IPAddress.Parse("203.0.113.6"), IPAddress.Parse("10.0.0.4"), 2222) { InternalPort = 22 },
                new(IPAddress.Parse("2001:db8::5"), IPAddress.Parse("fd00::2"), 443, ExternalInterface: "veth+"),
            ],
        },
        ["snat"] = NftDesiredState.Empty with
        {
            Snats =
            [
                new(IPAddress.Parse("10.0.0.2"), IPAddress.Parse("203.0.113.5"), "eth0"),
                new(IPAddress.Parse("fd00::2"), IPAddress.Parse("2001:db8::5"), "eth0"),
            ],
        },
        ["hairpin"] = NftDesiredState.Empty with
        {
            Hairpins =
            [
                new(IPAddress.Parse("203.0.113.5"), IPAddress.Parse("192.168.1.20"), PortSet.Parse("80,443,8000-8100"), LanCidr: IPNetwork.Parse("192.168.1.0/24")),
                new(IPAddress.Parse("2001:db8::5"), IPAddress.Parse("fd00::20"), 80),
            ],
        },
    };
}
