using System.Net;
using System.Net.Sockets;
using NatMap.Iptables.Rules;
using static NatMap.Iptables.Tests.TestData;

namespace NatMap.Iptables.Tests.Rules;

public sealed class NatRuleBuilderTests
{
    private static readonly NatRuleBuilder Builder = NatRuleBuilder.Default;

    private static string[] Args(string text) => text.Split(' ');

    private static IEnumerable<string> Render(IEnumerable<IptablesRule> rules) =>
        rules.Select(r => $"{(r.Family == AddressFamily.InterNetworkV6 ? "6" : "4")} {string.Join(' ', r.ToArguments(RuleAction.Add))}");

    [Fact]
    public void BuildDockerMap_UnboundIpv4_DnatAcceptAndHairpin()
    {
        const string c = "natmap:docker:web:tcp:0.0.0.0:8080:172.17.0.2:80";

        Render(Builder.BuildDockerMap(Map())).Should().Equal(
            $"4 -t nat -A NATMAP-T3-30 -p tcp -m tcp --dport 8080 -m comment --comment {c} -j DNAT --to-destination 172.17.0.2:80",
            $"4 -t filter -A NATMAP-T3-30 -d 172.17.0.2/32 -p tcp -m tcp --dport 80 -m conntrack --ctstate DNAT --ctorigdstport 8080 -m comment --comment {c} -j ACCEPT",
            $"4 -t nat -A NATMAP-PT3-30 -s 172.17.0.2/32 -d 172.17.0.2/32 -p tcp -m tcp --dport 80 -m conntrack ! --ctorigdst 172.17.0.2 -m comment --comment {c} -j MASQUERADE");
    }

    [Fact]
    public void BuildDockerMap_BoundIpv4_MatchesTheHostAddressAndSkipsLoopbackRules()
    {
        const string c = "natmap:docker:web:udp:192.168.1.10:5353:172.17.0.3:53";

        Render(Builder.BuildDockerMap(Map("192.168.1.10:5353", "172.17.0.3:53", TransportProtocol.Udp))).Should().Equal(
            $"4 -t nat -A NATMAP-U2-19 -d 192.168.1.10/32 -p udp -m udp --dport 5353 -m comment --comment {c} -j DNAT --to-destination 172.17.0.3:53",
            $"4 -t filter -A NATMAP-U2-19 -d 172.17.0.3/32 -p udp -m udp --dport 53 -m conntrack --ctstate DNAT --ctorigdst 192.168.1.10 --ctorigdstport 5353 -m comment --comment {c} -j ACCEPT",
            $"4 -t nat -A NATMAP-PU2-19 -s 172.17.0.3/32 -d 172.17.0.3/32 -p udp -m udp --dport 53 -m conntrack ! --ctorigdst 172.17.0.3 -m comment --comment {c} -j MASQUERADE");
    }

    [Fact]
    public void BuildDockerMap_LoopbackIpv4_LeavesLoopbackSourcesToTheSharedSetupRule()
    {
        const string c = "natmap:docker:db:tcp:127.0.0.1:5432:172.17.0.4:5432";

        Render(Builder.BuildDockerMap(Map("127.0.0.1:5432", "172.17.0.4:5432", id: "db"))).Should().Equal(
            $"4 -t nat -A NATMAP-T2-20 -d 127.0.0.1/32 -p tcp -m tcp --dport 5432 -m comment --comment {c} -j DNAT --to-destination 172.17.0.4:5432",
            $"4 -t filter -A NATMAP-T2-20 -d 172.17.0.4/32 -p tcp -m tcp --dport 5432 -m conntrack --ctstate DNAT --ctorigdst 127.0.0.1 --ctorigdstport 5432 -m comment --comment {c} -j ACCEPT",
            $"4 -t nat -A NATMAP-PT2-20 -s 172.17.0.4/32 -d 172.17.0.4/32 -p tcp -m tcp --dport 5432 -m conntrack ! --ctorigdst 172.17.0.4 -m comment --comment {c} -j MASQUERADE");
    }

