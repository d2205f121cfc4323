using System.Net;
using System.Net.Sockets;
using FsCheck;
using FsCheck.Fluent;
using NatMap.Iptables.Rules;
using NatMap.Iptables.Testing;

namespace NatMap.Iptables.Tests.Reliability;

/// <summary>
/// Hostile input, property-based: 3,000 cases a property over every string field (container id, interface, comment
/// prefix, chain name, network namespace, program paths), every number (ports, port ranges, prefix lengths) and the
/// hairpin configuration, with quotes, line breaks, NUL, <c>\r</c>, leading <c>-</c>, <c>!</c>, <c>#</c>, spaces, unicode,
/// strings at and past the length limits (255 and 256 characters) and IPv4-mapped IPv6 addresses.
/// Each case either throws an <see cref="ArgumentException"/> naming the field before any command runs, or installs
/// exactly the rules the builder gives: no extra rule, no restore line the model did not intend, and no program but
/// iptables-restore, ip and sysctl (never a shell).
/// </summary>
public sealed class HostileInputTests
{
    private const int CasesPerProperty = 3_000;

    private static readonly string[] Fragments =
    [
        "web", "a", "-", "--", "-j", "ACCEPT", "!", "#", " ", "\t", "\"", "'", "\\", "\n", "\r", "\0", "\u0085", "\u2028",
        "é", "容器", "🐳", ":", ",", "/", "*nat", "COMMIT", "-A NATMAP -j ACCEPT", "$(reboot)", "`id`", ";", "|", "&",
        new string('x', 300), new string('n', 255), new string('n', 256), "natmap", "NATMAP", "eth0", "wan+", "0", "9", ".", "..",
        "/usr/sbin/iptables", "./iptables", "ip tables", "iptables;reboot",

        // Exactly at each length limit and one past it (a 255-character comment is the longest iptables keeps whole).
        .. new[] { NatMapLimits.MaxInterfaceNameLength, NatMapLimits.MaxChainNameLength, NatMapLimits.MaxChainNameOptionLength, NatMapLimits.MaxCommentPrefixLength, NatMapLimits.MaxContainerIdLength, NatMapLimits.MaxCommentLength }
            .SelectMany(n => new[] { new string('x', n), new string('x', n + 1) }),
    ];

    private static readonly string[] Addresses =
    [
        "0.0.0.0", "127.0.0.1", "10.0.0.5", "172.17.0.2", "255.255.255.255", "::", "::1", "fd00::2", "2001:db8::5",
        "::ffff:10.0.0.5", "::ffff:127.0.0.1", "fe80::1",
    ];

    private static readonly string[] AllowedPrograms = ["iptables-restore", "ip6tables-restore", "iptables-save", "ip6tables-save", "ip", "sysctl", "conntrack"];

    /// <summary>Benign values of every string field, so that many cases pass validation and reach the install.</summary>
    private static readonly string[] Benign = ["web", "db1", "a-b_c.d", "eth0", "wan+", "br-1a2b", "NATMAP", "MY_CHAIN", "natmap", "acme.io"];

    private static Gen<string> HostileString() =>
        Gen.Frequency(
            (2, Gen.Elements(Benign)),
            (1, Gen.Elements(Fragments)),
            (2, Gen.Choose(1, 5).SelectMany(n => Gen.Elements(Fragments).ArrayOf(n)).Select(parts => string.Concat(parts))));

    private static Gen<int> HostileNumber() =>
        Gen.Frequency(
            (3, Gen.Choose(1, 65_535)),
            (1, Gen.Choose(-2, 70_000)),
            (1, Gen.Elements(0, 1, 65_535, 65_536, int.MinValue, int.MaxValue, -1)));

