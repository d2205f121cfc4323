using System.Net;
using System.Text;
using Microsoft.Extensions.Configuration;
using static NatMap.Iptables.Tests.TestData;

namespace NatMap.Iptables.Tests.Model;

public sealed class NatMapStateJsonTests
{
    /// <summary>The example of issue 15, word for word.</summary>
    private const string IssueExample = """
        {
          "dockerMaps": [ { "containerId": "web", "hostEndpoint": "0.0.0.0:8080", "containerEndpoint": "172.17.0.2:80", "protocol": "tcp" } ],
          "dnats":      [ { "externalIp": "203.0.113.5", "internalIp": "10.0.0.2", "ports": "80,443", "protocol": "tcp" } ],
          "snats":      [ { "internalIp": "10.0.0.2", "externalIp": "203.0.113.5", "externalInterface": "eth0" } ],
          "hairpins":   [ { "externalIp": "203.0.113.5", "internalIp": "10.0.0.2", "ports": "80", "lanCidr": "10.0.0.0/24" } ]
        }
        """;

    private static readonly NatMapState IssueExampleState = new()
    {
        DockerMaps = [Map()],
        Dnats = [new DnatConfig(Ip("203.0.113.5"), Ip("10.0.0.2"), PortSet.Parse("80,443"))],
        Snats = [new SnatConfig(Ip("10.0.0.2"), Ip("203.0.113.5"), "eth0")],
        Hairpins = [new HairpinConfig(Ip("203.0.113.5"), Ip("10.0.0.2"), 80, TransportProtocol.Tcp, IPNetwork.Parse("10.0.0.0/24"))],
    };

    /// <summary>Every optional field set, both families, ranges and UDP: what a round trip must keep.</summary>
    private static readonly NatMapState Everything = new()
    {
        DockerMaps =
        [
            Map(),
            Map("127.0.0.1:8081", "172.17.0.3:81", TransportProtocol.Udp, "db.1"),
            Map("[::]:8080", "[fd00::2]:80", id: "web6"),
            Map("[fd00::1]:9090", "[fd00::3]:90", TransportProtocol.Udp, "v6-udp"),
        ],
        Dnats =
        [
            new DnatConfig(Ip("203.0.113.5"), Ip("10.0.0.2"), PortSet.Parse("80,443,8000-8100"), TransportProtocol.Udp, "eth0"),
            new DnatConfig(Ip("203.0.113.6"), Ip("10.0.0.3"), 8080) { InternalPort = 80 },
            new DnatConfig(Ip("2001:db8::5"), Ip("fd00::2"), PortSet.Parse("443")),
        ],
        Snats =
        [
            new SnatConfig(Ip("10.0.0.2"), Ip("203.0.113.5"), "eth0"),
            new SnatConfig(Ip("fd00::2"), Ip("2001:db8::5"), "wan+"),
        ],
        Hairpins =
        [
            new HairpinConfig(Ip("203.0.113.5"), Ip("10.0.0.2"), PortSet.Parse("80,443"), TransportProtocol.Udp, IPNetwork.Parse("10.0.0.0/24")),
            new HairpinConfig(Ip("203.0.113.5"), Ip("10.0.0.3"), PortSet.Parse("9000-9010")),
            new HairpinConfig(Ip("2001:db8::5"), Ip("fd00::2"), 80, TransportProtocol.Tcp, IPNetwork.Parse("fd00::/64")),
        ],
    };

