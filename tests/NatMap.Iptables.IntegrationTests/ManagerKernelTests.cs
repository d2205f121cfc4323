using System.Net;
using NatMap.Iptables.IntegrationTests.Infrastructure;

namespace NatMap.Iptables.IntegrationTests;

/// <summary>The manager against the real iptables in a throwaway namespace: what it leaves in the tables.</summary>
public sealed class ManagerKernelTests
{
    public static TheoryData<string> Backends => Kernel.Backends;

    public static TheoryData<string, RuleApplyMode> BackendsAndTransports => Kernel.BackendsAndTransports;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static IPEndPoint Ep(string text) => IPEndPoint.Parse(text);

    private static IPAddress Ip(string text) => IPAddress.Parse(text);

    internal static readonly DockerPortMap[] Maps =
    [
        new("web", Ep("0.0.0.0:8080"), Ep("172.17.0.2:80")),
        new("web", Ep("0.0.0.0:8080"), Ep("172.17.0.2:80"), TransportProtocol.Udp),
        new("web", Ep("0.0.0.0:80"), Ep("172.17.0.2:80")),
        new("db", Ep("127.0.0.1:5432"), Ep("172.17.0.3:5432")),
        new("api", Ep("192.168.50.1:443"), Ep("172.17.0.4:8443")),
        new("web6", Ep("[::]:8080"), Ep("[fd00::2]:80")),
        new("web6", Ep("[::1]:8081"), Ep("[fd00::2]:81")),
        new("api6", Ep("[2001:db8::1]:443"), Ep("[fd00::4]:8443"), TransportProtocol.Udp),
    ];

    internal static readonly DnatConfig[] Dnats =
    [
        new(Ip("203.0.113.5"), Ip("10.0.0.2"), 80),
        new(Ip("203.0.113.5"), Ip("10.0.0.2"), PortSet.Parse("443,8443,9000-9010"), ExternalInterface: "eth0"),
        new(Ip("203.0.113.5"), Ip("10.0.0.2"), PortSet.Parse("8000-8100"), TransportProtocol.Udp),
        new(Ip("203.0.113.6"), Ip("10.0.0.3"), 2222) { InternalPort = 22 },
        new(Ip("2001:db8::5"), Ip("fd00::2"), PortSet.Parse("80,443")),
    ];

    internal static readonly SnatConfig[] Snats =
    [
        new(Ip("10.0.0.2"), Ip("203.0.113.5"), "eth0"),
        new(Ip("fd00::2"), Ip("2001:db8::5"), "wan+"),
    ];

    internal static readonly HairpinConfig[] Hairpins =
    [
        new(Ip("203.0.113.5"), Ip("192.168.1.20"), PortSet.Parse("80,443"), LanCidr: IPNetwork.Parse("192.168.1.0/24")),
        new(Ip("203.0.113.7"), Ip("192.168.1.21"), 53, TransportProtocol.Udp),
        new(Ip("2001:db8::5"), Ip("fd00::20"), 80, LanCidr: IPNetwork.Parse("fd00::/64")),
    ];

