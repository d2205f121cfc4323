using System.Net;
using NatMap.Iptables.Testing;
using static NatMap.Iptables.Tests.TestData;

namespace NatMap.Iptables.Tests.Planning;

/// <summary>
/// The port dispatch of the iptables backend end to end, on the emulator: the group and bucket chains and their jumps
/// that installs make, removals delete, Sync repairs and FlushAll clears, and the chains of others it leaves alone.
/// </summary>
public sealed class BucketPlannerTests
{
    private const string Bucket = "natmap:setup:bucket";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static TheoryData<RuleApplyMode> Transports => new() { RuleApplyMode.Batch, RuleApplyMode.PerRule };

    /// <summary>Two mappings whose rules share buckets: host ports 8080 and 8081 (tcp 8064-8127), by which all three rules of each go.</summary>
    private static readonly DockerPortMap Web = Map();

    private static readonly DockerPortMap Api = Map("0.0.0.0:8081", "172.17.0.3:81", id: "api");

    /// <summary>Mappings across groups, buckets and protocols, the edges of each included.</summary>
    private static readonly DockerPortMap[] Spread =
    [
        Map("0.0.0.0:1", "172.17.0.2:65535", id: "a"),
        Map("0.0.0.0:63", "172.17.0.3:64", id: "b"),
        Map("0.0.0.0:64", "172.17.0.4:63", TransportProtocol.Udp, id: "c"),
        Map("0.0.0.0:2047", "172.17.0.5:2048", id: "d"),
        Map("0.0.0.0:2048", "172.17.0.6:2047", TransportProtocol.Udp, id: "e"),
        Map("0.0.0.0:65535", "172.17.0.7:1", id: "f"),
        Map("127.0.0.1:5432", "172.17.0.8:5432", id: "g"),
        Map("0.0.0.0:8080", "172.17.0.9:80", TransportProtocol.Udp, id: "h"),
        Map("0.0.0.0:8080", "172.17.0.9:80", id: "h"),
        Map("0.0.0.0:8090", "172.17.0.10:90", id: "i"),
    ];

    private static async Task<(FakeIptables Fake, IptablesManager Manager, string AfterSetup)> SetUpAsync(RuleApplyMode transport)
    {
        var fake = new FakeIptables();
        var manager = new IptablesManager(fake, new NatMapOptions { EnableIpv6 = false, ApplyMode = transport });
        await manager.SetupAsync(Ct);
        return (fake, manager, fake.Save());
    }

