using System.Net;
using NatMap.Iptables.Rules;
using static NatMap.Iptables.Tests.TestData;

namespace NatMap.Iptables.Tests.Model;

public sealed class ModelValidationTests
{
    public static TheoryData<string, Func<object>> BadModels => new()
    {
        // DockerPortMap
        { "ContainerId", () => new DockerPortMap("", Ep("0.0.0.0:80"), Ep("10.0.0.2:80")) },                      // empty id
        { "ContainerId", () => new DockerPortMap(null!, Ep("0.0.0.0:80"), Ep("10.0.0.2:80")) },                    // null id
        { "ContainerId", () => new DockerPortMap("web\"x", Ep("0.0.0.0:80"), Ep("10.0.0.2:80")) },                 // quote
        { "ContainerId", () => new DockerPortMap("web'x", Ep("0.0.0.0:80"), Ep("10.0.0.2:80")) },                  // single quote
        { "ContainerId", () => new DockerPortMap("web\nCOMMIT", Ep("0.0.0.0:80"), Ep("10.0.0.2:80")) },            // newline (restore-line injection)
        { "ContainerId", () => new DockerPortMap("web\r", Ep("0.0.0.0:80"), Ep("10.0.0.2:80")) },                  // carriage return
        { "ContainerId", () => new DockerPortMap("web\0", Ep("0.0.0.0:80"), Ep("10.0.0.2:80")) },                  // NUL
        { "ContainerId", () => new DockerPortMap("-j", Ep("0.0.0.0:80"), Ep("10.0.0.2:80")) },                     // leading dash (option injection)
        { "ContainerId", () => new DockerPortMap("web app", Ep("0.0.0.0:80"), Ep("10.0.0.2:80")) },                // space
        { "ContainerId", () => new DockerPortMap("web:80", Ep("0.0.0.0:80"), Ep("10.0.0.2:80")) },                 // comment separator
        { "ContainerId", () => new DockerPortMap("wéb", Ep("0.0.0.0:80"), Ep("10.0.0.2:80")) },                    // non-ASCII
        { "ContainerId", () => new DockerPortMap(new string('a', 129), Ep("0.0.0.0:80"), Ep("10.0.0.2:80")) },    // too long
        { "HostEndpoint", () => new DockerPortMap("web", Ep("0.0.0.0:0"), Ep("10.0.0.2:80")) },                    // host port 0
        { "HostEndpoint", () => new DockerPortMap("web", null!, Ep("10.0.0.2:80")) },                              // null host
        { "HostEndpoint", () => new DockerPortMap("web", Ep("[::ffff:10.0.0.1]:80"), Ep("10.0.0.2:80")) },       // IPv4-mapped IPv6
        { "HostEndpoint", () => new DockerPortMap("web", Ep("[fe80::1%2]:80"), Ep("[fe80::2]:80")) },             // scoped IPv6
        { "HostEndpoint", () => new DockerPortMap("web", Ep("224.0.0.1:80"), Ep("10.0.0.2:80")) },                // multicast
        { "ContainerEndpoint", () => new DockerPortMap("web", Ep("0.0.0.0:80"), Ep("10.0.0.2:0")) },               // container port 0
        { "ContainerEndpoint", () => new DockerPortMap("web", Ep("0.0.0.0:80"), Ep("0.0.0.0:80")) },               // unspecified container
        { "ContainerEndpoint", () => new DockerPortMap("web", Ep("0.0.0.0:80"), Ep("127.0.0.1:80")) },             // loopback container
        { "ContainerEndpoint", () => new DockerPortMap("web", Ep("0.0.0.0:80"), Ep("[fd00::2]:80")) },             // mixed families
        { "ContainerEndpoint", () => new DockerPortMap("web", Ep("[::]:80"), Ep("10.0.0.2:80")) },                 // mixed families
        { "ContainerEndpoint", () => new DockerPortMap("web", Ep("0.0.0.0:80"), Ep("255.255.255.255:80")) },       // broadcast
        { "Protocol", () => new DockerPortMap("web", Ep("0.0.0.0:80"), Ep("10.0.0.2:80"), (TransportProtocol)7) }, // undefined protocol

        // DnatConfig
        { "ExternalIp", () => new DnatConfig(null!, Ip("10.0.0.2"), PortSet.Parse("80")) },                       // null
        { "ExternalIp", () => new DnatConfig(Ip("0.0.0.0"), Ip("10.0.0.2"), PortSet.Parse("80")) },               // unspecified is not "any" (defect 10)
        { "InternalIp", () => new DnatConfig(Ip("203.0.113.5"), Ip("fd00::2"), PortSet.Parse("80")) },            // mixed families
        { "InternalIp", () => new DnatConfig(Ip("203.0.113.5"), Ip("127.0.0.1"), PortSet.Parse("80")) },          // loopback
        { "Ports", () => new DnatConfig(Ip("203.0.113.5"), Ip("10.0.0.2"), default) },                           // empty ports
        { "ExternalInterface", () => new DnatConfig(Ip("203.0.113.5"), Ip("10.0.0.2"), 80, ExternalInterface: "averyveryverylong0") }, // 16+ chars
        { "ExternalInterface", () => new DnatConfig(Ip("203.0.113.5"), Ip("10.0.0.2"), 80, ExternalInterface: "eth 0") },              // whitespace
        { "ExternalInterface", () => new DnatConfig(Ip("203.0.113.5"), Ip("10.0.0.2"), 80, ExternalInterface: "eth/0") },              // slash
        { "ExternalInterface", () => new DnatConfig(Ip("203.0.113.5"), Ip("10.0.0.2"), 80, ExternalInterface: "") },                   // empty
        { "ExternalInterface", () => new DnatConfig(Ip("203.0.113.5"), Ip("10.0.0.2"), 80, ExternalInterface: "-eth0") },              // leading dash
        { "ExternalInterface", () => new DnatConfig(Ip("203.0.113.5"), Ip("10.0.0.2"), 80, ExternalInterface: "!eth0") },              // negation
        { "ExternalInterface", () => new DnatConfig(Ip("203.0.113.5"), Ip("10.0.0.2"), 80, ExternalInterface: "eth0\n") },             // newline
        { "ExternalInterface", () => new DnatConfig(Ip("203.0.113.5"), Ip("10.0.0.2"), 80, ExternalInterface: "..") },                 // kernel-reserved
        { "InternalPort", () => new DnatConfig(Ip("203.0.113.5"), Ip("10.0.0.2"), 80) { InternalPort = 0 } },                          // port 0
        { "InternalPort", () => NatRuleBuilder.Default.BuildDnat(new DnatConfig(Ip("203.0.113.5"), Ip("10.0.0.2"), PortSet.Parse("8000-8100")) { InternalPort = 80 }) }, // range to a single port
        { "InternalPort", () => NatRuleBuilder.Default.BuildDnat(new DnatConfig(Ip("203.0.113.5"), Ip("10.0.0.2"), PortSet.Parse("80,443")) { InternalPort = 80 }) },    // list to a single port

        // SnatConfig
        { "InternalIp", () => new SnatConfig(Ip("::"), Ip("2001:db8::1"), "eth0") },                             // unspecified
        { "ExternalIp", () => new SnatConfig(Ip("10.0.0.2"), Ip("2001:db8::1"), "eth0") },                        // mixed families
        { "ExternalInterface", () => new SnatConfig(Ip("10.0.0.2"), Ip("203.0.113.5"), null!) },                  // null interface
        { "ExternalInterface", () => new SnatConfig(Ip("10.0.0.2"), Ip("203.0.113.5"), "eth0\"") },               // quote

        // HairpinConfig
        { "InternalIp", () => new HairpinConfig(Ip("203.0.113.5"), Ip("fd00::2"), 80) },                          // mixed families
        { "Ports", () => new HairpinConfig(Ip("203.0.113.5"), Ip("10.0.0.2"), default) },                        // empty ports
        { "LanCidr", () => NatRuleBuilder.Default.BuildHairpin(new HairpinConfig(Ip("203.0.113.5"), Ip("10.0.0.2"), 80, LanCidr: IPNetwork.Parse("fd00::/64"))) }, // mixed families
        { "LanCidr", () => new HairpinConfig(Ip("203.0.113.5"), Ip("10.0.0.2"), 80, LanCidr: IPNetwork.Parse("0.0.0.0/0")) },    // every source: iptables lists it without -s (review item 6)
        { "LanCidr", () => new HairpinConfig(Ip("2001:db8::5"), Ip("fd00::2"), 80, LanCidr: IPNetwork.Parse("::/0")) },           // the same in IPv6
        { "LanCidr", () => new HairpinConfig(Ip("203.0.113.5"), Ip("10.0.0.2"), 80) with { LanCidr = IPNetwork.Parse("0.0.0.0/0") } }, // and through a with expression
    };