    public static TheoryData<string, string, string> BadDocuments => new()
    {
        // Docker mappings
        { """{"dockerMaps":[{"hostEndpoint":"0.0.0.0:80","containerEndpoint":"10.0.0.2:80"}]}""", "$.dockerMaps[0].containerId", "containerId is required." },
        { """{"dockerMaps":[{"containerId":"web app","hostEndpoint":"0.0.0.0:80","containerEndpoint":"10.0.0.2:80"}]}""", "$.dockerMaps[0].containerId",
            "The container id 'web app' may contain only ASCII letters, digits, '_', '.' and '-', and must not start with '-'." },
        { """{"dockerMaps":[{"containerId":"web","hostEndpoint":"0.0.0.0","containerEndpoint":"10.0.0.2:80"}]}""", "$.dockerMaps[0].hostEndpoint",
            "'0.0.0.0' is not an endpoint such as 0.0.0.0:8080, 172.17.0.2:80 or [::]:8080." },                              // no port
        { """{"dockerMaps":[{"containerId":"web","hostEndpoint":"fd00::1","containerEndpoint":"[fd00::2]:80"}]}""", "$.dockerMaps[0].hostEndpoint",
            "'fd00::1' is not an endpoint such as 0.0.0.0:8080, 172.17.0.2:80 or [::]:8080." },                              // IPv6 without brackets
        { """{"dockerMaps":[{"containerId":"web","hostEndpoint":"1:80","containerEndpoint":"10.0.0.2:80"}]}""", "$.dockerMaps[0].hostEndpoint",
            "'1:80' is not an endpoint such as 0.0.0.0:8080, 172.17.0.2:80 or [::]:8080." },                                 // "1" would be 0.0.0.1
        { """{"dockerMaps":[{"containerId":"web","hostEndpoint":"0.0.0.0:0","containerEndpoint":"10.0.0.2:80"}]}""", "$.dockerMaps[0].hostEndpoint",
            "The port must be between 1 and 65535; port 0 cannot be mapped." },
        { """{"dockerMaps":[{"containerId":"web","hostEndpoint":"0.0.0.0:80","containerEndpoint":"127.0.0.1:80"}]}""", "$.dockerMaps[0].containerEndpoint",
            "The loopback address '127.0.0.1' is not allowed here." },
        { """{"dockerMaps":[{"containerId":"web","hostEndpoint":"0.0.0.0:80","containerEndpoint":"[fd00::2]:80"}]}""", "$.dockerMaps[0].containerEndpoint",
            "HostEndpoint (0.0.0.0) and ContainerEndpoint (fd00::2) must be of the same address family; NAT between IPv4 and IPv6 is not possible with iptables." },
        { """{"dockerMaps":[{"containerId":"web","hostEndpoint":"0.0.0.0:80","containerEndpoint":"10.0.0.2:80","protocol":"sctp"}]}""", "$.dockerMaps[0].protocol",
            "'sctp' is not a protocol; use tcp or udp." },

        // DNATs
        { """{"dnats":[{"internalIp":"10.0.0.2","ports":"80"}]}""", "$.dnats[0].externalIp", "externalIp is required." },
        { """{"dnats":[{"externalIp":"1","internalIp":"10.0.0.2","ports":"80"}]}""", "$.dnats[0].externalIp",
            "'1' is not an IP address such as 10.0.0.2 or fd00::2." },                                                     // IPAddress.Parse would say 0.0.0.1
        { """{"dnats":[{"externalIp":"010.0.0.1","internalIp":"10.0.0.2","ports":"80"}]}""", "$.dnats[0].externalIp",
            "'010.0.0.1' is not an IP address such as 10.0.0.2 or fd00::2." },                                             // octal reading
        { """{"dnats":[{"externalIp":"0.0.0.0","internalIp":"10.0.0.2","ports":"80"}]}""", "$.dnats[0].externalIp",
            "The unspecified address '0.0.0.0' is not allowed here; give a specific address." },
        { """{"dnats":[{"externalIp":"203.0.113.5","internalIp":"fd00::2","ports":"80"}]}""", "$.dnats[0].internalIp",
            "ExternalIp (203.0.113.5) and InternalIp (fd00::2) must be of the same address family; NAT between IPv4 and IPv6 is not possible with iptables." },
        { """{"dnats":[{"externalIp":"203.0.113.5","internalIp":"10.0.0.2"}]}""", "$.dnats[0].ports", "ports is required." },
        { """{"dnats":[{"externalIp":"203.0.113.5","internalIp":"10.0.0.2","ports":""}]}""", "$.dnats[0].ports", "The port text is empty." },
        { """{"dnats":[{"externalIp":"203.0.113.5","internalIp":"10.0.0.2","ports":"0"}]}""", "$.dnats[0].ports",
            "'0' in '0' is not a port (1-65535) or a range such as 8000-8100." },
        { """{"dnats":[{"externalIp":"203.0.113.5","internalIp":"10.0.0.2","ports":true}]}""", "$.dnats[0].ports",
            "Expected port text such as \"80\", \"80,443\" or \"8000-8100\", or one port as a number. (line 1, byte 75)" },
        { """{"dnats":[{"externalIp":"203.0.113.5","internalIp":"10.0.0.2","ports":"80","externalInterface":"eth 0"}]}""", "$.dnats[0].externalInterface",
            "The interface name 'eth 0' may contain only ASCII letters, digits, '_', '.' and '-' (and a trailing '+' wildcard); no whitespace, '/', quotes or a leading '-'." },
        { """{"dnats":[{"externalIp":"203.0.113.5","internalIp":"10.0.0.2","ports":"80","internalPort":70000}]}""", "$.dnats[0].internalPort",
            "The port must be between 1 and 65535; port 0 cannot be mapped." },
        { """{"dnats":[{"externalIp":"203.0.113.5","internalIp":"10.0.0.2","ports":"80,443","internalPort":8080}]}""", "$.dnats[0].internalPort",
            "InternalPort (8080) can only be set when Ports is a single port, not '80,443': iptables would send every port of the set to that one port." },

        // SNATs
        { """{"snats":[{"internalIp":"10.0.0.2","externalIp":"203.0.113.5"}]}""", "$.snats[0].externalInterface", "externalInterface is required." },
        { """{"snats":[{"internalIp":"10.0.0.2","externalIp":"203.0.113.5","externalInterface":"a-very-long-interface"}]}""", "$.snats[0].externalInterface",
            "The interface name 'a-very-long-interface' is 21 characters long; the kernel allows at most 15 (IFNAMSIZ)." },
        { """{"snats":[{"internalIp":"10.0.0.2","externalIp":"224.0.0.1","externalInterface":"eth0"}]}""", "$.snats[0].externalIp",
            "The multicast or broadcast address '224.0.0.1' cannot be translated." },

        // Hairpins
        { """{"hairpins":[{"externalIp":"203.0.113.5","internalIp":"10.0.0.2","ports":"80","lanCidr":"10.0.0.1/24"}]}""", "$.hairpins[0].lanCidr",
            "'10.0.0.1/24' is not a network such as 10.0.0.0/24 (no address bits may be set past the prefix)." },
        { """{"hairpins":[{"externalIp":"203.0.113.5","internalIp":"10.0.0.2","ports":"80","lanCidr":"fd00::/64"}]}""", "$.hairpins[0].lanCidr",
            "LanCidr (fd00::/64) must be of the same address family as ExternalIp (203.0.113.5)." },
        { """{"hairpins":[{"externalIp":"203.0.113.5","internalIp":"10.0.0.2","ports":"1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16"}]}""", "$.hairpins[0].ports",
            "The port list needs 16 multiport slots; iptables allows at most 15, and a range counts as two." },
        { """{"hairpins":[{"externalIp":"203.0.113.5","internalIp":"10.0.0.2","ports":"80","protocol":"icmp"}]}""", "$.hairpins[0].protocol",
            "'icmp' is not a protocol; use tcp or udp." },

        // The document itself
        { """{"hairpins":[{"externalIp":"203.0.113.5","internalIp":"10.0.0.2","ports":"80","lanCdir":"10.0.0.0/24"}]}""", "$.hairpins[0].lanCdir",
            "The JSON property 'lanCdir' could not be mapped to any .NET member contained in type 'NatMap.Iptables.HairpinConfigDocument'. (line 1, byte 89)" }, // a typo must not widen a rule
        { """{"dnats":[null]}""", "$.dnats[0]", "The entry is null; expected an object." },
        { """{"dnats":{}}""", "$.dnats", "The JSON value could not be converted to System.Collections.Generic.IList`1[NatMap.Iptables.DnatConfigDocument]. (line 1, byte 11)" },
        { """{"dnats":[{"externalIp":203}]}""", "$.dnats[0].externalIp", "The JSON value could not be converted to System.String. (line 1, byte 28)" },
        { "{\"dnats\":[\n  {\"externalIp\":", "$.dnats[0].externalIp", "Expected depth to be zero at the end of the JSON payload. There is an open JSON object or array that should be closed. (line 2, byte 17)" },
        { "null", "$", "The document is null; expected a JSON object such as {\"dnats\": []}." },
        { "  ", "$", "The document is empty; expected a JSON object such as {\"dnats\": []}." },
    };