    private static string[] Lines(string save) => save.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    private static int BucketJumps(string save) => Lines(save).Count(l => l.Contains(Bucket, StringComparison.Ordinal));

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task Install_OnASetUpHost_MakesGroupAndBucketChainsOnce_ASecondMappingInTheBucketsAddsOnlyItsRules(RuleApplyMode transport)
    {
        var (fake, manager, afterSetup) = await SetUpAsync(transport);

        await manager.InstallDockerMapAsync(Web, Ct);
        var afterWeb = fake.Save();

        BucketJumps(afterSetup).Should().Be(0);
        // (Except is a set difference: the nat and filter tables' chains NATMAP-T3 and NATMAP-T3-30 count once.)
        Lines(afterWeb).Except(Lines(afterSetup)).Should().BeEquivalentTo(
        [
            ":NATMAP-T3 -", ":NATMAP-T3-30 -", ":NATMAP-PT3 -", ":NATMAP-PT3-30 -",
            "-A NATMAP -p tcp -m tcp --dport 6144:8191 -m comment --comment \"natmap:setup:bucket\" -j NATMAP-T3",
            "-A NATMAP-T3 -p tcp -m tcp --dport 8064:8127 -m comment --comment \"natmap:setup:bucket\" -j NATMAP-T3-30",
            "-A NATMAP-P -p tcp -m conntrack --ctorigdstport 6144:8191 -m comment --comment \"natmap:setup:bucket\" -j NATMAP-PT3",
            "-A NATMAP-PT3 -p tcp -m conntrack --ctorigdstport 8064:8127 -m comment --comment \"natmap:setup:bucket\" -j NATMAP-PT3-30",
            "-A NATMAP -p tcp -m conntrack --ctorigdstport 6144:8191 -m comment --comment \"natmap:setup:bucket\" -j NATMAP-T3",
            "-A NATMAP-T3 -p tcp -m conntrack --ctorigdstport 8064:8127 -m comment --comment \"natmap:setup:bucket\" -j NATMAP-T3-30",
            .. Lines(afterWeb).Where(l => l.Contains("natmap:docker:web:", StringComparison.Ordinal)),
        ]);
        Lines(afterWeb).Count(l => l.Contains("natmap:docker:web:", StringComparison.Ordinal)).Should().Be(3);
        Lines(afterSetup).Except(Lines(afterWeb)).Should().BeEmpty();

        fake.Clear();
        await manager.InstallDockerMapAsync(Api, Ct);

        var added = Lines(fake.Save()).Except(Lines(afterWeb)).ToList();
        added.Should().HaveCount(3).And.OnlyContain(l => l.Contains("natmap:docker:api:", StringComparison.Ordinal), "the buckets stand: only the rules go in");
        Lines(afterWeb).Except(Lines(fake.Save())).Should().BeEmpty();
        fake.Processes.Should().NotContain(p => p.Arguments.Contains("-N") || (p.StandardInput != null && p.StandardInput.Contains("-N ", StringComparison.Ordinal)));

        fake.Clear();
        await manager.InstallDockerMapAsync(Api, Ct);

        fake.Processes.Should().NotContain(p => p.StandardInput != null || p.Arguments.Contains("-A") || p.Arguments.Contains("-I"), "an install of what stands only reads");
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task Remove_OneOfTwoMappingsInTheBuckets_KeepsThem_TheLastDeletesJumpsAndChains(RuleApplyMode transport)
    {
        var (fake, manager, afterSetup) = await SetUpAsync(transport);
        var (apiOnly, apiManager, _) = await SetUpAsync(transport);
        await apiManager.InstallDockerMapAsync(Api, Ct);
        await manager.InstallDockerMapAsync(Web, Ct);
        await manager.InstallDockerMapAsync(Api, Ct);

        await manager.RemoveDockerMapAsync(Web, Ct);

        fake.Save().Should().Be(apiOnly.Save(), "the buckets keep Api's rules, as if Web had never been installed");
        BucketJumps(fake.Save()).Should().Be(6);

        await manager.RemoveDockerMapAsync(Api, Ct);

        fake.Save().Should().Be(afterSetup);
        (await manager.ListAsync(Ct)).DockerMaps.Should().BeEmpty();
    }

    [Fact]
    public async Task Remove_TheLastMapping_DeletesEachJumpBeforeItsChainAndBucketsBeforeGroups_AndItsUndoPutsThemBackInOrder()
    {
        var (probe, probeManager, afterSetup) = await SetUpAsync(RuleApplyMode.PerRule);
        await probeManager.InstallDockerMapAsync(Web, Ct);
        var installed = probe.Save();
        probe.Clear();

        await probeManager.RemoveDockerMapAsync(Web, Ct);

        probe.Save().Should().Be(afterSetup);
        var writes = probe.Processes.Select(p => string.Join(' ', p.Arguments)).Where(a => !a.Contains(" -S", StringComparison.Ordinal)).ToList();
        int At(string table, string ending) => writes.FindIndex(w => w.Contains($"-t {table} ", StringComparison.Ordinal) && w.EndsWith(ending, StringComparison.Ordinal));
        foreach (var (table, group, bucket) in new[] { ("nat", "NATMAP-T3", "NATMAP-T3-30"), ("nat", "NATMAP-PT3", "NATMAP-PT3-30"), ("filter", "NATMAP-T3", "NATMAP-T3-30") })
        {
            At(table, $"-X {bucket}").Should().BeGreaterThan(At(table, $"-j {bucket}")).And.BeLessThan(At(table, $"-X {group}"), $"{bucket} goes after its jump, before its group");
            At(table, $"-X {group}").Should().BeGreaterThan(At(table, $"-j {group}"));
        }

        writes.Count(w => w.Contains(" -X ", StringComparison.Ordinal)).Should().Be(6);
        writes.Count(w => w.Contains(Bucket, StringComparison.Ordinal) && w.Contains(" -D ", StringComparison.Ordinal)).Should().Be(6);

        // The same removal on a host whose last chain delete fails: every jump and chain comes back where it was.
        var (fake, manager, _) = await SetUpAsync(RuleApplyMode.PerRule);
        await manager.InstallDockerMapAsync(Web, Ct);
        fake.Save().Should().Be(installed);
        var last = writes.Last(w => w.Contains(" -X ", StringComparison.Ordinal)).Split(' ');
        fake.Script.FailWhen(c => c.Arguments.Skip(2).SequenceEqual(last.Skip(2)), 1, "iptables: Resource busy.", times: 1);

        var remove = () => manager.RemoveDockerMapAsync(Web, Ct);

        await remove.Should().ThrowAsync<IptablesCommandException>();
        fake.Save().Should().Be(installed, "the undo remakes the chains and puts the jumps and rules back at their positions");
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task InstallAndRemoveMappingsAcrossBuckets_InAnyOrder_LeaveTheTablesAsSetupLeftThem(RuleApplyMode transport)
    {
        var (fake, manager, afterSetup) = await SetUpAsync(transport);
        var (reversed, reversedManager, _) = await SetUpAsync(transport);

        foreach (var map in Spread)
        {
            await manager.InstallDockerMapAsync(map, Ct);
        }

        foreach (var map in Enumerable.Reverse(Spread))
        {
            await reversedManager.InstallDockerMapAsync(map, Ct);
        }

        (await manager.ListAsync(Ct)).DockerMaps.Should().BeEquivalentTo(Spread);
        // Every chain's jumps stand in port order, whatever order the mappings came in; the rules within a bucket
        // follow their installs (they match different ports, so their order means nothing).
        Lines(reversed.Save()).Where(l => l.Contains(Bucket, StringComparison.Ordinal) || l[0] is ':' or '*').Should().Equal(
            Lines(fake.Save()).Where(l => l.Contains(Bucket, StringComparison.Ordinal) || l[0] is ':' or '*'));
        Lines(reversed.Save()).Should().BeEquivalentTo(Lines(fake.Save()));
        Lines(fake.Save()).Count(l => l.Contains("natmap:docker:", StringComparison.Ordinal)).Should().Be(3 * Spread.Length);

        // Remove every other one, then the rest: the tables go back to exactly what Setup left.
        foreach (var map in Spread.Where((_, i) => i % 2 == 0).Concat(Spread.Where((_, i) => i % 2 == 1)))
        {
            await manager.RemoveDockerMapAsync(map, Ct);
        }

        fake.Save().Should().Be(afterSetup);
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task Sync_DeletesAStaleBucketWithAForeignRule_AWrongJumpAndADuplicateJump_AndLeavesOtherRootsAlone(RuleApplyMode transport)
    {
        var (fake, manager, _) = await SetUpAsync(transport);
        var desired = new NatMapState { DockerMaps = [Web] };
        await manager.SyncAsync(desired, Ct);
        var synced = fake.Save();
        string[][] damage =
        [
            // A bucket no mapping needs, holding another tool's rule, and its group, with their jumps.
            ["-t", "nat", "-N", "NATMAP-U5"],
            ["-t", "nat", "-N", "NATMAP-U5-3"],
            ["-t", "nat", "-A", "NATMAP", "-p", "udp", "-m", "udp", "--dport", "10240:12287", "-m", "comment", "--comment", Bucket, "-j", "NATMAP-U5"],
            ["-t", "nat", "-A", "NATMAP-U5", "-p", "udp", "-m", "udp", "--dport", "10432:10495", "-m", "comment", "--comment", Bucket, "-j", "NATMAP-U5-3"],
            ["-t", "nat", "-A", "NATMAP-U5-3", "-j", "RETURN"],

            // A second copy of a needed jump, and a jump to a needed chain with the wrong ports.
            ["-t", "nat", "-A", "NATMAP", "-p", "tcp", "-m", "tcp", "--dport", "6144:8191", "-m", "comment", "--comment", Bucket, "-j", "NATMAP-T3"],
            ["-t", "filter", "-A", "NATMAP", "-p", "tcp", "-m", "conntrack", "--ctorigdstport", "1:100", "-m", "comment", "--comment", Bucket, "-j", "NATMAP-T3"],
        ];
        string[][] others =
        [
            // Chains named like buckets of other roots, and one that only starts like ours: never the library's.
            ["-t", "nat", "-N", "OTHER-T3"],
            ["-t", "nat", "-N", "NATMAP2-T3"],
            ["-t", "nat", "-A", "OTHER-T3", "-p", "tcp", "-m", "tcp", "--dport", "8080", "-j", "RETURN"],
            ["-t", "nat", "-A", "NATMAP2-T3", "-j", "RETURN"],
            ["-t", "nat", "-A", "PREROUTING", "-j", "OTHER-T3"],
            ["-t", "nat", "-A", "PREROUTING", "-j", "NATMAP2-T3"],
        ];
        foreach (var arguments in others)
        {
            (await fake.RunAsync(new CommandSpec("iptables", arguments), Ct)).IsSuccess.Should().BeTrue(string.Join(' ', arguments));
        }

        var withOthers = fake.Save();
        foreach (var arguments in damage)
        {
            (await fake.RunAsync(new CommandSpec("iptables", arguments), Ct)).IsSuccess.Should().BeTrue(string.Join(' ', arguments));
        }

        BucketJumps(fake.Save()).Should().Be(6 + 4);

        await manager.SyncAsync(desired, Ct);

        fake.Save().Should().Be(withOthers);
        Lines(withOthers).Except(Lines(synced)).Should().HaveCount(others.Length);

        await manager.FlushAllAsync(Ct);

        var flushed = Lines(fake.Save());
        flushed.Should().NotContain(l => l.Contains("natmap", StringComparison.Ordinal) || l.StartsWith(":NATMAP ", StringComparison.Ordinal) || l.StartsWith(":NATMAP-", StringComparison.Ordinal));
        flushed.Should().Contain([":OTHER-T3 -", ":NATMAP2-T3 -", "-A OTHER-T3 -p tcp -m tcp --dport 8080 -j RETURN", "-A PREROUTING -j OTHER-T3", "-A PREROUTING -j NATMAP2-T3"]);
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task FlushAll_DeletesEveryChainOfTheLibrary_RootsGroupsAndBuckets(RuleApplyMode transport)
    {
        var (fake, manager, _) = await SetUpAsync(transport);
        foreach (var map in Spread)
        {
            await manager.InstallDockerMapAsync(map, Ct);
        }

        Lines(fake.Save()).Count(l => l.StartsWith(":NATMAP", StringComparison.Ordinal)).Should().BeGreaterThan(20);

        await manager.FlushAllAsync(Ct);

        // The library made every chain it had, DOCKER-USER included: only the built-in chains are left, empty.
        var left = Lines(fake.Save());
        left.Where(l => l[0] == ':').Should().OnlyContain(l => l.EndsWith(" ACCEPT", StringComparison.Ordinal)).And.HaveCount(3 + 4 + 2, "filter, nat and raw's built-in chains");
        left.Should().NotContain(l => l.StartsWith("-A ", StringComparison.Ordinal));
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task Install_EmptyGroupChainsLeftByAFailedRollback_AreUsedNotDeleted(RuleApplyMode transport)
    {
        // A recovery that failed half-way can leave a group chain (here in both tables) with neither its jump nor its
        // bucket. The install needs it: deleting it as empty in the same plan would leave the new jumps to a chain gone.
        var (clean, cleanManager, _) = await SetUpAsync(transport);
        await cleanManager.InstallDockerMapAsync(Web, Ct);
        var (fake, manager, _) = await SetUpAsync(transport);
        foreach (var table in new[] { "nat", "filter" })
        {
            (await fake.RunAsync(new CommandSpec("iptables", ["-t", table, "-N", "NATMAP-T3"]), Ct)).IsSuccess.Should().BeTrue();
        }

        await manager.InstallDockerMapAsync(Web, Ct);

        fake.Save().Should().Be(clean.Save());
    }

    [Fact]
    public async Task Install_WithoutSetupsHairpinRoot_SaysSoAndChangesNothing()
    {
        // A host set up before the hairpin root existed has NATMAP in both tables, but no NATMAP-P.
        var fake = new FakeIptables();
        foreach (var arguments in new[] { new[] { "-t", "nat", "-N", "NATMAP" }, ["-t", "filter", "-N", "NATMAP"] })
        {
            (await fake.RunAsync(new CommandSpec("iptables", arguments), Ct)).IsSuccess.Should().BeTrue();
        }

        var before = fake.Save();
        var manager = new IptablesManager(fake, new NatMapOptions { EnableIpv6 = false });

        var act = () => manager.InstallDockerMapAsync(Web, Ct);

        (await act.Should().ThrowAsync<InvalidOperationException>()).Which.Message.Should().StartWith("InstallDockerMap needs the chain NATMAP-P in the nat table");
        fake.Save().Should().Be(before);

        await manager.SetupAsync(Ct);
        await manager.InstallDockerMapAsync(Web, Ct);
        (await manager.ListAsync(Ct)).DockerMaps.Should().Equal(Web);
    }

    [Theory]
    [InlineData(TransportProtocol.Udp, 2048, "172.17.0.6:2047")]
    [InlineData(TransportProtocol.Tcp, 65535, "172.17.0.7:1")]
    [InlineData(TransportProtocol.Tcp, 1, "172.17.0.2:65535")]
    [InlineData(TransportProtocol.Udp, 8080, "172.17.0.9:80")]
    [InlineData(TransportProtocol.Tcp, 8090, "172.17.0.10:90")]
    [InlineData(TransportProtocol.Tcp, 8091, "10.0.0.5:8091")] // in a bucket with mappings, but not mapped
    [InlineData(TransportProtocol.Udp, 1, "10.0.0.5:1")]       // tcp 1 is mapped, udp 1 is not
    public async Task Trace_ConnectionFromOutside_WalksTheDispatchToTheDnatOfItsPortOnly(TransportProtocol protocol, int port, string destination)
    {
        var fake = new FakeIptables().AddAddress("eth0", IPAddress.Parse("10.0.0.5"), 24).AddAddress("docker0", IPAddress.Parse("172.17.0.1"), 16);
        var manager = new IptablesManager(fake, new NatMapOptions { EnableIpv6 = false });
        await manager.SetupAsync(Ct);
        foreach (var map in Spread)
        {
            await manager.InstallDockerMapAsync(map, Ct);
        }

        var trace = fake.Trace(new SimulatedPacket(IPAddress.Parse("192.0.2.7"), IPAddress.Parse("10.0.0.5"), protocol, port) { InInterface = "eth0" });

        trace.FinalDestination.Should().Be(IPEndPoint.Parse(destination), string.Join(Environment.NewLine, trace.Steps));
    }
}
