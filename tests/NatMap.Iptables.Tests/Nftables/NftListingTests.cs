using System.Net;
using NatMap.Iptables.Nftables;

namespace NatMap.Iptables.Tests.Nftables;

/// <summary>
/// The parser of <c>nft -j list table inet natmap</c>, on listings captured from the kernel (nftables 1.0.6) after
/// loading each golden table, and after hand-written foreign additions to it.
/// </summary>
public sealed class NftListingTests
{
    public static TheoryData<string> Scenarios => new(NftScenarios.All.Keys);

    [Theory]
    [MemberData(nameof(Scenarios))]
    public void Parse_KernelListingOfAScenario_RoundTripsEveryObject(string scenario)
    {
        var desired = NftScenarios.All[scenario];

        var state = NftListing.Parse(Listing(scenario));

        Assert.True(state.IsOurs);
        Assert.True(state.SetupComplete);
        Assert.Empty(state.Foreign);

        // Elements come back in the kernel's hash order; port sets come back sorted and merged.
        Assert.Equal(desired.Mappings.OrderBy(m => m.ToString()), state.Mappings.OrderBy(m => m.ToString()));
        Assert.Equal(desired.Dnats.Select(d => d with { Ports = NftRenderer.Normalize(d.Ports) }), state.Dnats.Select(d => d.Config));
        Assert.Equal(desired.Snats, state.Snats.Select(s => s.Config));
        Assert.Equal(desired.Hairpins.Select(h => h with { Ports = NftRenderer.Normalize(h.Ports) }), state.Hairpins.Select(h => h.Config));
    }

    [Fact]
    public void Parse_StaticRules_CarryTheirChainAndHandle()
    {
        var state = NftListing.Parse(Listing("hairpin"));

        // The handles the kernel gave these rules when the golden table was loaded into an empty namespace.
        Assert.Equal([(5L, 8L), (6L, 9L)], state.Hairpins.Select(h => (h.DnatHandle, h.MasqueradeHandle)));
        var dnat = Assert.Single(NftListing.Parse(Listing("dnat")).Dnats, d => d.Config.InternalPort == 22);
        Assert.Equal(("prerouting", 7L), (dnat.Chain, dnat.Handle));
    }

    [Fact]
    public void Parse_ForeignContentInOurTable_IsReportedAndNeverListedAsOurs()
    {
        var state = NftListing.Parse(Listing("foreign"));

        Assert.True(state.IsOurs);
        Assert.True(state.SetupComplete);

        // Only the element with a valid container id is a mapping; the one without a comment and the one whose comment
        // is not a container id are someone else's.
        Assert.Equal([new DockerPortMap("ok", IPEndPoint.Parse("10.0.0.1:9002"), IPEndPoint.Parse("10.0.0.9:9002"))], state.Mappings);

        // A rule with our comment but a shape we never write (a counter, a SNAT without an interface) is not ours.
        Assert.Empty(state.Dnats);
        Assert.Empty(state.Snats);

        // The IPv4 hairpin is whole; the IPv6 one lost its DNAT, and a lone masquerade was added by hand.
        Assert.Equal(IPAddress.Parse("192.168.1.20"), Assert.Single(state.Hairpins).Config.InternalIp);
        Assert.Equal(
        [
            "chain natmap extra",
            "rule natmap prerouting handle 22",
            "set natmap-static blocked",
            "rule natmap-static prerouting handle 9 comment \"natmap:dnat\"",
            "rule natmap-static postrouting handle 10 comment \"natmap:snat\"",
            "rule natmap-static postrouting handle 8: a hairpin masquerade without its DNAT",
            "rule natmap-static postrouting handle 11: a hairpin masquerade without its DNAT",
        ],
        state.Foreign.Where(f => !f.StartsWith("element", StringComparison.Ordinal)));
        Assert.Equal(2, state.Foreign.Count(f => f.StartsWith("element of map", StringComparison.Ordinal)));
    }

    [Fact]
    public void Parse_TableWithoutOurComment_IsNotOurs_AndNothingIsRead()
    {
        var state = NftListing.Parse(File.ReadAllText(Path.Combine(NftRendererTests.ProjectDirectory, "Nftables", "Listings", "not-ours.json")));

        Assert.False(state.IsOurs);
        Assert.False(state.SetupComplete);
        Assert.Empty(state.Mappings);
        Assert.Equal(["table inet natmap without the library's comment"], state.Foreign);
    }

    [Fact]
    public void Parse_SetupRuleMissing_IsNotComplete()
    {
        // The listing of Setup with the guard's one rule cut out.
        var json = Listing("setup")[0];
        var start = json.IndexOf("{\"rule\": {\"family\": \"inet\", \"table\": \"natmap\", \"chain\": \"guard\"", StringComparison.Ordinal);
        var end = json.IndexOf("{\"rule\"", start + 1, StringComparison.Ordinal);
        Assert.True(start > 0 && end > start);

        var state = NftListing.Parse([json.Remove(start, end - start), Listing("setup")[1]]);

        Assert.True(state.IsOurs);
        Assert.False(state.SetupComplete);
    }

    [Theory]
    [InlineData("")]                                    // not JSON
    [InlineData("{\"x\": 1}")]                          // no nftables array
    [InlineData("{\"nftables\": [{\"metainfo\": {}}]}")] // no table
    public void Parse_NotAListingOfTheTable_ThrowsFormatException(string json) =>
        Assert.Throws<FormatException>(() => NftListing.Parse(json));

    [Fact]
    public void Parse_StaticTableMissing_ReadsAsEmpty_AndSetupIncomplete()
    {
        var state = NftListing.Parse(Listing("docker")[0]);

        Assert.True(state.IsOurs);
        Assert.False(state.SetupComplete);
        Assert.Equal(3, state.Mappings.Count);
        Assert.Empty(state.Dnats);
    }

    [Fact]
    public void Parse_OtherTableName_DoesNotReadOurs() =>
        Assert.Throws<FormatException>(() => NftListing.Parse(Listing("setup"), "other"));

    /// <summary>The listings of the mappings table and of the static table, as two <c>nft -j list table</c> calls print them.</summary>
    private static string[] Listing(string name) =>
    [
        File.ReadAllText(Path.Combine(NftRendererTests.ProjectDirectory, "Nftables", "Listings", name + ".json")),
        File.ReadAllText(Path.Combine(NftRendererTests.ProjectDirectory, "Nftables", "Listings", name + "-static.json")),
    ];
}
