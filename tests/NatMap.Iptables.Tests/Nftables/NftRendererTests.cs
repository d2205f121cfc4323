using System.Net;
using System.Net.Sockets;
using System.Reflection;
using NatMap.Iptables.Nftables;

namespace NatMap.Iptables.Tests.Nftables;

/// <summary>
/// The nftables renderer: whole tables compared with golden files (which the kernel tests load and list back), and
/// the small element and rule transactions of single installs and removals, exactly.
/// </summary>
public sealed class NftRendererTests
{
    public static TheoryData<string> Scenarios => new(NftScenarios.All.Keys);

    [Theory]
    [MemberData(nameof(Scenarios))]
    public void RenderTable_Scenario_MatchesGolden(string scenario)
    {
        var actual = NftRenderer.Default.RenderTable(NftScenarios.All[scenario]);
        var path = Path.Combine(ProjectDirectory, "Nftables", "Golden", scenario + ".nft");
        if (Environment.GetEnvironmentVariable("NATMAP_UPDATE_GOLDEN") == "1")
        {
            File.WriteAllText(path, actual);
        }

        Assert.Equal(File.ReadAllText(path), actual);
    }

    [Theory]
    [MemberData(nameof(Scenarios))]
    public void RulesDoc_ShowsEveryGoldenListing(string scenario)
    {
        var golden = File.ReadAllText(Path.Combine(ProjectDirectory, "Nftables", "Golden", scenario + ".nft")).TrimEnd('\n');
        var doc = File.ReadAllText(Path.Combine(ProjectDirectory, "..", "..", "docs", "rules.md"));

        doc.Should().Contain($"```\n{golden}\n```", "docs/rules.md shows what the nftables backend writes, as the kernel lists it");
    }

    [Fact]
    public void RenderFull_ReplacesTheTableInOneTransaction()
    {
        var script = NftRenderer.Default.RenderFull(NftDesiredState.Empty);

        // "add" first, so that "delete" cannot fail on a host where the table does not exist yet.
        Assert.StartsWith(
            "add table inet natmap\ndelete table inet natmap\nadd table inet natmap-static\ndelete table inet natmap-static\ntable inet natmap {\n",
            script,
            StringComparison.Ordinal);
        Assert.EndsWith(NftRenderer.Default.RenderTable(NftDesiredState.Empty), script, StringComparison.Ordinal);
    }

    [Fact]
    public void RenderAddMappings_GroupsByMap_OneCommandPerMap()
    {
        var script = NftRenderer.Default.RenderAddMappings(
        [
            new("web", IPEndPoint.Parse("0.0.0.0:8080"), IPEndPoint.Parse("172.17.0.2:80")),
            new("dns", IPEndPoint.Parse("10.0.0.1:53"), IPEndPoint.Parse("172.17.0.3:53"), TransportProtocol.Udp),
            new("web", IPEndPoint.Parse("[::]:8080"), IPEndPoint.Parse("[fd00::2]:80")),
            new("api", IPEndPoint.Parse("0.0.0.0:9000"), IPEndPoint.Parse("172.17.0.5:9000")),
        ]);

        Assert.Equal(
            "add element inet natmap bound4 { 10.0.0.1 . udp . 53 comment \"dns\" : 172.17.0.3 . 53 }\n" +
            "add element inet natmap unbound4 { tcp . 8080 comment \"web\" : 172.17.0.2 . 80, tcp . 9000 comment \"api\" : 172.17.0.5 . 9000 }\n" +
            "add element inet natmap unbound6 { tcp . 8080 comment \"web\" : fd00::2 . 80 }\n",
            script);
    }

    [Fact]
    public void RenderDeleteMappings_DeletesByKeyOnly()
    {
        var script = NftRenderer.Default.RenderDeleteMappings(
            [new("db", IPEndPoint.Parse("[::1]:5432"), IPEndPoint.Parse("[fd00::4]:5432"))]);

        Assert.Equal("delete element inet natmap bound6 { ::1 . tcp . 5432 }\n", script);
    }

