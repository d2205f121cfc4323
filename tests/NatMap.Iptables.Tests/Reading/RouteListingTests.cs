using System.Net;
using NatMap.Iptables.Internal;

namespace NatMap.Iptables.Tests.Reading;

public sealed class RouteListingTests
{
    public static TheoryData<string, string, string?> Cases => new()
    {
        // ip -o route show match output, container address, expected on-link network
        { "default via 10.99.0.1 dev eth0 \n172.30.0.0/24 dev br0 proto kernel scope link src 172.30.0.1 \n", "172.30.0.2", "172.30.0.0/24" },   // bridge subnet
        { "default via fe80::1 dev eth0 metric 1024 pref medium\nfd30::/64 dev br0 proto kernel metric 256 pref medium\n", "fd30::2", "fd30::/64" }, // IPv6
        { "172.16.0.0/12 dev br1 scope link \n172.30.0.0/24 dev br0 scope link \n", "172.30.0.2", "172.30.0.0/24" },                             // the longest prefix wins
        { "172.30.0.2 dev cali123 scope link \n", "172.30.0.2", "172.30.0.2/32" },                                                                 // a host route (routed veth)
        { "10.0.0.0/8 via 192.168.1.1 dev eth0 \n", "10.0.0.5", null },                                                                             // only via a gateway: not on-link
        { "default via 10.99.0.1 dev eth0 \n", "172.30.0.2", null },                                                                                // only the default route
        { "", "172.30.0.2", null },                                                                                                                  // nothing (the fake's answer)
        { "unreachable 172.30.0.0/24 \n", "172.30.0.2", null },                                                                                     // not a usable route
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void OnLinkNetwork_PicksTheLongestRouteWithoutGateway(string output, string address, string? expected) =>
        (RouteListing.OnLinkNetwork(output, IPAddress.Parse(address))?.ToString()).Should().Be(expected);
}