    /// <summary>
    /// A network with the address's bits past the prefix cleared first: .NET 8's <see cref="IPNetwork"/> refuses such
    /// bits and .NET 10's clears them, so without this the two runtimes would draw different cases.
    /// </summary>
    private static IPNetwork Network(IPAddress address, int prefix)
    {
        var bytes = address.GetAddressBytes();
        for (var bit = Math.Max(prefix, 0); bit < bytes.Length * 8; bit++)
        {
            bytes[bit / 8] &= (byte)~(0x80 >> (bit % 8));
        }

        return new IPNetwork(new IPAddress(bytes), prefix);
    }

    private static Gen<IPAddress> Address() => Gen.Elements(Addresses).Select(IPAddress.Parse);

    /// <summary>Mostly two addresses of one family (the valid case), sometimes of two.</summary>
    private static Gen<(IPAddress First, IPAddress Second)> AddressPair() =>
        Gen.Frequency(
            (3, from first in Address()
                from second in Address().Where(a => a.AddressFamily == first.AddressFamily)
                select (first, second)),
            (1, from first in Address() from second in Address() select (first, second)));

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    // Outcomes of the running property (xunit runs a class's tests one at a time), so a property that refused or
    // accepted everything would be noticed.
    private static int _installed;
    private static int _refused;

    private static void ResetOutcomes() => (_installed, _refused) = (0, 0);

    private static void ShouldHaveSeenBothOutcomes()
    {
        _installed.Should().BeGreaterThan(CasesPerProperty / 50, "some cases must be accepted and installed");
        _refused.Should().BeGreaterThan(CasesPerProperty / 50, "some cases must be refused");
        (_installed + _refused).Should().BeGreaterThanOrEqualTo(CasesPerProperty);
    }

    /// <summary>
    /// Runs an install on a recording fake and checks it: only allowed programs, and the rule lines of every restore
    /// equal, in number and text, the rules the builder makes for the object, and the port dispatch those rules need:
    /// on the fake, which lists nothing, every group and bucket chain of the rules is made (<c>-N</c>) once, with its
    /// jump (<see cref="NatRuleBuilder.BuildDispatchJumps"/>) once.
    /// </summary>
    private static bool InstallsExactly(IReadOnlyList<IptablesRule> expected, Func<IptablesManager, Task> install, NatMapOptions options)
    {
        var builder = new NatRuleBuilder(options.ChainName, options.CommentPrefix);
        var jumps = expected.SelectMany(builder.BuildDispatchJumps).DistinctBy(j => (j.Family, j.Table, j.Chain, string.Join(' ', j.Specification))).ToList();
        var tables = expected.Select(r => (r.Family, r.Table)).Distinct().Count();
        var fake = new FakeCommandRunner();
        install(new IptablesManager(fake, options)).GetAwaiter().GetResult();
        fake.Processes.Select(p => p.FileName).Should().OnlyContain(p => AllowedPrograms.Contains(p));
        var restores = fake.Processes.Where(p => p.StandardInput is not null).ToList();
        var lines = restores.SelectMany(r => r.StandardInput!.Split('\n')).Where(l => l.Length > 0).ToList();
        lines.Where(l => l[0] == '*' || l == "COMMIT").Should().HaveCount(2 * tables);
        var ruleLines = fake.Commands.Where(c => c.Arguments.Contains("-A") || c.Arguments.Contains("-I")).ToList();
        ruleLines.Should().HaveCount(expected.Count + jumps.Count);
        foreach (var rule in expected.Concat(jumps))
        {
            ruleLines.Should().ContainSingle(c => c.Arguments.Skip(2).SequenceEqual(rule.ToArguments(RuleAction.Add)), $"rule {rule}");
        }

        var newChains = fake.Commands.Where(c => c.Arguments.Contains("-N")).ToList();
        newChains.Should().HaveCount(jumps.Count);
        foreach (var jump in jumps)
        {
            var chain = jump.Specification[^1];
            builder.IsOwnChain(chain).Should().BeTrue();
            var program = jump.Family == AddressFamily.InterNetworkV6 ? "ip6tables" : "iptables";
            newChains.Should().ContainSingle(c => c.FileName == program && c.Arguments.Skip(2).SequenceEqual(new[] { "-t", jump.Table, "-N", chain }), $"chain {chain}");
        }

        lines.Count.Should().Be(expected.Count + (2 * jumps.Count) + (2 * tables), "no line but the intended rules, their dispatch chains and jumps, and their table markers");
        _installed++;
        return true;
    }