    [Fact]
    public void BuildLoopbackMasquerade_MasqueradesTranslatedLoopbackSourcesLeavingLo()
    {
        Render([Builder.BuildLoopbackMasquerade()]).Should().Equal(
            "4 -t nat -I POSTROUTING -s 127.0.0.0/8 ! -o lo -m conntrack --ctstate DNAT -m comment --comment natmap:setup -j MASQUERADE");
    }

    [Fact]
    public void BuildDockerMap_UnboundIpv6_UsesIp6tablesFamilyAndBracketedTarget()
    {
        const string c = "natmap:docker:web:tcp:[::]:8080:[fd00::2]:80";

        Render(Builder.BuildDockerMap(Map("[::]:8080", "[fd00::2]:80"))).Should().Equal(
            $"6 -t nat -A NATMAP-T3-30 -p tcp -m tcp --dport 8080 -m comment --comment {c} -j DNAT --to-destination [fd00::2]:80",
            $"6 -t filter -A NATMAP-T3-30 -d fd00::2/128 -p tcp -m tcp --dport 80 -m conntrack --ctstate DNAT --ctorigdstport 8080 -m comment --comment {c} -j ACCEPT",
            $"6 -t nat -A NATMAP-PT3-30 -s fd00::2/128 -d fd00::2/128 -p tcp -m tcp --dport 80 -m conntrack ! --ctorigdst fd00::2 -m comment --comment {c} -j MASQUERADE");
    }

    [Fact]
    public void BuildDockerMap_BoundIpv6_MatchesTheHostAddress()
    {
        var rules = Builder.BuildDockerMap(Map("[2001:db8::1]:8443", "[fd00::2]:443", TransportProtocol.Udp));

        rules[0].ToArguments(RuleAction.Add).Should().Equal(Args(
            "-t nat -A NATMAP-U4-3 -d 2001:db8::1/128 -p udp -m udp --dport 8443 -m comment --comment natmap:docker:web:udp:[2001:db8::1]:8443:[fd00::2]:443 -j DNAT --to-destination [fd00::2]:443"));
        rules.Should().HaveCount(3).And.OnlyContain(r => r.Family == AddressFamily.InterNetworkV6);
    }

    [Fact]
    public void BuildDockerMap_LoopbackIpv6_HasNoLoopbackMasquerade()
    {
        var rules = Builder.BuildDockerMap(Map("[::1]:8080", "[fd00::2]:80"));

        Render(rules).First().Should().Be("6 -t nat -A NATMAP-T3-30 -d ::1/128 -p tcp -m tcp --dport 8080 -m comment --comment natmap:docker:web:tcp:[::1]:8080:[fd00::2]:80 -j DNAT --to-destination [fd00::2]:80");
        rules.Should().HaveCount(3).And.NotContain(r => r.Specification.Contains("127.0.0.0/8"));
    }

    [Fact]
    public void BuildLoopbackGuardAndForwardReturnRule()
    {
        Render([Builder.BuildLoopbackGuard(), Builder.BuildLoopbackGuard(restoresRouteLocalnet: true), Builder.BuildForwardReturnRule(AddressFamily.InterNetworkV6)]).Should().Equal(
            "4 -t raw -I PREROUTING -d 127.0.0.0/8 ! -i lo -m comment --comment natmap:setup -j DROP",
            "4 -t raw -I PREROUTING -d 127.0.0.0/8 ! -i lo -m comment --comment natmap:setup:route_localnet -j DROP",
            "6 -t filter -I NATMAP -m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment natmap:setup -j ACCEPT");
    }

    [Fact]
    public void BuildDockerMap_TcpAndUdpOfOnePort_HaveDifferentComments()
    {
        var tcp = Builder.BuildDockerMap(Map());
        var udp = Builder.BuildDockerMap(Map(protocol: TransportProtocol.Udp));

        tcp.Select(r => r.Comment).Intersect(udp.Select(r => r.Comment)).Should().BeEmpty();
    }

