using System.Net;
using System.Text.Json;
using NatMap.Iptables.IntegrationTests.Infrastructure;
using static NatMap.Iptables.IntegrationTests.Infrastructure.DockerEngine;

namespace NatMap.Iptables.IntegrationTests;

/// <summary>
/// The library beside a real Docker Engine (dockerd 20.10 from Debian's docker.io), on both iptables backends, in
/// throwaway network namespaces: real containers, Docker's own chains, FORWARD policy DROP and published ports, and
/// probes from a LAN client. Everything goes through the library's public API with default options, except the
/// audit test, which runs the natmap tool as an operator would and checks its verdicts on Docker's real rules.
/// </summary>
public sealed class DockerCoexistenceTests(DockerEngineFixture engines) : IClassFixture<DockerEngineFixture>
{
    internal const int LibraryPort = 8080, DockerPort = 9090;

    public static TheoryData<string> Backends => Kernel.Backends;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>The library's mappings of host port 8080 to container <paramref name="index"/>'s port 80: tcp and udp, both families.</summary>
    internal static DockerPortMap[] Maps(int index) =>
    [
        new("c", IPEndPoint.Parse($"0.0.0.0:{LibraryPort}"), IPEndPoint.Parse($"{Container4(index)}:80"), TransportProtocol.Tcp),
        new("c", IPEndPoint.Parse($"0.0.0.0:{LibraryPort}"), IPEndPoint.Parse($"{Container4(index)}:80"), TransportProtocol.Udp),
        new("c", IPEndPoint.Parse($"[::]:{LibraryPort}"), IPEndPoint.Parse($"[{Container6(index)}]:80"), TransportProtocol.Tcp),
    ];

    internal static async Task InstallAsync(IptablesManager manager, IEnumerable<DockerPortMap> maps)
    {
        foreach (var map in maps)
        {
            await manager.InstallDockerMapAsync(map, Ct);
        }
    }

