using System.Net;
using System.Security.Cryptography;
using System.Text;
using NatMap.Iptables.Nftables;
using static NatMap.Iptables.Tests.TestData;

namespace NatMap.Iptables.Tests.Nftables;

/// <summary>The desired mappings formatted once (<see cref="NftElementSet"/>): the same text, digest and clash as formatting each line.</summary>
public sealed class NftElementSetTests
{
    private static readonly NftRenderer Renderer = NftRenderer.Default;
    private static readonly NftPlanner Planner = new(Renderer);

    /// <summary>
    /// Enough mappings of every map (bound and unbound, IPv4 and IPv6, long ids) that each map's text spans several of
    /// the set's chunks: 4 × 1,500 elements of 60 to 190 characters.
    /// </summary>
    private static DockerPortMap[] Many() =>
    [
        .. Enumerable.Range(0, 6000).Select(i => (i % 4) switch
        {
            0 => new DockerPortMap($"c{i}", new IPEndPoint(IPAddress.Any, 10000 + i), new IPEndPoint(IPAddress.Parse($"172.17.{i / 250}.{(i % 250) + 2}"), 80)),
            1 => new DockerPortMap(new string('a', 100) + i, new IPEndPoint(IPAddress.Parse($"10.1.{i / 250}.{(i % 250) + 1}"), 443), new IPEndPoint(IPAddress.Parse("172.18.0.2"), 8443), TransportProtocol.Udp),
            2 => new DockerPortMap($"v6-{i}", new IPEndPoint(IPAddress.IPv6Any, 10000 + i), new IPEndPoint(IPAddress.Parse($"fd00:1234:5678:9abc::{i:x}"), 80)),
            _ => new DockerPortMap($"b6-{i}", new IPEndPoint(IPAddress.Parse($"2001:db8:ffff:ffff:ffff:ffff:ffff:{i:x}"), 80), new IPEndPoint(IPAddress.Parse($"fd00:ffff:ffff:ffff:ffff:ffff:ffff:{i:x}"), 65535)),
        }),
    ];

    /// <summary>The digest as the formula states it: FNV-1a of "MAP TEXT" per line, sorted, distinct, SHA-256; a digest a Sync wrote before stays valid.</summary>
    private static string Formula(IEnumerable<DockerPortMap> maps, bool marked)
    {
        var hashes = maps.Select(m => NftRenderer.Line(m)).Select(l =>
        {
            var hash = 14695981039346656037UL;
            foreach (var c in $"{l.Map} {l.Text}")
            {
                hash = (hash ^ c) * 1099511628211UL;
            }

            return hash;
        }).Distinct().Order().SelectMany(BitConverter.GetBytes).ToList();
        if (marked)
        {
            hashes.AddRange(Encoding.ASCII.GetBytes("route_localnet"));
        }

        return Convert.ToHexString(SHA256.HashData([.. hashes])).ToLowerInvariant();
    }

    [Fact]
    public void Of_Digests_AreTheFormulaOverEachFormattedLine()
    {
        var maps = Many();
        var set = NftElementSet.Of([.. maps, .. maps.Take(10)]);

        set.UnmarkedDigest.Should().Be(Formula(maps, marked: false));
        set.MarkedDigest.Should().Be(Formula(maps, marked: true));
        set.Mappings.Should().Equal(maps, "each mapping once, in the order first given");
    }

    [Fact]
    public void Sync_AfterSetup_WritesEveryElementAsTheLinesWould()
    {
        var maps = Many();

        Planner.Sync(new NatMapState { DockerMaps = maps }, State([]))
            .Should().Be(Renderer.RenderAddMappings(maps) + Renderer.RenderDigest(NftRenderer.Digest(maps, false)));
    }

    [Fact]
    public void Sync_SomeHeld_WritesTheOthersAsTheLinesWould()
    {
        var maps = Many();
        var held = maps.Where((_, i) => i % 7 != 0).Append(Map(id: "gone")).ToList();

        Planner.Sync(new NatMapState { DockerMaps = maps }, State(held), ownsRouteLocalnet: false, NftElementSet.Of(maps))
            .Should().Be(Renderer.RenderDeleteMappings([Map(id: "gone")]) + Renderer.RenderAddMappings(maps.Where((_, i) => i % 7 == 0)) + Renderer.RenderDigest(NftRenderer.Digest(maps, false)));
    }

    [Fact]
    public void Of_TwoTargetsForOneKey_NamesTheFirstClashInOrder()
    {
        var a = Map(id: "a");
        var b = Map(container: "172.17.0.3:80", id: "b");
        var c = Map(container: "172.17.0.4:80", id: "c");

        var set = NftElementSet.Of([a, Map("0.0.0.0:9090", id: "x"), a, b, c, b]);

        set.Clash.Should().Be((a, b));
        set.Mappings.Should().Equal(a, Map("0.0.0.0:9090", id: "x"), b, c);
        NftElementSet.Of([a, a]).Clash.Should().BeNull("the same mapping twice is one element");
    }

    private static NftTableState State(IReadOnlyList<DockerPortMap> maps) => new(true, true, maps, [], [], [], []);
}