    /// <summary>The documented refusal: an ArgumentException naming one of the model's fields, and no command run.</summary>
    private static bool RefusedCleanly(Exception exception, FakeCommandRunner? fake, params string[] fields)
    {
        exception.Should().BeAssignableTo<ArgumentException>();
        ((ArgumentException)exception).ParamName.Should().BeOneOf(fields);
        fake?.Processes.Should().BeEmpty();
        _refused++;
        return true;
    }

#pragma warning disable xUnit1031 // FsCheck properties are synchronous; the fakes complete at once.
    [Fact]
    public void DockerMap_HostileIdsPortsAndAddresses_RefusedOrInstalledExactly()
    {
        ResetOutcomes();
        var cases = from id in HostileString()
                    from hostPort in HostileNumber()
                    from containerPort in HostileNumber()
                    from pair in AddressPair()
                    select (id, hostPort, containerPort, hostAddress: pair.First, containerAddress: pair.Second);
        Prop.ForAll(cases.ToArbitrary(), input =>
        {
            var (id, hostPort, containerPort, hostAddress, containerAddress) = input;
            DockerPortMap map;
            try
            {
                map = new DockerPortMap(id, new IPEndPoint(hostAddress, Math.Clamp(hostPort, 0, 65535)), new IPEndPoint(containerAddress, Math.Clamp(containerPort, 0, 65535)));
            }
            catch (Exception exception)
            {
                return RefusedCleanly(exception, null, "ContainerId", "HostEndpoint", "ContainerEndpoint");
            }

            var options = new NatMapOptions();
            IReadOnlyList<IptablesRule> rules;
            try
            {
                rules = new NatRuleBuilder(options.ChainName, options.CommentPrefix).BuildDockerMap(map);
            }
            catch (Exception exception)
            {
                var fake = new FakeCommandRunner();
                var install = () => new IptablesManager(fake, options).InstallDockerMapAsync(map, Ct).GetAwaiter().GetResult();
                install.Should().Throw<ArgumentException>().Which.ParamName.Should().Be(((ArgumentException)exception).ParamName);
                return RefusedCleanly(exception, fake, "ContainerId", "HostEndpoint", "ContainerEndpoint");
            }

            rules.Should().HaveCount(3);
            return InstallsExactly(rules, m => m.InstallDockerMapAsync(map, Ct), options);
        }).Check(Config.QuickThrowOnFailure.WithMaxTest(CasesPerProperty));
        ShouldHaveSeenBothOutcomes();
    }

    [Fact]
    public void Dnat_HostileInterfacesAndPortRanges_RefusedOrInstalledExactly()
    {
        ResetOutcomes();
        var cases = from nic in Gen.OneOf(HostileString(), Gen.Constant<string>(null!))
                    from first in HostileNumber()
                    from last in HostileNumber()
                    from pair in AddressPair()
                    select (nic, first, last, external: pair.First, inside: pair.Second);
        Prop.ForAll(cases.ToArbitrary(), input =>
        {
            var (nic, first, last, external, inside) = input;
            DnatConfig config;
            try
            {
                config = new DnatConfig(external, inside, new PortSet(first, last), TransportProtocol.Udp, nic);
            }
            catch (Exception exception)
            {
                return RefusedCleanly(exception, null, "ExternalIp", "InternalIp", "Ports", "ExternalInterface", "first", "last", "port");
            }

            var fake = new FakeCommandRunner();
            IReadOnlyList<IptablesRule> rules;
            try
            {
                rules = NatRuleBuilder.Default.BuildDnat(config);
            }
            catch (Exception exception)
            {
                var install = () => new IptablesManager(fake).InstallDnatAsync(config, Ct).GetAwaiter().GetResult();
                install.Should().Throw<ArgumentException>();
                return RefusedCleanly(exception, fake, "ExternalIp", "InternalIp", "Ports", "ExternalInterface", "config");
            }

            return InstallsExactly(rules, m => m.InstallDnatAsync(config, Ct), new NatMapOptions());
        }).Check(Config.QuickThrowOnFailure.WithMaxTest(CasesPerProperty));
        ShouldHaveSeenBothOutcomes();
    }