    [Fact]
    public void BuildDockerMap_ContainerNetwork_MasqueradesTranslatedConnectionsFromTheWholeNetwork()
    {
        var rules = Builder.BuildDockerMap(Map("[::]:8080", "[fd00::2]:80"), IPNetwork.Parse("fd00::/64"));

        Render(rules).ElementAt(2).Should().Be(
            "6 -t nat -A NATMAP-PT3-30 -s fd00::/64 -d fd00::2/128 -p tcp -m tcp --dport 80 -m conntrack ! --ctorigdst fd00::2 -m comment --comment natmap:docker:web:tcp:[::]:8080:[fd00::2]:80 -j MASQUERADE");
        Builder.BuildDockerMap(Map(), IPNetwork.Parse("172.17.0.2/32"))[2].Specification.Should().ContainInConsecutiveOrder("-s", "172.17.0.2/32");
        FluentActions.Invoking(() => Builder.BuildDockerMap(Map(), IPNetwork.Parse("10.0.0.0/8"))).Should().Throw<ArgumentException>().Which.ParamName.Should().Be("containerNetwork");
    }

    [Fact]
    public void BuildDnat_SinglePortIpv4_WithInterface()
    {
        const string c = "natmap:dnat:tcp:203.0.113.5:80:10.0.0.2:if=eth0";

        Render(Builder.BuildDnat(new DnatConfig(Ip("203.0.113.5"), Ip("10.0.0.2"), 80, ExternalInterface: "eth0"))).Should().Equal(
            $"4 -t nat -A PREROUTING -d 203.0.113.5/32 -i eth0 -p tcp -m tcp --dport 80 -m comment --comment {c} -j DNAT --to-destination 10.0.0.2:80",
            $"4 -t filter -A NATMAP -d 10.0.0.2/32 -p tcp -m tcp --dport 80 -m conntrack --ctstate DNAT --ctorigdst 203.0.113.5 -m comment --comment {c} -j ACCEPT");
    }

    [Fact]
    public void BuildDnat_Multiport_KeepsPortsAndUsesMultiport()
    {
        const string c = "natmap:dnat:udp:203.0.113.5:53,5353,6000-6010:10.0.0.2";

        Render(Builder.BuildDnat(new DnatConfig(Ip("203.0.113.5"), Ip("10.0.0.2"), PortSet.Parse("53,5353,6000-6010"), TransportProtocol.Udp))).Should().Equal(
            $"4 -t nat -A PREROUTING -d 203.0.113.5/32 -p udp -m multiport --dports 53,5353,6000:6010 -m comment --comment {c} -j DNAT --to-destination 10.0.0.2",
            $"4 -t filter -A NATMAP -d 10.0.0.2/32 -p udp -m multiport --dports 53,5353,6000:6010 -m conntrack --ctstate DNAT --ctorigdst 203.0.113.5 -m comment --comment {c} -j ACCEPT");
    }

    [Fact]
    public void BuildDnat_Range_UsesDportRange()
    {
        Render(Builder.BuildDnat(new DnatConfig(Ip("203.0.113.5"), Ip("10.0.0.2"), PortSet.Parse("8000-8100")))).First().Should().Be(
            "4 -t nat -A PREROUTING -d 203.0.113.5/32 -p tcp -m tcp --dport 8000:8100 -m comment --comment natmap:dnat:tcp:203.0.113.5:8000-8100:10.0.0.2 -j DNAT --to-destination 10.0.0.2");
    }

    [Fact]
    public void BuildDnat_InternalPort_RedirectsAndAcceptsTheInternalPort()
    {
        const string c = "natmap:dnat:tcp:203.0.113.5:80:10.0.0.2:8080";

        Render(Builder.BuildDnat(new DnatConfig(Ip("203.0.113.5"), Ip("10.0.0.2"), 80) { InternalPort = 8080 })).Should().Equal(
            $"4 -t nat -A PREROUTING -d 203.0.113.5/32 -p tcp -m tcp --dport 80 -m comment --comment {c} -j DNAT --to-destination 10.0.0.2:8080",
            $"4 -t filter -A NATMAP -d 10.0.0.2/32 -p tcp -m tcp --dport 8080 -m conntrack --ctstate DNAT --ctorigdst 203.0.113.5 -m comment --comment {c} -j ACCEPT");
    }