    [Fact]
    public void Parse_IssueExample_GivesTheObjects()
    {
        var state = NatMapStateJson.Parse(IssueExample);

        ShouldEqual(state, IssueExampleState);
    }

    [Fact]
    public void Serialize_ThenParse_GivesAnEqualState()
    {
        var json = NatMapStateJson.Serialize(Everything);

        ShouldEqual(NatMapStateJson.Parse(json), Everything);
    }

    [Fact]
    public void Serialize_WritesCamelCaseStringFormsAndLeavesUnsetOptionalFieldsOut()
    {
        var state = new NatMapState
        {
            DockerMaps = [Map("[::]:8080", "[fd00::2]:80", TransportProtocol.Udp)],
            Dnats = [new DnatConfig(Ip("203.0.113.5"), Ip("10.0.0.2"), PortSet.Parse("80,8000-8100"))],
            Hairpins = [new HairpinConfig(Ip("203.0.113.5"), Ip("10.0.0.2"), 80)],
        };

        NatMapStateJson.Serialize(state).ReplaceLineEndings("\n").Should().Be("""
            {
              "dockerMaps": [
                {
                  "containerId": "web",
                  "hostEndpoint": "[::]:8080",
                  "containerEndpoint": "[fd00::2]:80",
                  "protocol": "udp"
                }
              ],
              "dnats": [
                {
                  "externalIp": "203.0.113.5",
                  "internalIp": "10.0.0.2",
                  "ports": "80,8000:8100",
                  "protocol": "tcp"
                }
              ],
              "snats": [],
              "hairpins": [
                {
                  "externalIp": "203.0.113.5",
                  "internalIp": "10.0.0.2",
                  "ports": "80",
                  "protocol": "tcp"
                }
              ]
            }
            """);
    }