    [Fact]
    public void Options_HostileChainNamesAndCommentPrefixes_RefusedOrInstalledExactly()
    {
        ResetOutcomes();
        var cases = from chain in HostileString()
                    from prefix in HostileString()
                    from outInterface in HostileString()
                    from internalIp in Address()
                    select (chain, prefix, outInterface, internalIp);
        Prop.ForAll(cases.ToArbitrary(), input =>
        {
            var (chain, prefix, outInterface, internalIp) = input;
            var options = new NatMapOptions { ChainName = chain, CommentPrefix = prefix };
            var fake = new FakeCommandRunner();
            IptablesManager manager;
            try
            {
                manager = new IptablesManager(fake, options);
            }
            catch (Exception exception)
            {
                return RefusedCleanly(exception, fake, "ChainName", "CommentPrefix", "options");
            }

            SnatConfig snat;
            try
            {
                snat = new SnatConfig(internalIp, internalIp.AddressFamily == AddressFamily.InterNetwork ? IPAddress.Parse("203.0.113.5") : IPAddress.Parse("2001:db8::5"), outInterface);
                _ = manager.RuleBuilder.BuildSnat(snat);
            }
            catch (Exception exception)
            {
                return RefusedCleanly(exception, fake, "InternalIp", "ExternalIp", "ExternalInterface", "config");
            }

            return InstallsExactly(manager.RuleBuilder.BuildSnat(snat), m => m.InstallSnatAsync(snat, Ct), options);
        }).Check(Config.QuickThrowOnFailure.WithMaxTest(CasesPerProperty));
        ShouldHaveSeenBothOutcomes();
    }

    [Fact]
    public void DockerMap_HostilePrefixLengths_RefusedOrCoveringTheNetwork()
    {
        ResetOutcomes();
        var cases = from prefix in Gen.Frequency((1, HostileNumber()), (2, Gen.Choose(0, 33)))
                    from baseText in Gen.Elements("172.17.0.0", "172.16.0.0", "10.0.0.0", "0.0.0.0", "fd00::", "::ffff:172.17.0.0")
                    select (prefix, baseText);
        Prop.ForAll(cases.ToArbitrary(), input =>
        {
            var (prefix, baseText) = input;
            var map = new DockerPortMap("web", IPEndPoint.Parse("0.0.0.0:8080"), IPEndPoint.Parse("172.17.0.2:80"));
            IPNetwork network;
            try
            {
                network = Network(IPAddress.Parse(baseText), prefix);
            }
            catch (ArgumentException)
            {
                _refused++;
                return true; // the BCL refuses it before it reaches the library
            }

            try
            {
                var rules = NatRuleBuilder.Default.BuildDockerMap(map, network);
                network.Contains(map.ContainerEndpoint.Address).Should().BeTrue();
                rules.Should().HaveCount(3);
                rules[2].Specification.Should().StartWith(["-s", network.PrefixLength == 32 ? "172.17.0.2/32" : network.ToString()]);
                _installed++;
                return true;
            }
            catch (Exception exception)
            {
                // Refused when it does not hold the container, or holds every address (/0 lists without -s, review item 6).
                (network.Contains(map.ContainerEndpoint.Address) && network.PrefixLength > 0).Should().BeFalse();
                return RefusedCleanly(exception, null, "containerNetwork");
            }
        }).Check(Config.QuickThrowOnFailure.WithMaxTest(CasesPerProperty));
        ShouldHaveSeenBothOutcomes();
    }

