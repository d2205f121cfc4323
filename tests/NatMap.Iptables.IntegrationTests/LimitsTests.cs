using NatMap.Iptables.IntegrationTests.Infrastructure;

namespace NatMap.Iptables.IntegrationTests;

/// <summary>Checks each limit in <see cref="NatMapLimits"/> against the real iptables, once per backend.</summary>
public sealed class LimitsTests
{
    public static TheoryData<string> Backends => Kernel.Backends;

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task ChainName_LimitAcceptedOneMoreRejected(string backend)
    {
        await using var ns = await TestNamespace.CreateAsync(backend);

        (await ns.RunAsync(ns.Iptables, "-t", "nat", "-N", new string('C', NatMapLimits.MaxChainNameLength))).ExitCode.Should().Be(0);
        (await ns.RunAsync(ns.Iptables, "-t", "nat", "-N", new string('C', NatMapLimits.MaxChainNameLength + 1))).ExitCode.Should().NotBe(0);
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task InterfaceName_LimitAcceptedOneMoreRejected(string backend)
    {
        await using var ns = await TestNamespace.CreateAsync(backend);

        (await ns.RunAsync(ns.Iptables, "-t", "nat", "-A", "POSTROUTING", "-o", new string('i', NatMapLimits.MaxInterfaceNameLength), "-j", "MASQUERADE")).ExitCode.Should().Be(0);
        (await ns.RunAsync(ns.Iptables, "-t", "nat", "-A", "POSTROUTING", "-o", new string('i', NatMapLimits.MaxInterfaceNameLength + 1), "-j", "MASQUERADE")).ExitCode.Should().NotBe(0);
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task Multiport_FifteenSlotsAcceptedSixteenRejected_RangeCountsTwo(string backend)
    {
        await using var ns = await TestNamespace.CreateAsync(backend);
        Task<CommandResult> Add(string ports) => ns.RunAsync(ns.Iptables, "-t", "filter", "-A", "FORWARD", "-p", "tcp", "-m", "multiport", "--dports", ports, "-j", "ACCEPT");

        (await Add(PortSet.Parse("1-2,3,4,5,6,7,8,9,10,11,12,13,14,15").ToString())).ExitCode.Should().Be(0, "15 slots");
        (await Add("1:2,3,4,5,6,7,8,9,10,11,12,13,14,15,16")).ExitCode.Should().NotBe(0, "16 slots");
        PortSet.TryParse("1-2,3,4,5,6,7,8,9,10,11,12,13,14,15,16", out _).Should().BeFalse("the library rejects what iptables rejects");
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task Comment_LongerThanLimit_IsSilentlyTruncatedByIptables(string backend)
    {
        await using var ns = await TestNamespace.CreateAsync(backend);
        var comment = new string('k', NatMapLimits.MaxCommentLength + 20);

        var result = await ns.RunAsync(ns.Iptables, "-t", "filter", "-A", "FORWARD", "-m", "comment", "--comment", comment, "-j", "ACCEPT");

        result.ExitCode.Should().Be(0, "iptables accepts the long comment");
        (await ns.RulesAsync("filter", "FORWARD")).Should().ContainSingle()
            .Which.Should().Contain(new string('k', NatMapLimits.MaxCommentLength)).And.NotContain(new string('k', NatMapLimits.MaxCommentLength + 1));
    }

    [Fact]
    public async Task NetworkNamespaceName_LimitAcceptedOneMoreAndDotsRejectedByIproute2()
    {
        Kernel.RequireRoot();
        var runner = new CliWrapCommandRunner(TimeSpan.FromSeconds(30));
        var ct = TestContext.Current.CancellationToken;
        var name = $"nmlim{Guid.NewGuid():N}".PadRight(NatMapLimits.MaxNetworkNamespaceLength, 'n');
        try
        {
            (await runner.RunAsync(new CommandSpec("ip", ["netns", "add", name]), ct)).ExitCode.Should().Be(0, "255 characters");
            (await runner.RunAsync(new CommandSpec("ip", ["netns", "exec", name, "true"]), ct)).ExitCode.Should().Be(0);
        }
        finally
        {
            await runner.RunAsync(new CommandSpec("ip", ["netns", "delete", name]), CancellationToken.None);
        }

        foreach (var refused in new[] { name + "n", ".", ".." })
        {
            (await runner.RunAsync(new CommandSpec("ip", ["netns", "exec", refused, "true"]), ct)).StandardError.Should().Contain("Invalid netns name");
            FluentActions.Invoking(() => new IptablesManager(runner, new NatMapOptions { NetworkNamespace = refused }))
                .Should().Throw<ArgumentException>().Which.ParamName.Should().Be("NetworkNamespace", "the library refuses what iproute2 refuses");
        }

        _ = new IptablesManager(runner, new NatMapOptions { NetworkNamespace = name });
    }
}