    [Fact]
    public void BuildDnat_Ipv6_GoesToIp6tablesWithBracketedTarget()
    {
        const string c = "natmap:dnat:tcp:[2001:db8::5]:443:[fd00::2]";

        Render(Builder.BuildDnat(new DnatConfig(Ip("2001:db8::5"), Ip("fd00::2"), 443))).Should().Equal(
            $"6 -t nat -A PREROUTING -d 2001:db8::5/128 -p tcp -m tcp --dport 443 -m comment --comment {c} -j DNAT --to-destination [fd00::2]:443",
            $"6 -t filter -A NATMAP -d fd00::2/128 -p tcp -m tcp --dport 443 -m conntrack --ctstate DNAT --ctorigdst 2001:db8::5 -m comment --comment {c} -j ACCEPT");
    }

    [Fact]
    public void BuildSnat_Ipv4AndIpv6()
    {
        Render(Builder.BuildSnat(new SnatConfig(Ip("10.0.0.2"), Ip("203.0.113.5"), "eth0"))).Should().Equal(
            "4 -t nat -A POSTROUTING -s 10.0.0.2/32 -o eth0 -m comment --comment natmap:snat:10.0.0.2:203.0.113.5:eth0 -j SNAT --to-source 203.0.113.5");
        Render(Builder.BuildSnat(new SnatConfig(Ip("fd00::2"), Ip("2001:db8::5"), "wan0"))).Should().Equal(
            "6 -t nat -A POSTROUTING -s fd00::2/128 -o wan0 -m comment --comment natmap:snat:[fd00::2]:[2001:db8::5]:wan0 -j SNAT --to-source 2001:db8::5");
    }

    [Fact]
    public void BuildHairpin_WithAndWithoutLan()
    {
        Render(Builder.BuildHairpin(new HairpinConfig(Ip("203.0.113.5"), Ip("192.168.1.20"), PortSet.Parse("80,443"), LanCidr: IPNetwork.Parse("192.168.1.0/24")))).Should().Equal(
            "4 -t nat -A PREROUTING -s 192.168.1.0/24 -d 203.0.113.5/32 -p tcp -m multiport --dports 80,443 -m comment --comment natmap:hairpin:tcp:203.0.113.5:80,443:192.168.1.20:lan=192.168.1.0/24 -j DNAT --to-destination 192.168.1.20",
            "4 -t nat -A POSTROUTING -s 192.168.1.0/24 -d 192.168.1.20/32 -p tcp -m multiport --dports 80,443 -m comment --comment natmap:hairpin:tcp:203.0.113.5:80,443:192.168.1.20:lan=192.168.1.0/24 -j MASQUERADE");
        Render(Builder.BuildHairpin(new HairpinConfig(Ip("2001:db8::5"), Ip("fd00::20"), 80, TransportProtocol.Udp))).Should().Equal(
            "6 -t nat -A PREROUTING -d 2001:db8::5/128 -p udp -m udp --dport 80 -m comment --comment natmap:hairpin:udp:[2001:db8::5]:80:[fd00::20] -j DNAT --to-destination fd00::20",
            "6 -t nat -A POSTROUTING -d fd00::20/128 -p udp -m udp --dport 80 -m comment --comment natmap:hairpin:udp:[2001:db8::5]:80:[fd00::20] -j MASQUERADE");
    }

    [Fact]
    public void BuildSetupJumps_LocalDestinationsOnly()
    {
        Render(Builder.BuildSetupJumps(AddressFamily.InterNetwork)).Should().Equal(
            "4 -t nat -I PREROUTING -m addrtype --dst-type LOCAL -m comment --comment natmap:setup -j NATMAP",
            "4 -t nat -I OUTPUT -m addrtype --dst-type LOCAL -m comment --comment natmap:setup -j NATMAP",
            "4 -t filter -I DOCKER-USER -m comment --comment natmap:setup -j NATMAP");
        Render([Builder.BuildDockerUserJump(AddressFamily.InterNetworkV6)]).Should().Equal(
            "6 -t filter -I FORWARD -m comment --comment natmap:setup -j DOCKER-USER");
    }