    [Fact]
    public void Hairpin_HostilePortsNetworksAndAddresses_RefusedOrInstalledExactly()
    {
        ResetOutcomes();
        var cases = from first in HostileNumber()
                    from last in Gen.Frequency((2, Gen.Constant(first)), (1, HostileNumber()))
                    from pair in AddressPair()
                    from lanBase in Gen.Frequency(
                        (3, Gen.Elements("0.0.0.0", "::")),
                        (1, Gen.Elements("192.168.1.0", "10.0.0.5", "fd00::", "::ffff:10.0.0.0", "224.0.0.0")))
                    from lanPrefix in Gen.Frequency((1, HostileNumber()), (3, Gen.Choose(0, 33)), (2, Gen.Choose(0, 129)))
                    from hasLan in Gen.Elements(true, true, false)
                    from protocol in Gen.Elements(TransportProtocol.Tcp, TransportProtocol.Udp, (TransportProtocol)9)
                    select (first, last, external: pair.First, inside: pair.Second, lanBase, lanPrefix, hasLan, protocol);
        Prop.ForAll(cases.ToArbitrary(), input =>
        {
            HairpinConfig config;
            try
            {
                IPNetwork? lan = input.hasLan ? new IPNetwork(IPAddress.Parse(input.lanBase), input.lanPrefix) : null;
                config = new HairpinConfig(input.external, input.inside, new PortSet(input.first, input.last), input.protocol, lan);
            }
            catch (Exception exception)
            {
                // The BCL refuses a network whose prefix does not fit or whose host bits are set (parameter prefixLength or baseAddress).
                return RefusedCleanly(exception, null, "ExternalIp", "InternalIp", "Ports", "Protocol", "LanCidr", "first", "last", "port", "prefixLength", "baseAddress");
            }

            config.LanCidr.Should().Match<IPNetwork?>(l => l == null || l.Value.PrefixLength > 0, "a /0 LAN lists without -s and never reads back (review item 6)");
            var fake = new FakeCommandRunner();
            IReadOnlyList<IptablesRule> rules;
            try
            {
                rules = NatRuleBuilder.Default.BuildHairpin(config);
            }
            catch (Exception exception)
            {
                var install = () => new IptablesManager(fake).InstallHairpinAsync(config, Ct).GetAwaiter().GetResult();
                install.Should().Throw<ArgumentException>();
                return RefusedCleanly(exception, fake, "ExternalIp", "InternalIp", "Ports", "LanCidr", "config");
            }

            rules.Should().HaveCount(2);
            return InstallsExactly(rules, m => m.InstallHairpinAsync(config, Ct), new NatMapOptions());
        }).Check(Config.QuickThrowOnFailure.WithMaxTest(CasesPerProperty));
        ShouldHaveSeenBothOutcomes();
    }