    [Fact]
    public void RenderStaticObjects_OneRuleEach_HairpinTwo()
    {
        var renderer = new NftRenderer("nm-test");

        Assert.Equal(
            "add rule inet nm-test-static prerouting ip daddr 203.0.113.6 tcp dport 2222 ct mark set ct mark | 0x01000000 dnat ip to 10.0.0.4:22 comment \"natmap:dnat\"\n",
            renderer.RenderAddDnat(new(IPAddress.Parse("203.0.113.6"), IPAddress.Parse("10.0.0.4"), 2222) { InternalPort = 22 }));
        Assert.Equal(
            "add rule inet nm-test-static postrouting ip6 saddr fd00::2 oifname \"eth*\" snat ip6 to 2001:db8::5 comment \"natmap:snat\"\n",
            renderer.RenderAddSnat(new(IPAddress.Parse("fd00::2"), IPAddress.Parse("2001:db8::5"), "eth+")));
        Assert.Equal(
            "add rule inet nm-test-static prerouting ip saddr 192.168.1.0/24 ip daddr 203.0.113.5 udp dport { 53, 5353 } dnat ip to 192.168.1.20 comment \"natmap:hairpin\"\n" +
            "add rule inet nm-test-static postrouting ip saddr 192.168.1.0/24 ip daddr 192.168.1.20 udp dport { 53, 5353 } masquerade comment \"natmap:hairpin\"\n",
            renderer.RenderAddHairpin(new(IPAddress.Parse("203.0.113.5"), IPAddress.Parse("192.168.1.20"), PortSet.Parse("5353,53"), TransportProtocol.Udp, IPNetwork.Parse("192.168.1.0/24"))));
        Assert.Equal("delete rule inet nm-test-static prerouting handle 42\n", renderer.RenderDeleteRule("prerouting", 42));
        Assert.Equal("delete table inet nm-test\ndelete table inet nm-test-static\n", renderer.RenderDeleteTable());
    }

    public static TheoryData<string, string> PortSets => new()
    {
        { "80", "80" },                          // one port
        { "443,80", "80,443" },                  // sorted, as an interval set keeps them
        { "80,81,82", "80:82" },                 // adjacent ports merge into a range
        { "8000-8100,8050-8200,90", "90,8000:8200" }, // overlapping ranges merge
        { "1-65535", "1:65535" },                // the whole range
    };

    [Theory]
    [MemberData(nameof(PortSets))]
    public void Normalize_SortsAndMerges(string ports, string expected) =>
        Assert.Equal(expected, NftRenderer.Normalize(PortSet.Parse(ports)).ToString());

    [Fact]
    public void DockerUserAccept_AdmitsOnlyMarkedTranslatedConnections()
    {
        var rule = NftRenderer.DockerUserAccept(AddressFamily.InterNetworkV6, "natmap:nft");

        Assert.Equal(
            ["-t", "filter", "-I", "DOCKER-USER", "-m", "conntrack", "--ctstate", "DNAT", "-m", "connmark", "--mark", "0x1000000/0x1000000", "-m", "comment", "--comment", "natmap:nft", "-j", "ACCEPT"],
            rule.ToArguments(NatMap.Iptables.Rules.RuleAction.Add));
    }

    [Theory]
    [InlineData("")]            // empty
    [InlineData("1natmap")]     // nft identifiers start with a letter
    [InlineData("nat map")]     // no whitespace
    [InlineData("nat\"map")]    // no quotes: the name is written into a script
    public void Constructor_InvalidTableName_Throws(string table) =>
        Assert.Equal("table", Assert.Throws<ArgumentException>(() => new NftRenderer(table)).ParamName);

    internal static string ProjectDirectory => typeof(NftRendererTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
        .Single(a => a.Key == "ProjectDirectory").Value!;
}