    [Fact]
    public void CustomChainAndPrefix_AppearEverywhere()
    {
        var builder = new NatRuleBuilder("EDGE-NAT", "edge");

        var rules = builder.BuildDockerMap(Map());

        rules.Select(r => r.Chain).Should().Equal("EDGE-NAT-T3-30", "EDGE-NAT-T3-30", "EDGE-NAT-PT3-30");
        builder.PostroutingChainName.Should().Be("EDGE-NAT-P");
        builder.BuildDispatchJumps(rules[2]).Select(r => r.Chain).Should().Equal("EDGE-NAT-P", "EDGE-NAT-PT3");
        builder.BuildPostroutingJump(AddressFamily.InterNetwork).Comment.Should().Be("edge:setup");
        rules.Should().OnlyContain(r => r.Comment!.StartsWith("edge:docker:", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("", "natmap")]                    // empty chain
    [InlineData("ABCDEFGHIJKLMNOPQRSTUVWXYZ123", "natmap")] // 29 characters
    [InlineData("PREROUTING", "natmap")]          // built-in
    [InlineData("DOCKER-USER", "natmap")]         // Docker's
    [InlineData("NAT MAP", "natmap")]             // space
    [InlineData("NATMAP", "")]                    // empty prefix
    [InlineData("NATMAP", "nat:map")]             // separator in prefix
    [InlineData("NATMAP", "-natmap")]             // leading dash
    public void Constructor_InvalidNames_Throw(string chain, string prefix) =>
        FluentActions.Invoking(() => new NatRuleBuilder(chain, prefix)).Should().Throw<ArgumentException>()
            .Which.ParamName.Should().Be(chain == "NATMAP" ? "commentPrefix" : "chainName");

    [Fact]
    public void Comment_Over255Characters_IsRejectedNotTruncated()
    {
        var builder = new NatRuleBuilder("NATMAP", new string('p', 32));
        var map = Map("[2001:db8:1111:2222:3333:4444:5555:6666]:65535", "[2001:db8:1111:2222:3333:4444:5555:7777]:65535", id: new string('c', 128));

        FluentActions.Invoking(() => builder.BuildDockerMap(map)).Should().Throw<ArgumentException>()
            .Where(e => e.ParamName == "ContainerId" && e.Message.Contains("at most 255", StringComparison.Ordinal));
    }

    [Fact]
    public void Builders_ArePure_SameInputSameOutput() =>
        Builder.BuildDockerMap(Map()).Should().Equal(Builder.BuildDockerMap(Map()));

    [Fact]
    public void ToArguments_DeleteAndCheck_UseDAndC()
    {
        var rule = Builder.BuildSnat(new SnatConfig(Ip("10.0.0.2"), Ip("203.0.113.5"), "eth0"))[0];

        rule.ToArguments(RuleAction.Delete).Take(4).Should().Equal("-t", "nat", "-D", "POSTROUTING");
        rule.ToArguments(RuleAction.Check).Take(4).Should().Equal("-t", "nat", "-C", "POSTROUTING");
        rule.ToArguments(RuleAction.Delete).Skip(4).Should().Equal(rule.Specification);
    }

    [Theory]
    [InlineData(TransportProtocol.Tcp, 1, "T0", "1:2047", "T0-0", "1:63")]
    [InlineData(TransportProtocol.Tcp, 63, "T0", "1:2047", "T0-0", "1:63")]
    [InlineData(TransportProtocol.Tcp, 64, "T0", "1:2047", "T0-1", "64:127")]
    [InlineData(TransportProtocol.Tcp, 2047, "T0", "1:2047", "T0-31", "1984:2047")]
    [InlineData(TransportProtocol.Tcp, 2048, "T1", "2048:4095", "T1-0", "2048:2111")]
    [InlineData(TransportProtocol.Tcp, 8080, "T3", "6144:8191", "T3-30", "8064:8127")]
    [InlineData(TransportProtocol.Tcp, 65535, "T31", "63488:65535", "T31-31", "65472:65535")]
    [InlineData(TransportProtocol.Udp, 1, "U0", "1:2047", "U0-0", "1:63")]
    [InlineData(TransportProtocol.Udp, 63, "U0", "1:2047", "U0-0", "1:63")]
    [InlineData(TransportProtocol.Udp, 64, "U0", "1:2047", "U0-1", "64:127")]
    [InlineData(TransportProtocol.Udp, 2047, "U0", "1:2047", "U0-31", "1984:2047")]
    [InlineData(TransportProtocol.Udp, 2048, "U1", "2048:4095", "U1-0", "2048:2111")]
    [InlineData(TransportProtocol.Udp, 65535, "U31", "63488:65535", "U31-31", "65472:65535")]
    public void BuildDockerMap_EachRuleGoesToTheBucketOfItsPort_AndTheJumpsCoverIt(TransportProtocol protocol, int port, string group, string groupPorts, string bucket, string bucketPorts)
    {
        var p = protocol == TransportProtocol.Udp ? "udp" : "tcp";
        var rules = Builder.BuildDockerMap(Map($"0.0.0.0:{port}", $"172.17.0.2:{port}", protocol));

        rules.Select(r => $"{r.Table} {r.Chain}").Should().Equal($"nat NATMAP-{bucket}", $"filter NATMAP-{bucket}", $"nat NATMAP-P{bucket}");
        Render(Builder.BuildDispatchJumps(rules[0])).Should().Equal(
            $"4 -t nat -A NATMAP -p {p} -m {p} --dport {groupPorts} -m comment --comment natmap:setup:bucket -j NATMAP-{group}",
            $"4 -t nat -A NATMAP-{group} -p {p} -m {p} --dport {bucketPorts} -m comment --comment natmap:setup:bucket -j NATMAP-{bucket}");
        Render(Builder.BuildDispatchJumps(rules[1])).Should().Equal(
            $"4 -t filter -A NATMAP -p {p} -m conntrack --ctorigdstport {groupPorts} -m comment --comment natmap:setup:bucket -j NATMAP-{group}",
            $"4 -t filter -A NATMAP-{group} -p {p} -m conntrack --ctorigdstport {bucketPorts} -m comment --comment natmap:setup:bucket -j NATMAP-{bucket}");
        Render(Builder.BuildDispatchJumps(rules[2])).Should().Equal(
            $"4 -t nat -A NATMAP-P -p {p} -m conntrack --ctorigdstport {groupPorts} -m comment --comment natmap:setup:bucket -j NATMAP-P{group}",
            $"4 -t nat -A NATMAP-P{group} -p {p} -m conntrack --ctorigdstport {bucketPorts} -m comment --comment natmap:setup:bucket -j NATMAP-P{bucket}");
    }

    [Fact]
    public void BuildDockerMap_HostAndContainerPortsInOtherBuckets_AllThreeRulesGoByTheHostPort()
    {
        var rules = Builder.BuildDockerMap(Map("[::]:65535", "[fd00::2]:1", TransportProtocol.Udp));

        rules.Select(r => $"{r.Table} {r.Chain}").Should().Equal("nat NATMAP-U31-31", "filter NATMAP-U31-31", "nat NATMAP-PU31-31");
        Render(Builder.BuildDispatchJumps(rules[0])).Should().OnlyContain(j => j.StartsWith("6 -t nat ", StringComparison.Ordinal));
    }

    [Fact]
    public void BuildDispatchJumps_RuleOutsideABucket_HasNone()
    {
        Builder.BuildDnat(new DnatConfig(Ip("203.0.113.5"), Ip("10.0.0.2"), 80)).SelectMany(Builder.BuildDispatchJumps).Should().BeEmpty("a static DNAT stays in PREROUTING and the filter root");
        Builder.BuildDispatchJumps(Builder.BuildPostroutingJump(AddressFamily.InterNetwork)).Should().BeEmpty();
        Builder.BuildDispatchJumps(new IptablesRule(AddressFamily.InterNetwork, "nat", "NATMAP-T3", ["-j", "RETURN"])).Should().BeEmpty("a group chain's rules are the bucket jumps");
        FluentActions.Invoking(() => Builder.BuildDispatchJumps(null!)).Should().Throw<ArgumentNullException>();
    }

    [Fact]
    public void BuildPostroutingJump_TranslatedConnectionsOnly_AppendedToPostrouting()
    {
        Render([Builder.BuildPostroutingJump(AddressFamily.InterNetworkV6)]).Should().Equal(
            "6 -t nat -A POSTROUTING -m conntrack --ctstate DNAT -m comment --comment natmap:setup -j NATMAP-P");
        Builder.PostroutingChainName.Should().Be("NATMAP-P");
        Builder.BucketComment.Should().Be("natmap:setup:bucket");
    }

    [Theory]
    [InlineData("NATMAP-T0", false, 'T', 0, -1)]
    [InlineData("NATMAP-T0-0", false, 'T', 0, 0)]
    [InlineData("NATMAP-U31-31", false, 'U', 31, 31)]
    [InlineData("NATMAP-PT3", true, 'T', 3, -1)]
    [InlineData("NATMAP-PU3-30", true, 'U', 3, 30)]
    public void TryParseBucket_OwnNames_RoundTrip(string chain, bool postrouting, char letter, int group, int bucket)
    {
        Builder.TryParseBucket(chain, out var node).Should().BeTrue();
        node.Should().Be(new PortBucket(postrouting, letter, group, bucket));
        Builder.BucketChain(node).Should().Be(chain);
        Builder.IsOwnChain(chain).Should().BeTrue();
        Builder.RootOf(chain).Should().Be(postrouting ? "NATMAP-P" : "NATMAP");
    }

    [Fact]
    public void TryParseBucket_EveryChainItWrites_ReadsBack()
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var postrouting in (bool[])[false, true])
        {
            foreach (var protocol in (TransportProtocol[])[TransportProtocol.Tcp, TransportProtocol.Udp])
            {
                for (var port = 1; port <= 65535; port++)
                {
                    var node = PortBucket.Of(protocol, port, postrouting);
                    var (first, last) = node.Ports;
                    port.Should().BeInRange(first, last);
                    foreach (var level in (PortBucket[])[node, node with { Bucket = -1 }])
                    {
                        var chain = Builder.BucketChain(level);
                        if (names.Add(chain))
                        {
                            Builder.TryParseBucket(chain, out var back).Should().BeTrue(chain);
                            back.Should().Be(level, chain);
                            chain.Length.Should().BeLessThanOrEqualTo(NatMapLimits.MaxChainNameLength);
                        }
                    }
                }
            }
        }

        names.Should().HaveCount(2 * 2 * (32 + (32 * 32)), "two roots, two protocols, 32 groups of 32 buckets each");
    }