    [Theory]
    [MemberData(nameof(BadModels))]
    public void InvalidModel_ThrowsArgumentExceptionNamingTheField(string field, Func<object> create) =>
        FluentActions.Invoking(create).Should().Throw<ArgumentException>().Which.ParamName.Should().Be(field);

    [Fact]
    public void WithExpression_InvalidValue_IsValidatedToo()
    {
        var map = Map();

        FluentActions.Invoking(() => map with { ContainerId = "x\ny" }).Should().Throw<ArgumentException>().Which.ParamName.Should().Be("ContainerId");
        FluentActions.Invoking(() => map with { HostEndpoint = Ep("0.0.0.0:0") }).Should().Throw<ArgumentException>().Which.ParamName.Should().Be("HostEndpoint");
    }

    [Fact]
    public void WithExpression_MixedFamilies_RejectedByTheBuilder()
    {
        var map = Map() with { HostEndpoint = Ep("[::]:8080") };

        FluentActions.Invoking(() => NatRuleBuilder.Default.BuildDockerMap(map)).Should().Throw<ArgumentException>().Which.ParamName.Should().Be("ContainerEndpoint");
    }

    [Fact]
    public void DockerPortMap_ValueEquality()
    {
        Map().Should().Be(Map());
        Map().GetHashCode().Should().Be(Map().GetHashCode());
        Map().Should().NotBe(Map(protocol: TransportProtocol.Udp));
        Map().Should().NotBe(Map(host: "10.0.0.1:8080"));
    }