    [Fact]
    public void Options_HostileNamespacesAndProgramPaths_RefusedOrRunVerbatimWithoutAShell()
    {
        ResetOutcomes();
        var cases = from ns in Gen.Frequency((2, Gen.Constant<string?>(null)), (3, HostileString().Select(s => (string?)s)))
                    from iptables in Gen.Frequency((2, Gen.Constant("iptables")), (1, HostileString()))
                    from ip in Gen.Frequency((2, Gen.Constant("ip")), (1, HostileString()))
                    from sysctl in Gen.Frequency((2, Gen.Constant("sysctl")), (1, HostileString()))
                    select (ns, iptables, ip, sysctl);
        Prop.ForAll(cases.ToArbitrary(), input =>
        {
            var options = new NatMapOptions { NetworkNamespace = input.ns, IptablesPath = input.iptables, IpPath = input.ip, SysctlPath = input.sysctl, EnableIpv6 = false };
            var fake = new FakeCommandRunner();
            IptablesManager manager;
            try
            {
                manager = new IptablesManager(fake, options);
            }
            catch (Exception exception)
            {
                return RefusedCleanly(exception, fake, "NetworkNamespace", "IptablesPath", "IpPath", "SysctlPath");
            }

            input.ns.Should().Match<string?>(n => n == null || (n.Length <= NatMapLimits.MaxNetworkNamespaceLength && n != "." && n != ".."), "iproute2 refuses longer names, '.' and '..'");
            manager.SetupAsync(Ct).GetAwaiter().GetResult();
            manager.InstallSnatAsync(new SnatConfig(IPAddress.Parse("10.0.0.2"), IPAddress.Parse("203.0.113.5"), "eth0"), Ct).GetAwaiter().GetResult();
            fake.Processes.Should().NotBeEmpty();
            foreach (var process in fake.Processes)
            {
                // Each program path is argv[0] as given (never a shell, never split), behind "ip netns exec NAME" when set.
                var argv = input.ns is null ? [process.FileName, .. process.Arguments] : process.Arguments.Skip(3).ToArray();
                if (input.ns is not null)
                {
                    process.FileName.Should().Be(input.ip);
                    process.Arguments.Take(3).Should().Equal("netns", "exec", input.ns);
                }

                argv[0].Should().BeOneOf(input.iptables, input.iptables + "-save", input.iptables + "-restore", input.sysctl);
            }

            _installed++;
            return true;
        }).Check(Config.QuickThrowOnFailure.WithMaxTest(CasesPerProperty));
        ShouldHaveSeenBothOutcomes();
    }

    /// <summary>Comments exactly at the limit are installed; one character more is refused, naming the field that made it long.</summary>
    [Fact]
    public void Comments_AtTheLimitInstalled_OneMoreRefusedNamingTheField()
    {
        ResetOutcomes();
        var cases = from prefixLength in Gen.Choose(1, NatMapLimits.MaxCommentPrefixLength)
                    from pair in Gen.Elements(
                        ("0.0.0.0", "172.17.0.2"), ("127.0.0.1", "10.0.0.5"), ("203.0.113.255", "172.17.255.254"), ("::", "fd00::2"),
                        ("2001:db8::5", "fd00::2"), ("2001:db8:ffff:ffff:ffff:ffff:ffff:fffe", "fd00:ffff:ffff:ffff:ffff:ffff:ffff:ffff"))
                        .Select(p => (First: IPAddress.Parse(p.Item1), Second: IPAddress.Parse(p.Item2)))
                    from extra in Gen.Elements(0, 1)
                    select (prefixLength, pair, extra);
        Prop.ForAll(cases.ToArbitrary(), input =>
        {
            var options = new NatMapOptions { CommentPrefix = new string('p', input.prefixLength), EnableIpv6 = true };
            var builder = new NatRuleBuilder(options.ChainName, options.CommentPrefix);
            var host = new IPEndPoint(input.pair.First, 65_535);
            var container = new IPEndPoint(input.pair.Second, 65_535);
            var shortest = builder.DockerMapComment(new DockerPortMap("x", host, container)).Length - 1;
            var idLength = NatMapLimits.MaxCommentLength - shortest + input.extra;
            if (idLength is < 1 or > NatMapLimits.MaxContainerIdLength)
            {
                _refused++;
                return true; // the id cannot bring this comment to the limit
            }

            var map = new DockerPortMap(new string('i', idLength), host, container);
            if (input.extra == 0)
            {
                builder.DockerMapComment(map).Length.Should().Be(NatMapLimits.MaxCommentLength);
                return InstallsExactly(builder.BuildDockerMap(map), m => m.InstallDockerMapAsync(map, Ct), options);
            }

            var fake = new FakeCommandRunner();
            var install = () => new IptablesManager(fake, options).InstallDockerMapAsync(map, Ct).GetAwaiter().GetResult();
            return RefusedCleanly(install.Should().Throw<ArgumentException>().Which, fake, "ContainerId");
        }).Check(Config.QuickThrowOnFailure.WithMaxTest(CasesPerProperty));
        ShouldHaveSeenBothOutcomes();
    }
#pragma warning restore xUnit1031
}