    [Theory]
    [InlineData("NATMAP")]
    [InlineData("NATMAP-P")]
    [InlineData("NATMAP-")]
    [InlineData("NATMAP-X")]
    [InlineData("NATMAP-X3")]
    [InlineData("NATMAP-T")]
    [InlineData("NATMAP-T32")]
    [InlineData("NATMAP-T01")]
    [InlineData("NATMAP-T3-")]
    [InlineData("NATMAP-T3-32")]
    [InlineData("NATMAP-T3-05")]
    [InlineData("NATMAP-T3-1-1")]
    [InlineData("NATMAP-T-1")]
    [InlineData("NATMAP-t3")]
    [InlineData("NATMAP-PP3")]
    [InlineData("NATMAP-P-T3")]
    [InlineData("NATMAPT3")]
    [InlineData("NATMAP2-T3")]
    [InlineData("OTHER-T3")]
    [InlineData("OTHER-T3-30")]
    [InlineData("DOCKER-USER")]
    public void TryParseBucket_ForeignNames_AreNotBuckets(string chain)
    {
        Builder.TryParseBucket(chain, out _).Should().BeFalse();
        Builder.BuildDispatchJumps(new IptablesRule(AddressFamily.InterNetwork, "nat", chain, ["-j", "RETURN"])).Should().BeEmpty();
        if (chain is not ("NATMAP" or "NATMAP-P"))
        {
            Builder.IsOwnChain(chain).Should().BeFalse();
        }
    }

    [Theory]
    [InlineData("ABCDEFGHIJKLMNOPQRST", true)]  // 20 characters: its longest bucket chain (-PT31-31) is 28
    [InlineData("ABCDEFGHIJKLMNOPQRSTU", false)] // 21 characters
    public void Constructor_ChainNameLongerThanTheBucketsAllow_Throws(string chain, bool accepted)
    {
        var make = FluentActions.Invoking(() => new NatRuleBuilder(chain, "natmap"));
        if (accepted)
        {
            var builder = make.Should().NotThrow().Subject;
            builder.BucketChain(new PortBucket(true, 'T', 31, 31)).Should().HaveLength(NatMapLimits.MaxChainNameLength);
        }
        else
        {
            make.Should().Throw<ArgumentException>().Which.ParamName.Should().Be("chainName");
        }
    }
}