    [Fact]
    public void Parse_OptionalFieldsLeftOut_TakesTheDefaults()
    {
        var state = NatMapStateJson.Parse("""
            // comments and trailing commas are fine in a hand-written file
            {
              "dockerMaps": [ { "containerId": "web", "hostEndpoint": "0.0.0.0:8080", "containerEndpoint": "172.17.0.2:80" } ],
              "dnats": [ { "externalIp": "203.0.113.5", "internalIp": "10.0.0.2", "ports": 80 }, ],
            }
            """);

        ShouldEqual(state, new NatMapState
        {
            DockerMaps = [Map()],
            Dnats = [new DnatConfig(Ip("203.0.113.5"), Ip("10.0.0.2"), 80)],
        });
        state.Dnats[0].ExternalInterface.Should().BeNull();
        state.Dnats[0].InternalPort.Should().BeNull();
    }

    [Theory]
    [InlineData("{}")]
    [InlineData("""{"dockerMaps":null,"dnats":[],"snats":null}""")]
    public void Parse_NoLists_GivesTheEmptyState(string json) =>
        ShouldEqual(NatMapStateJson.Parse(json), new NatMapState());

    [Theory]
    [InlineData("TCP", TransportProtocol.Tcp)]
    [InlineData("Udp", TransportProtocol.Udp)]
    public void Parse_ProtocolInAnyCase_IsRead(string text, TransportProtocol expected) =>
        NatMapStateJson.Parse($$"""{"dnats":[{"externalIp":"203.0.113.5","internalIp":"10.0.0.2","ports":"80","protocol":"{{text}}"}]}""")
            .Dnats[0].Protocol.Should().Be(expected);

    [Theory]
    [MemberData(nameof(BadDocuments))]
    public void TryParse_BadDocument_RejectsItWithThePathAndTheFieldsMessage(string json, string path, string message)
    {
        NatMapStateJson.TryParse(json, out var state, out var errors).Should().BeFalse();

        state.Should().BeNull();
        errors.Should().Equal(new NatMapStateError(path, message));
    }