    /// <summary>What Docker made, in the backend under test and not in the other one.</summary>
    internal static async Task AssertDockerRulesAsync(DockerEngine engine)
    {
        var other = engine.Backend == "nft" ? "legacy" : "nft";
        foreach (var ipv6 in new[] { false, true })
        {
            var save = await engine.SaveAsync(ipv6);
            save.Should().Contain(":FORWARD DROP", "dockerd sets FORWARD's policy to DROP")
                .And.Contain(":DOCKER-ISOLATION-STAGE-1 - ")
                .And.Contain("-A POSTROUTING -s " + (ipv6 ? Subnet6 : Subnet4) + " ! -o br-");
            if (!ipv6)
            {
                // dockerd 20.10 makes DOCKER-USER for IPv4 only, also with --ip6tables.
                save.Should().Contain("-A FORWARD -j DOCKER-USER").And.Contain("-A DOCKER-USER -j RETURN");
            }
            (await engine.SaveAsync(ipv6, other)).Should().NotContain("DOCKER", $"dockerd was to use iptables-{engine.Backend}, not iptables-{other}");
        }

        (await engine.ExecAsync(engine.Host, "sysctl", "-n", "net.ipv4.ip_forward")).Trim().Should().Be("1", "dockerd turns forwarding on");
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task LibraryMapping_CarriesLanTraffic_BesideDockersChains(string backend)
    {
        var engine = await engines.PrepareAsync(backend);
        await engine.RunServerAsync("c1", 10);
        await AssertDockerRulesAsync(engine);
        var manager = engine.Manager();
        await manager.SetupAsync(Ct);
        await Probe.NoAnswerAsync(engine.Ext, TransportProtocol.Tcp, Host4, LibraryPort, "nothing is mapped yet");

        await InstallAsync(manager, Maps(10));

        await Probe.ReachesAsync(engine.Ext, TransportProtocol.Tcp, Host4, LibraryPort, "c1", "the library's tcp mapping");
        await Probe.ReachesAsync(engine.Ext, TransportProtocol.Udp, Host4, LibraryPort, "c1", "the library's udp mapping");
        await Probe.ReachesAsync(engine.Ext, TransportProtocol.Tcp, Host6, LibraryPort, "c1", "the library's IPv6 mapping");
        await AssertDockerRulesAsync(engine);
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task DockerPublishedPort_KeepsWorking_AfterSetupAndInstalls(string backend)
    {
        var engine = await engines.PrepareAsync(backend);
        await engine.RunServerAsync("c2", 20, "-p", $"{DockerPort}:80", "-p", $"{DockerPort}:80/udp");
        await Probe.ReachesAsync(engine.Ext, TransportProtocol.Tcp, Host4, DockerPort, "c2", "Docker's -p before the library");
        await Probe.ReachesAsync(engine.Ext, TransportProtocol.Udp, Host4, DockerPort, "c2", "Docker's -p/udp before the library");

        var manager = engine.Manager();
        await manager.SetupAsync(Ct);
        await engine.RunServerAsync("c1", 10);
        await InstallAsync(manager, Maps(10));

        // A container published after the library's Setup gets Docker's rules after the library's.
        await engine.RunServerAsync("c3", 30, "-p", $"{DockerPort + 1}:80");

        await Probe.ReachesAsync(engine.Ext, TransportProtocol.Tcp, Host4, DockerPort, "c2", "Docker's -p after the library's Setup and installs");
        await Probe.ReachesAsync(engine.Ext, TransportProtocol.Udp, Host4, DockerPort, "c2", "Docker's -p/udp after the library's Setup and installs");
        await Probe.ReachesAsync(engine.Ext, TransportProtocol.Tcp, Host4, DockerPort + 1, "c3", "Docker's -p of a container started after Setup");
        await Probe.ReachesAsync(engine.Ext, TransportProtocol.Tcp, Host4, LibraryPort, "c1", "the library's mapping beside them");
    }

    /// <summary>The lines of ruleset <paramref name="a"/> that <paramref name="b"/> lacks.</summary>
    internal static string Diff(string a, string b) => string.Join(" | ", a.Split('\n').Except(b.Split('\n')));

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task DirectRoutingToAContainer_StaysClosed_BeforeAndAfterTheLibraryMapsIt(string backend)
    {
        var engine = await engines.PrepareAsync(backend);
        await engine.RunServerAsync("c1", 10);
        await engine.RunServerAsync("c2", 20, "-p", $"{DockerPort}:80");
        var manager = engine.Manager();
        await manager.SetupAsync(Ct);

        // A LAN neighbour routes the container networks through the docker host and connects straight to c1, which
        // Docker did not publish.
        _ = await engine.ExecAsync(engine.Ext, "ip", "route", "add", Subnet4, "via", Host4);
        _ = await engine.ExecAsync(engine.Ext, "ip", "-6", "route", "add", Subnet6, "via", Host6);
        await AssertDirectRoutingClosedAsync(engine, "c1, not published by anyone");

        await InstallAsync(manager, Maps(10));
        await Probe.ReachesAsync(engine.Ext, TransportProtocol.Tcp, Host4, LibraryPort, "c1", "HOST:PORT, the mapping itself");
        await Probe.ReachesAsync(engine.Ext, TransportProtocol.Tcp, Host6, LibraryPort, "c1", "[HOST6]:PORT, the mapping itself");
        await AssertDirectRoutingClosedAsync(engine, "c1, mapped by the library: only HOST:PORT was published");

        // Docker 20.10 itself accepts direct routing to the ports it publishes (its ACCEPT has no ctstate DNAT;
        // fixed in Docker 28): recorded, not asserted, since it is Docker's rule and not the library's.
        var docker = await Probe.RunAsync(engine.Ext, TransportProtocol.Tcp, Container4(20), 80, attempts: 1);
        Console.WriteLine($"direct routing to Docker's own published container ({backend}): {docker}");
    }

    /// <summary>
    /// Direct routing from ext to c1's port 80 gets no answer, in tcp and udp and IPv6; and the same probes, with an
    /// ACCEPT for exactly them put first in raw PREROUTING and filter FORWARD, do reach c1: so nobody answered because
    /// the firewall dropped the packets, not because the route, the probe or the server was broken.
    /// </summary>
    internal static async Task AssertDirectRoutingClosedAsync(DockerEngine engine, string because)
    {
        await Probe.NoAnswerAsync(engine.Ext, TransportProtocol.Tcp, Container4(10), 80, $"direct routing to {because}");
        await Probe.NoAnswerAsync(engine.Ext, TransportProtocol.Udp, Container4(10), 80, $"direct routing (udp) to {because}");
        await Probe.NoAnswerAsync(engine.Ext, TransportProtocol.Tcp, Container6(10), 80, $"direct routing (IPv6) to {because}");

        var control = new List<string[]>();
        foreach (var (program, source, destination) in new[] { ($"iptables-{engine.Backend}", Ext4, Container4(10)), ($"ip6tables-{engine.Backend}", Ext6, Container6(10)) })
        {
            foreach (var (table, chain) in new[] { ("raw", "PREROUTING"), ("filter", "FORWARD") })
            {
                string[] rule = [program, "-t", table, "{0}", chain, "-s", source, "-d", destination, "-p", "tcp", "--dport", "80", "-j", "ACCEPT"];
                control.Add(rule);
                _ = await engine.ExecAsync(engine.Host, [.. rule.Select(a => a == "{0}" ? "-I" : a)]);
            }
        }

        try
        {
            await Probe.ReachesAsync(engine.Ext, TransportProtocol.Tcp, Container4(10), 80, "c1", "control: the same probe with the firewall opened for it");
            await Probe.ReachesAsync(engine.Ext, TransportProtocol.Tcp, Container6(10), 80, "c1", "control: the same IPv6 probe with the firewall opened for it");
        }
        finally
        {
            foreach (var rule in control)
            {
                _ = await engine.ExecAsync(engine.Host, [.. rule.Select(a => a == "{0}" ? "-D" : a)]);
            }
        }
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task FlushAll_LeavesDockersRulesPoliciesAndChainsExactlyAsTheyWere(string backend)
    {
        var engine = await engines.PrepareAsync(backend);
        await engine.RunServerAsync("c1", 10);
        await engine.RunServerAsync("c2", 20, "-p", $"{DockerPort}:80", "-p", $"{DockerPort}:80/udp");
        var before = await DockerTablesAsync(engine);
        var routeLocalnet = await engine.ExecAsync(engine.Host, "sysctl", "-n", "net.ipv4.conf.all.route_localnet");
        var manager = engine.Manager();
        await manager.SetupAsync(Ct);
        await InstallAsync(manager, Maps(10));
        await Probe.ReachesAsync(engine.Ext, TransportProtocol.Tcp, Host4, LibraryPort, "c1", "the mapping before FlushAll");
        (await DockerTablesAsync(engine)).Should().NotEqual(before, "Setup and the installs added rules");

        await manager.FlushAllAsync(Ct);

        var after = await DockerTablesAsync(engine);
        foreach (var (table, rules) in before)
        {
            after[table].Should().Be(rules, $"FlushAll must leave {table} as Docker made it");
        }

        (await engine.ExecAsync(engine.Host, "sysctl", "-n", "net.ipv4.conf.all.route_localnet")).Should().Be(routeLocalnet);
        await Probe.ReachesAsync(engine.Ext, TransportProtocol.Tcp, Host4, DockerPort, "c2", "Docker's -p after FlushAll");
        await Probe.ReachesAsync(engine.Ext, TransportProtocol.Udp, Host4, DockerPort, "c2", "Docker's -p/udp after FlushAll");
        await Probe.NoAnswerAsync(engine.Ext, TransportProtocol.Tcp, Host4, LibraryPort, "FlushAll removed the library's mapping");
    }

    /// <summary>nat and filter of both families, normalized (no counters or comment lines), keyed "iptables nat" etc.</summary>
    internal static async Task<Dictionary<string, string>> DockerTablesAsync(DockerEngine engine)
    {
        var tables = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var ipv6 in new[] { false, true })
        {
            foreach (var table in new[] { "nat", "filter" })
            {
                tables[$"{(ipv6 ? "ip6tables" : "iptables")} {table}"] = await engine.SaveTableAsync(table, ipv6);
            }
        }

        return tables;
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task Audit_BesideDockersRulesAndItsPublishedContainer_EveryVerdictIsWhatASocatProbeGets(string backend)
    {
        var engine = await engines.PrepareAsync(backend);
        await engine.RunServerAsync("c1", 10);
        await engine.RunServerAsync("c2", 20, "-p", $"{DockerPort}:80");
        await AssertDockerRulesAsync(engine);
        await Probe.ReachesAsync(engine.Ext, TransportProtocol.Tcp, Host4, DockerPort, "c2", "Docker's own -p");
        Task<(int Code, string Out, string Err)> Natmap(params string[] args) => NatmapTool.RunAsync(engine.Host, backend, args);
        (await Natmap("setup", "--apply")).Code.Should().Be(0);
        foreach (var (kind, options) in new[]
        {
            ("docker", $"--container web --host 0.0.0.0:{LibraryPort} --target {Container4(10)}:80"),
            ("docker", $"--container web6 --host [::]:{LibraryPort} --target [{Container6(10)}]:80"),
            ("docker", $"--container lo --host 127.0.0.1:8083 --target {Container4(10)}:80"),

            // c2 is Docker's published container too: Docker 20.10's ACCEPT for it in filter DOCKER is on this mapping's paths.
            ("docker", $"--container pub --host 0.0.0.0:8081 --target {Container4(20)}:80"),
            ("dnat", $"--external {Host4} --internal {Container4(10)} --ports 8070 --internal-port 80"),
        })
        {
            var add = await Natmap(["add", kind, .. options.Split(' '), "--apply"]);
            add.Code.Should().Be(0, add.Err);
        }

        // ext sends 127.0.0.1 to the docker host, so the lan-loopback verdicts meet a real packet, not ext's own loopback.
        _ = await engine.ExecAsync(engine.Ext, "ip", "addr", "del", "127.0.0.1/8", "dev", "lo");
        _ = await engine.ExecAsync(engine.Ext, "sysctl", "-q", "-w", "net.ipv4.conf.all.route_localnet=1", "net.ipv4.conf.eth0.route_localnet=1");
        _ = await engine.ExecAsync(engine.Ext, "ip", "route", "add", "127.0.0.1/32", "via", Host4, "dev", "eth0");
        string[] operatorRule = [$"iptables-{backend}", "-I", "DOCKER-USER", "-i", "eth0", "-m", "iprange", "!", "--src-range", $"{Ext4}-10.97.0.3", "-j", "DROP"];
        try
        {
            var audit = await Natmap("audit", "--json");
            var paths = AuditPaths(audit.Out);
            TestContext.Current.TestOutputHelper?.WriteLine($"{await engine.SaveAsync(ipv6: false)}{await engine.SaveAsync(ipv6: true)}{(await Natmap("audit")).Out}");

            // Every match and target of dockerd 20.10's rules on these paths is one the emulator evaluates (addrtype
            // LOCAL, ! -i/-o, conntrack RELATED,ESTABLISHED on a first packet, the isolation chains, DNAT, MASQUERADE):
            // no verdict is unknown, and every one is what a real packet gets.
            paths.Where(p => p.Verdict == "unknown").Should().BeEmpty("every rule on these paths is one the emulator evaluates");
            var mismatches = new List<string>();
            var probed = paths.Where(p => p.Kind is "lan" or "lan-loopback" or "direct" && p.From.EndsWith("on eth0", StringComparison.Ordinal)).ToList();
            var outcomes = await Probe.EachAsync(probed, path =>
            {
                var to = IPEndPoint.Parse(path.To.Split(' ')[0]);
                return Probe.RunAsync(engine.Ext, TransportProtocol.Tcp, to.Address.ToString(), to.Port, attempts: 2);
            });
            foreach (var (path, outcome) in probed.Zip(outcomes))
            {
                Assert.True(outcome.Answer is not null || outcome.RefusedOrTimedOut, $"the probe itself failed: {outcome}");
                var real = outcome.Answer == path.Container ? "reachable" : outcome.Answer is null ? "not reachable" : $"answered by {outcome.Answer}";
                TestContext.Current.TestOutputHelper?.WriteLine($"{path.Mapping} {path.Kind} -> {path.To}: audit {path.Verdict}, socat {real}");
                if (real != path.Verdict)
                {
                    mismatches.Add($"{path.Mapping} {path.Kind} -> {path.To}: audit said {path.Verdict}, socat got {outcome}");
                }
            }

            mismatches.Should().BeEmpty();
            paths.Select(p => p.Verdict).Should().Contain("reachable").And.Contain("not reachable");

            // A verdict that Docker's rules decide: Docker 20.10's ACCEPT for its published c2 in filter DOCKER has no
            // ctstate DNAT, so it admits a LAN client routing straight to c2:80 (fixed in Docker 28), which the probe
            // above confirmed. natmap's "pub" maps c2 too, so the audit reports that path as an exposure.
            paths.Should().ContainSingle(p => p.Mapping.Contains("(container pub)", StringComparison.Ordinal) && p.Kind == "direct" && p.From.EndsWith("on eth0", StringComparison.Ordinal))
                .Which.Exposure.Should().BeTrue("Docker's own ACCEPT admits direct routing to the container it published");
            audit.Code.Should().Be(paths.Any(p => p.Exposure) ? 3 : 0, audit.Err);

            // A rule of the shape Docker's documentation tells operators to put in DOCKER-USER, with a match the emulator
            // does not evaluate: every path that meets it becomes unknown and names it, and no other verdict changes.
            _ = await engine.ExecAsync(engine.Host, operatorRule);
            var after = AuditPaths((await Natmap("audit", "--json")).Out);
            after.Select(p => (p.Mapping, p.Kind, p.From, p.To)).Should().Equal(paths.Select(p => (p.Mapping, p.Kind, p.From, p.To)));
            var changed = after.Zip(paths).Where(pair => pair.First.Verdict != pair.Second.Verdict).ToList();
            changed.Should().NotBeEmpty().And.OnlyContain(pair => pair.First.Verdict == "unknown", "an unevaluated match gives unknown, never a guess");
            after.Where(p => p.Verdict == "unknown").Should().OnlyContain(p => p.Reason!.Contains($"--src-range {Ext4}-10.97.0.3", StringComparison.Ordinal) && p.Reason.Contains("iprange", StringComparison.Ordinal));
            after.Where(p => p.Verdict == "unknown").Should().OnlyContain(p => p.From.EndsWith("on eth0", StringComparison.Ordinal), "the rule's -i eth0 is evaluated first: other clients never reach its iprange match");
            paths.Where(p => p.Kind == "lan" && p.Verdict == "reachable" && p.From.EndsWith("on eth0", StringComparison.Ordinal) && !p.To.StartsWith('['))
                .Select(p => after.Single(a => (a.Mapping, a.Kind, a.From, a.To) == (p.Mapping, p.Kind, p.From, p.To)).Verdict)
                .Should().OnlyContain(v => v == "unknown", "every IPv4 LAN path that was forwarded to a container now meets the rule");
        }
        finally
        {
            _ = await engine.RunAsync(engine.Host, [.. operatorRule.Select(a => a == "-I" ? "-D" : a)]);
            _ = await engine.RunAsync(engine.Ext, "ip", "route", "del", "127.0.0.1/32");
            _ = await engine.RunAsync(engine.Ext, "ip", "addr", "add", "127.0.0.1/8", "dev", "lo");
            _ = await engine.RunAsync(engine.Ext, "sysctl", "-q", "-w", "net.ipv4.conf.all.route_localnet=0", "net.ipv4.conf.eth0.route_localnet=0");
        }
    }

    /// <summary>The paths of an <c>audit --json</c> report, each with its mapping and the name of the container the mapping targets.</summary>
    private static List<AuditedPath> AuditPaths(string json)
    {
        using var report = JsonDocument.Parse(json);
        var paths = new List<AuditedPath>();
        foreach (var mapping in report.RootElement.GetProperty("mappings").EnumerateArray())
        {
            var name = mapping.GetProperty("mapping").GetString()!;
            var container = name.Contains($"-> {Container4(20)}:", StringComparison.Ordinal) ? "c2" : "c1";
            foreach (var path in mapping.GetProperty("paths").EnumerateArray())
            {
                paths.Add(new AuditedPath(
                    name, container, path.GetProperty("kind").GetString()!, path.GetProperty("from").GetString()!, path.GetProperty("to").GetString()!,
                    path.GetProperty("verdict").GetString()!, path.GetProperty("exposure").GetBoolean(), path.TryGetProperty("reason", out var reason) ? reason.GetString() : null));
            }
        }

        return paths;
    }

    private sealed record AuditedPath(string Mapping, string Container, string Kind, string From, string To, string Verdict, bool Exposure, string? Reason);

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task SetupBeforeDockerdFirstStarts_ThenDockerStarts_MappingAndDockersPortsWork(string backend)
    {
        // Setup after dockerd started is what every other test of this class does; here dockerd has never run.
        var engine = await DockerEngine.CreateAsync(backend, start: false);
        try
        {
            var manager = engine.Manager();
            await manager.SetupAsync(Ct);
            (await engine.SaveAsync(ipv6: false)).Should().NotContain("DOCKER-ISOLATION", "dockerd has not started yet");

            await engine.StartAsync();
            await AssertDockerRulesAsync(engine);
            // Docker appends its RETURN to the IPv4 DOCKER-USER chain the library made; the library's jump stays first.
            // (For IPv6, dockerd 20.10 has no DOCKER-USER: the chain stays the library's alone.)
            foreach (var ipv6 in new[] { false, true })
            {
                var dockerUser = (await engine.SaveAsync(ipv6)).Split('\n').Where(l => l.StartsWith("-A DOCKER-USER ", StringComparison.Ordinal)).ToList();
                dockerUser.Should().HaveCount(ipv6 ? 1 : 2);
                dockerUser[0].Should().EndWith("-j NATMAP");
                if (!ipv6)
                {
                    dockerUser[1].Should().Be("-A DOCKER-USER -j RETURN");
                }
            }

            await engine.RunServerAsync("c1", 10);
            await engine.RunServerAsync("c2", 20, "-p", $"{DockerPort}:80");
            await InstallAsync(manager, Maps(10));

            await Probe.ReachesAsync(engine.Ext, TransportProtocol.Tcp, Host4, LibraryPort, "c1", "the library's mapping");
            await Probe.ReachesAsync(engine.Ext, TransportProtocol.Udp, Host4, LibraryPort, "c1", "the library's udp mapping");
            await Probe.ReachesAsync(engine.Ext, TransportProtocol.Tcp, Host6, LibraryPort, "c1", "the library's IPv6 mapping");
            await Probe.ReachesAsync(engine.Ext, TransportProtocol.Tcp, Host4, DockerPort, "c2", "Docker's own -p");
        }
        finally
        {
            await engine.DisposeAsync();
        }

        // Cleanup left nothing: no dockerd, containerd or shim, no mount, no namespace, no directory.
        engine.Processes().Should().BeEmpty();
        engine.Mounts().Should().BeEmpty();
        Directory.Exists(engine.Root).Should().BeFalse();
        File.Exists($"/var/run/netns/{engine.Host}").Should().BeFalse();
        File.Exists($"/var/run/netns/{engine.Ext}").Should().BeFalse();
    }
}