    internal static async Task InstallEverythingAsync(IptablesManager manager)
    {
        foreach (var map in Maps)
        {
            await manager.InstallDockerMapAsync(map, Ct);
        }

        foreach (var dnat in Dnats)
        {
            await manager.InstallDnatAsync(dnat, Ct);
        }

        foreach (var snat in Snats)
        {
            await manager.InstallSnatAsync(snat, Ct);
        }

        foreach (var hairpin in Hairpins)
        {
            await manager.InstallHairpinAsync(hairpin, Ct);
        }
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task Setup_Twice_SecondRunChangesNothing(string backend)
    {
        await using var ns = await TestNamespace.CreateAsync(backend);
        var manager = ns.Manager();

        await manager.SetupAsync(Ct);
        var (v4, v6) = (await ns.SaveAsync(), await ns.SaveAsync(ipv6: true));
        await manager.SetupAsync(Ct);

        (await ns.SaveAsync()).Should().Be(v4);
        (await ns.SaveAsync(ipv6: true)).Should().Be(v6);
        v4.Should().Contain("-A PREROUTING -m addrtype --dst-type LOCAL -m comment --comment \"natmap:setup\" -j NATMAP")
            .And.Contain("-A FORWARD -m comment --comment \"natmap:setup\" -j DOCKER-USER")
            .And.Contain("-A DOCKER-USER -m comment --comment \"natmap:setup\" -j NATMAP");
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task InstallTwice_RulesMatchTheKernelsListing_NoDuplicates(string backend)
    {
        await using var ns = await TestNamespace.CreateAsync(backend);
        var manager = ns.Manager();
        await manager.SetupAsync(Ct);

        await InstallEverythingAsync(manager);
        var (v4, v6) = (await ns.SaveAsync(), await ns.SaveAsync(ipv6: true));
        await InstallEverythingAsync(manager);

        (await ns.SaveAsync()).Should().Be(v4, "every rule the builder writes is found in iptables -S as written, so nothing is added twice");
        (await ns.SaveAsync(ipv6: true)).Should().Be(v6);
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task EveryRule_AppearsInTheKernelExactlyAsBuilt(string backend)
    {
        await using var ns = await TestNamespace.CreateAsync(backend);
        var manager = ns.Manager();
        await manager.SetupAsync(Ct);
        await InstallEverythingAsync(manager);

        var built = Maps.SelectMany(manager.RuleBuilder.BuildDockerMap)
            .Concat(Dnats.SelectMany(manager.RuleBuilder.BuildDnat))
            .Concat(Snats.SelectMany(manager.RuleBuilder.BuildSnat))
            .Concat(Hairpins.SelectMany(manager.RuleBuilder.BuildHairpin));
        foreach (var rule in built)
        {
            var ipv6 = rule.Family == System.Net.Sockets.AddressFamily.InterNetworkV6;
            var listed = await ns.RulesAsync(rule.Table, rule.Chain, ipv6);
            var expected = "-A " + rule.Chain + " " + string.Join(' ', rule.Specification.Select(a => a.StartsWith("natmap:", StringComparison.Ordinal) ? $"\"{a}\"" : a));
            listed.Should().ContainSingle(l => l == expected, $"{rule} is listed once, in the builder's exact form");
        }
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task ListAsync_RoundTripsEverythingInstalled_ForeignRulesIgnored(string backend)
    {
        await using var ns = await TestNamespace.CreateAsync(backend);
        await ForeignRules.AddAsync(args => ns.ExecAsync(args[0], args[1..]), backend);
        var manager = ns.Manager();
        await manager.SetupAsync(Ct);
        (await manager.ListAsync(Ct)).Should().BeEquivalentTo(new NatMapState());

        await InstallEverythingAsync(manager);
        var state = await manager.ListAsync(Ct);

        state.DockerMaps.Should().BeEquivalentTo(Maps);
        state.Dnats.Should().BeEquivalentTo(Dnats);
        state.Snats.Should().BeEquivalentTo(Snats);
        state.Hairpins.Should().BeEquivalentTo(Hairpins);
        state.DockerMaps.Should().OnlyHaveUniqueItems().And.Contain(Maps, "records compare by value");

        await manager.RemoveDockerMapAsync(Maps[0], Ct);
        (await manager.ListAsync(Ct)).DockerMaps.Should().BeEquivalentTo(Maps.Skip(1));
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task Remove_TakesExactlyThatObjectsRules(string backend)
    {
        await using var ns = await TestNamespace.CreateAsync(backend);
        var manager = ns.Manager();
        await manager.SetupAsync(Ct);
        await InstallEverythingAsync(manager);

        // The tcp mapping of 0.0.0.0:8080 shares container, port and host with its udp twin and a prefix with port 80.
        await manager.RemoveDockerMapAsync(Maps[0], Ct);
        await manager.RemoveDnatAsync(Dnats[0], Ct);
        await manager.RemoveSnatAsync(Snats[1], Ct);
        await manager.RemoveHairpinAsync(Hairpins[0], Ct);

        var v4 = await ns.SaveAsync();
        var v6 = await ns.SaveAsync(ipv6: true);

        // Exactly: the whole ruleset of both families equals that of a reference namespace where everything but the
        // removed objects was installed, in the same order.
        await using (var reference = await TestNamespace.CreateAsync(backend))
        {
            var other = reference.Manager();
            await other.SetupAsync(Ct);
            foreach (var map in Maps.Skip(1))
            {
                await other.InstallDockerMapAsync(map, Ct);
            }

            foreach (var dnat in Dnats.Skip(1))
            {
                await other.InstallDnatAsync(dnat, Ct);
            }

            foreach (var snat in Snats.Where(s => s != Snats[1]))
            {
                await other.InstallSnatAsync(snat, Ct);
            }

            foreach (var hairpin in Hairpins.Skip(1))
            {
                await other.InstallHairpinAsync(hairpin, Ct);
            }

            // The dispatch jumps of a chain stand in port order whichever mapping needed them first, so the order is
            // exact too.
            v4.Should().Be(await reference.SaveAsync());
            v6.Should().Be(await reference.SaveAsync(ipv6: true));
        }

        v4.Should().Contain("natmap:docker:web:udp:0.0.0.0:8080:", "the siblings are still there (the reference would lack them too if the installs had failed)");

        // Removing again finds nothing and is not an error.
        await manager.RemoveDockerMapAsync(Maps[0], Ct);
        (await ns.SaveAsync()).Should().Be(v4);
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task FlushAll_AfterSetupAndInstalls_RestoresTheRulesetOfBothFamilies(string backend)
    {
        await using var ns = await TestNamespace.CreateAsync(backend);
        await ForeignRules.AddAsync(args => ns.ExecAsync(args[0], args[1..]), backend);
        var before = (V4: await ns.SaveAsync(), V6: await ns.SaveAsync(ipv6: true));
        var manager = ns.Manager();

        await manager.SetupAsync(Ct);
        await InstallEverythingAsync(manager);
        (await ns.SaveAsync()).Should().NotBe(before.V4);
        await manager.FlushAllAsync(Ct);

        (await ns.SaveAsync()).Should().Be(before.V4);
        (await ns.SaveAsync(ipv6: true)).Should().Be(before.V6);

        await manager.FlushAllAsync(Ct);
        (await ns.SaveAsync()).Should().Be(before.V4, "a second FlushAll finds nothing and is not an error");
    }

    [Theory]
    [MemberData(nameof(BackendsAndTransports))]
    public async Task FailingInstall_LeavesNothingBehind(string backend, RuleApplyMode transport)
    {
        await using var ns = await TestNamespace.CreateAsync(backend);
        string? broken = null;
        BreakBeforeFirstWrite? breaker = null;
        var manager = ns.Manager(inner => breaker = new BreakBeforeFirstWrite(inner, async () =>
        {
            await ns.ExecAsync(ns.Iptables, "-t", "filter", "-D", "DOCKER-USER", "-m", "comment", "--comment", "natmap:setup", "-j", "NATMAP");
            await ns.ExecAsync(ns.Iptables, "-t", "filter", "-F", "NATMAP");
            await ns.ExecAsync(ns.Iptables, "-t", "filter", "-X", "NATMAP");
            broken = await ns.SaveAsync();
        }), o => o.ApplyMode = transport);
        await manager.SetupAsync(Ct);

        // Break the host behind the library's back after the install has read the tables (where it checks that the
        // library's chains are there) and before it writes, as another tool could: without filter NATMAP, the jump to
        // the mapping's filter port group fails after its nat chains and rules went in (per rule), or after the nat table
        // committed (a batch commits per table).
        breaker!.Arm();
        var act = () => manager.InstallDockerMapAsync(Maps[0], Ct);

        var error = (await act.Should().ThrowAsync<IptablesCommandException>()).Which;
        if (transport == RuleApplyMode.PerRule)
        {
            error.Command.Arguments.Should().ContainInConsecutiveOrder("-t", "filter", "-A", "NATMAP");
        }
        else
        {
            error.Command.Arguments.Should().Contain("--noflush");
            // The filter table's first line that needs NATMAP: the jump from it to the group of the mapping's host port, 8080.
            error.FailedInputLine.Should().StartWith("-A NATMAP -p tcp ").And.EndWith("-j NATMAP-T3");
        }

        error.ExitCode.Should().NotBe(0);
        broken.Should().NotBeNull("the host was broken just before the first write");
        (await ns.SaveAsync()).Should().Be(broken, "the DNAT that went in first was taken out again");
    }

    /// <summary>Once armed, runs a hook just before the first command that writes (a restore, or an -N/-A/-I), then passes everything on.</summary>
    private sealed class BreakBeforeFirstWrite(ICommandRunner inner, Func<Task> hook) : ICommandRunner
    {
        private int _armed;

        public void Arm() => Volatile.Write(ref _armed, 1);

        public async Task<CommandResult> RunAsync(CommandSpec command, CancellationToken cancellationToken = default)
        {
            var writes = command.StandardInput is not null || command.Arguments.Contains("-N") || command.Arguments.Contains("-A") || command.Arguments.Contains("-I");
            if (writes && Interlocked.CompareExchange(ref _armed, 0, 1) == 1)
            {
                await hook();
            }

            return await inner.RunAsync(command, cancellationToken);
        }
    }
}