    [Fact]
    public void Parse_SeveralBadValues_ThrowsOnceWithEveryError()
    {
        const string json = """
            {
              "dnats": [ { "externalIp": "203.0.113.5", "internalIp": "10.0.0.2", "ports": "80" },
                         { "externalIp": "nope", "internalIp": "10.0.0.2", "ports": "99999" } ],
              "snats": [ { "internalIp": "10.0.0.2", "externalIp": "203.0.113.5" } ]
            }
            """;

        var act = () => NatMapStateJson.Parse(json);

        var exception = act.Should().Throw<NatMapStateException>().Which;
        exception.Should().BeAssignableTo<FormatException>();
        exception.Errors.Should().Equal(
            new NatMapStateError("$.dnats[1].externalIp", "'nope' is not an IP address such as 10.0.0.2 or fd00::2."),
            new NatMapStateError("$.dnats[1].ports", "'99999' in '99999' is not a port (1-65535) or a range such as 8000-8100."),
            new NatMapStateError("$.snats[0].externalInterface", "externalInterface is required."));
        exception.Message.ReplaceLineEndings("\n").Should().Be("""
            The desired state is not valid (3 errors):
              $.dnats[1].externalIp: 'nope' is not an IP address such as 10.0.0.2 or fd00::2.
              $.dnats[1].ports: '99999' in '99999' is not a port (1-65535) or a range such as 8000-8100.
              $.snats[0].externalInterface: externalInterface is required.
            """);
    }

    [Fact]
    public void Parse_Null_ThrowsArgumentNullException() =>
        FluentActions.Invoking(() => NatMapStateJson.Parse(null!)).Should().Throw<ArgumentNullException>().WithParameterName("json");

    [Fact]
    public void Bind_FromJsonConfiguration_GivesTheSameStateAsTheJsonFormat()
    {
        var configuration = new ConfigurationBuilder()
            .AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes($$"""{ "Logging": {}, "NatMap": {{IssueExample}} }""")))
            .Build();

        var document = configuration.GetSection("NatMap").Get<NatMapStateDocument>();

        ShouldEqual(document!.ToState(), IssueExampleState);
    }

    [Fact]
    public void Bind_FromFlatKeys_GivesTheSameStateAsTheJsonFormat()
    {
        // The shape environment variables (NatMap__Dnats__0__Ports) and command-line providers produce.
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["NatMap:DockerMaps:0:ContainerId"] = "web",
            ["NatMap:DockerMaps:0:HostEndpoint"] = "0.0.0.0:8080",
            ["NatMap:DockerMaps:0:ContainerEndpoint"] = "172.17.0.2:80",
            ["NatMap:Dnats:0:ExternalIp"] = "203.0.113.6",
            ["NatMap:Dnats:0:InternalIp"] = "10.0.0.3",
            ["NatMap:Dnats:0:Ports"] = "8080",
            ["NatMap:Dnats:0:InternalPort"] = "80",
            ["NatMap:Dnats:0:Protocol"] = "udp",
        }).Build();

        var state = configuration.GetSection("NatMap").Get<NatMapStateDocument>()!.ToState();

        ShouldEqual(state, new NatMapState
        {
            DockerMaps = [Map()],
            Dnats = [new DnatConfig(Ip("203.0.113.6"), Ip("10.0.0.3"), 8080, TransportProtocol.Udp) { InternalPort = 80 }],
        });
    }

    [Fact]
    public void Bind_BadValueInConfiguration_IsRejectedWithItsPath()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["NatMap:Hairpins:0:ExternalIp"] = "203.0.113.5",
            ["NatMap:Hairpins:0:InternalIp"] = "10.0.0.2",
            ["NatMap:Hairpins:0:Ports"] = "80",
            ["NatMap:Hairpins:0:LanCidr"] = "10.0.0.0/33",
        }).Build();

        var document = configuration.GetSection("NatMap").Get<NatMapStateDocument>()!;

        document.TryToState(out var state, out var errors).Should().BeFalse();
        state.Should().BeNull();
        errors.Should().Equal(new NatMapStateError(
            "$.hairpins[0].lanCidr", "'10.0.0.0/33' is not a network such as 10.0.0.0/24 (no address bits may be set past the prefix)."));
    }

    [Fact]
    public void FromState_ThenToState_GivesAnEqualState() =>
        ShouldEqual(NatMapStateDocument.FromState(Everything).ToState(), Everything);

    [Fact]
    public void NatMapStateException_NoErrors_IsRejected() =>
        FluentActions.Invoking(() => new NatMapStateException([])).Should().Throw<ArgumentException>().WithParameterName("errors");

    private static void ShouldEqual(NatMapState actual, NatMapState expected)
    {
        actual.DockerMaps.Should().Equal(expected.DockerMaps);
        actual.Dnats.Should().Equal(expected.Dnats);
        actual.Snats.Should().Equal(expected.Snats);
        actual.Hairpins.Should().Equal(expected.Hairpins);
    }
}
