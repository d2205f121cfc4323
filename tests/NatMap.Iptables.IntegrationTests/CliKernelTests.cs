using System.Text.Json;
using NatMap.Iptables.IntegrationTests.Infrastructure;
using static NatMap.Iptables.IntegrationTests.Infrastructure.Topology;

namespace NatMap.Iptables.IntegrationTests;

/// <summary>
/// The natmap tool, as a separate process, against the kernel in the traffic topology: sync from a file, list it
/// back, a smaller file, a bad file; and the audit's verdicts against real socat probes on the same paths.
/// </summary>
public sealed class CliKernelTests
{
    public static TheoryData<string> Backends => Kernel.Backends;

    private static Task<(int Code, string Out, string Err)> Natmap(Topology net, params string[] args) => NatmapTool.RunAsync(net.Host, net.Backend, args);

    private static string Write(string json)
    {
        var path = Path.Combine(Path.GetTempPath(), $"natmap-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, json);
        return path;
    }

    private static void SameObjects(NatMapState actual, NatMapState expected)
    {
        actual.DockerMaps.Should().BeEquivalentTo(expected.DockerMaps);
        actual.Dnats.Should().BeEquivalentTo(expected.Dnats);
        actual.Snats.Should().BeEquivalentTo(expected.Snats);
        actual.Hairpins.Should().BeEquivalentTo(expected.Hairpins);
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task SyncFile_ListJson_GivesTheSameObjects_ThenASmallerFile_ThenABadOneChangesNothing(string backend)
    {
        await using var net = await Topology.CreateAsync(backend);
        var full = $$"""
            {
              "dockerMaps": [ { "containerId": "web", "hostEndpoint": "0.0.0.0:8080", "containerEndpoint": "{{C1v4}}:80" },
                              { "containerId": "web6", "hostEndpoint": "[::]:8080", "containerEndpoint": "[{{C1v6}}]:80", "protocol": "udp" },
                              { "containerId": "db", "hostEndpoint": "127.0.0.1:5432", "containerEndpoint": "{{C2v4}}:5432" } ],
              "dnats": [ { "externalIp": "{{HostB4}}", "internalIp": "{{C2v4}}", "ports": "2222", "internalPort": 22, "externalInterface": "eth0" } ],
              "snats": [ { "internalIp": "{{C1v4}}", "externalIp": "{{HostA4}}", "externalInterface": "eth0" } ],
              "hairpins": [ { "externalIp": "{{HostA4}}", "internalIp": "{{C2v4}}", "ports": "80,443", "lanCidr": "172.30.0.0/24" } ]
            }
            """;
        var smaller = $$"""{ "dockerMaps": [ { "containerId": "web", "hostEndpoint": "0.0.0.0:8080", "containerEndpoint": "{{C1v4}}:80" } ] }""";

        var sync = await Natmap(net, "sync", "--file", Write(full), "--apply");
        var list = await Natmap(net, "list", "--json");
        sync.Code.Should().Be(0, sync.Err);
        SameObjects(NatMapStateJson.Parse(list.Out), NatMapStateJson.Parse(full));

        var again = await Natmap(net, "sync", "--file", Write(list.Out), "--json");
        again.Out.Should().Contain("\"unchanged\": 6");
        again.Err.Should().NotContain("restore", "the listed state synced again changes nothing");

        (await Natmap(net, "sync", "--file", Write(smaller), "--apply")).Code.Should().Be(0);
        SameObjects(NatMapStateJson.Parse((await Natmap(net, "list", "--json")).Out), NatMapStateJson.Parse(smaller));

        var before = await net.SaveAsync(ipv6: false) + await net.SaveAsync(ipv6: true);
        var bad = await Natmap(net, "sync", "--file", Write(full.Replace("\"2222\"", "\"0\"", StringComparison.Ordinal)), "--apply");
        bad.Code.Should().Be(2);
        bad.Err.Should().Contain("$.dnats[0].ports");
        (await net.SaveAsync(ipv6: false) + await net.SaveAsync(ipv6: true)).Should().Be(before);
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task Audit_EveryVerdictIsWhatASocatProbeGets_WithAndWithoutTheGuards(string backend)
    {
        // c2 also listens on the DNAT's ports that the audit traces: 7000, 7005 and 7008 (see below).
        await using var net = await Topology.CreateAsync(backend, 80, 7000, 7005, 7008);
        await net.RouteContainersThroughHostAsync();

        // ext sends 127.0.0.1 to the host, so every lan-loopback verdict meets a real packet, not ext's own loopback.
        await net.RouteLoopbackThroughHostAsync();
        foreach (var program in new[] { $"iptables-{backend}", $"ip6tables-{backend}" })
        {
            await net.ExecAsync(net.Host, program, "-P", "FORWARD", "DROP");
        }

        (await Natmap(net, "setup", "--apply")).Code.Should().Be(0);
        foreach (var line in new[] { $"0.0.0.0:8080 {C1v4}:80 web", $"127.0.0.1:8083 {C1v4}:80 lo", $"{HostA4}:8082 {C2v4}:80 bound", $"[::]:8080 [{C1v6}]:80 web6" })
        {
            var parts = line.Split(' ');
            (await Natmap(net, "add", "docker", "--container", parts[2], "--host", parts[0], "--target", parts[1], "--apply")).Code.Should().Be(0);
        }

        // A static DNAT of a port set, and a foreign DROP on part of its range: the audit traces one port per run of
        // ports no rule tells apart (7000; 7005 for 7005-7007; 7008 for 7008-7010), and each meets a real probe.
        (await Natmap(net, "add", "dnat", "--external", HostB4, "--internal", C2v4, "--ports", "7000,7005-7010", "--apply")).Code.Should().Be(0);
        await net.ExecAsync(net.Host, $"iptables-{backend}", "-I", "FORWARD", "-p", "tcp", "-m", "tcp", "--dport", "7008:7010", "-j", "DROP");

        var guarded = await CompareAsync(net);
        guarded.Code.Should().Be(0, "the guards hold: nothing is reachable beyond its binding");
        guarded.Verdicts.Should().Contain([$"lan {HostB4}:7000 reachable", $"lan {HostB4}:7005 reachable", $"lan {HostB4}:7008 not reachable"]);

        // Without the raw guard and with a foreign broad FORWARD ACCEPT the loopback-bound port and direct routing open up.
        await net.ExecAsync(net.Host, $"iptables-{backend}", "-t", "raw", "-F", "PREROUTING");
        foreach (var program in new[] { $"iptables-{backend}", $"ip6tables-{backend}" })
        {
            await net.ExecAsync(net.Host, program, "-I", "FORWARD", "-i", "eth0", "-j", "ACCEPT");
        }

        var open = await CompareAsync(net);
        open.Code.Should().Be(3);
        open.Exposed.Should().BeGreaterThanOrEqualTo(3);
    }

    /// <summary>Runs the audit and probes every LAN, loopback and direct path it reports with socat from ext.</summary>
    private static async Task<(int Code, int Exposed, List<string> Verdicts)> CompareAsync(Topology net)
    {
        var (code, output, error) = await Natmap(net, "audit", "--json");
        code.Should().BeOneOf([0, 3], error);
        using var report = JsonDocument.Parse(output);
        var mismatches = new List<string>();
        var verdicts = new List<string>();
        var exposed = 0;
        var probed = new List<(string Mapping, string Kind, string To, string Verdict)>();
        foreach (var mapping in report.RootElement.GetProperty("mappings").EnumerateArray())
        {
            foreach (var path in mapping.GetProperty("paths").EnumerateArray())
            {
                var kind = path.GetProperty("kind").GetString()!;
                var verdict = path.GetProperty("verdict").GetString()!;
                exposed += path.GetProperty("exposure").GetBoolean() ? 1 : 0;
                if (kind is not ("lan" or "lan-loopback" or "direct") || !path.GetProperty("from").GetString()!.EndsWith("on eth0", StringComparison.Ordinal))
                {
                    continue;
                }

                verdict.Should().NotBe("unknown", "every rule here is one the emulator evaluates");
                probed.Add((mapping.GetProperty("mapping").GetString()!, kind, path.GetProperty("to").GetString()!.Split(' ')[0], verdict));
            }
        }

        var answers = await Probe.EachAsync(probed, path =>
        {
            var endpoint = System.Net.IPEndPoint.Parse(path.To);
            return net.ProbeAsync(net.Ext, TransportProtocol.Tcp, endpoint.Address.ToString(), endpoint.Port);
        });
        foreach (var ((mapping, kind, to, verdict), answer) in probed.Zip(answers))
        {
            var real = answer is null ? "not reachable" : "reachable";
            verdicts.Add($"{kind} {to} {verdict}");
            TestContext.Current.TestOutputHelper?.WriteLine($"{mapping} {kind} -> {to}: audit {verdict}, socat {real}");
            if (real != verdict)
            {
                mismatches.Add($"{mapping} {kind} -> {to}: audit said {verdict}, socat got {answer ?? "nothing"}");
            }
        }

        mismatches.Should().BeEmpty();
        verdicts.Should().Contain(v => v.EndsWith(" reachable", StringComparison.Ordinal) && !v.EndsWith("not reachable", StringComparison.Ordinal))
            .And.Contain(v => v.EndsWith(" not reachable", StringComparison.Ordinal));
        return (code, exposed, verdicts);
    }
}