    [Fact]
    public void DockerPortMap_CopiesEndpoints()
    {
        var host = Ep("0.0.0.0:8080");
        var map = new DockerPortMap("web", host, Ep("172.17.0.2:80"));

        host.Port = 1;
        map.HostEndpoint.Port = 2;

        map.HostEndpoint.Port.Should().Be(8080);
    }

    [Fact]
    public void DockerPortMap_PositionalParametersInTheIssuedOrder()
    {
        var (id, host, container, protocol) = new DockerPortMap(ContainerId: "web", HostEndpoint: Ep("0.0.0.0:80"), ContainerEndpoint: Ep("10.0.0.2:80"), Protocol: TransportProtocol.Udp);

        (id, host.Port, container.Address.ToString(), protocol).Should().Be(("web", 80, "10.0.0.2", TransportProtocol.Udp));
    }

    [Fact]
    public void Message_ShowsControlCharactersEscaped() =>
        FluentActions.Invoking(() => new DockerPortMap("a\nb", Ep("0.0.0.0:80"), Ep("10.0.0.2:80")))
            .Should().Throw<ArgumentException>().WithMessage("The container id 'a\\u000ab' may contain only*");

    [Fact]
    public void InterfaceName_FifteenCharactersAndWildcard_Accepted()
    {
        new SnatConfig(Ip("10.0.0.2"), Ip("203.0.113.5"), new string('i', 15)).ExternalInterface.Should().HaveLength(15);
        new SnatConfig(Ip("10.0.0.2"), Ip("203.0.113.5"), "veth+").ExternalInterface.Should().Be("veth+");
    }

    [Fact]
    public void HairpinConfig_LanCidrOfOneBit_StillAccepted() =>
        new HairpinConfig(Ip("203.0.113.5"), Ip("10.0.0.2"), 80, LanCidr: IPNetwork.Parse("0.0.0.0/1")).LanCidr.Should().Be(IPNetwork.Parse("0.0.0.0/1"));

    // Review item 8: an IPAddress is mutable (ScopeId), so a getter that hands out the stored instance lets a caller
    // change a validated model afterwards, into a scoped address the validation refuses.
    [Fact]
    public void DockerPortMap_AddressChangedThroughTheGetter_ModelUnchanged()
    {
        var map = new DockerPortMap("web", Ep("[fd00::1]:8080"), Ep("[fd00::2]:80"));

        map.HostEndpoint.Address.ScopeId = 3;
        map.ContainerEndpoint.Address.ScopeId = 3;

        map.HostEndpoint.Address.ScopeId.Should().Be(0);
        map.ContainerEndpoint.Address.ScopeId.Should().Be(0);
        NatRuleBuilder.Default.DockerMapComment(map).Should().Be("natmap:docker:web:tcp:[fd00::1]:8080:[fd00::2]:80");
    }

    [Fact]
    public void StaticConfigs_AddressChangedThroughTheGetter_ModelUnchanged()
    {
        var dnat = new DnatConfig(Ip("2001:db8::5"), Ip("fd00::2"), 443);
        var snat = new SnatConfig(Ip("fd00::2"), Ip("2001:db8::5"), "eth0");
        var hairpin = new HairpinConfig(Ip("2001:db8::5"), Ip("fd00::2"), 80, LanCidr: IPNetwork.Parse("fd00::/64"));

        dnat.ExternalIp.ScopeId = 3;
        dnat.InternalIp.ScopeId = 3;
        snat.InternalIp.ScopeId = 3;
        snat.ExternalIp.ScopeId = 3;
        hairpin.ExternalIp.ScopeId = 3;
        hairpin.InternalIp.ScopeId = 3;
        hairpin.LanCidr!.Value.BaseAddress.ScopeId = 3;

        new[] { dnat.ExternalIp, dnat.InternalIp, snat.InternalIp, snat.ExternalIp, hairpin.ExternalIp, hairpin.InternalIp, hairpin.LanCidr!.Value.BaseAddress }
            .Should().OnlyContain(a => a.ScopeId == 0);
        NatRuleBuilder.Default.DnatComment(dnat).Should().Be("natmap:dnat:tcp:[2001:db8::5]:443:[fd00::2]");
        NatRuleBuilder.Default.HairpinComment(hairpin).Should().Be("natmap:hairpin:tcp:[2001:db8::5]:80:[fd00::2]:lan=fd00::/64");
    }

    [Fact]
    public void HairpinConfig_LanCidrChangedAfterConstruction_ModelUnchanged()
    {
        var lan = IPNetwork.Parse("fd00::/64");
        var hairpin = new HairpinConfig(Ip("2001:db8::5"), Ip("fd00::2"), 80, LanCidr: lan);

        lan.BaseAddress.ScopeId = 3;

        hairpin.LanCidr!.Value.BaseAddress.ScopeId.Should().Be(0);
    }
}
