using System.Diagnostics;
using System.Net;
using NatMap.Iptables.IntegrationTests.Infrastructure;
using NatMap.Iptables.Internal;

namespace NatMap.Iptables.IntegrationTests;

/// <summary>
/// Review items 3 and 11 on the real kernel: after any operation each owned object has exactly one copy of each of its
/// rules, also with two processes installing and removing the same objects at once; and an install before Setup says
/// so instead of failing in iptables.
/// </summary>
public sealed class OwnershipKernelTests
{
    private const int Objects = 4, Rounds = 6;

    public static TheoryData<string> Backends => Kernel.Backends;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static DockerPortMap Map(int i) =>
        new($"m{i}", new IPEndPoint(IPAddress.Any, 31_000 + i), new IPEndPoint(new IPAddress([172, 18, 0, (byte)(i + 2)]), 80));

    private static DnatConfig Dnat(int i) => new(IPAddress.Parse("203.0.113.5"), new IPAddress([10, 9, 0, (byte)(i + 2)]), 32_000 + i);

    /// <summary>A shell loop of the natmap tool in another process: every object installed and removed, in its own order.</summary>
    private static Process StartTool(TestNamespace ns, int seed)
    {
        var steps = new List<string>();
        var random = new Random(seed);
        for (var round = 0; round < Rounds; round++)
        {
            foreach (var i in Enumerable.Range(0, Objects).OrderBy(_ => random.Next()))
            {
                var verb = random.Next(2) == 0 ? "remove" : "add";
                steps.Add(i % 2 == 0
                    ? $"{verb} docker --container m{i} --host 0.0.0.0:{31_000 + i} --target 172.18.0.{i + 2}:80"
                    : $"{verb} dnat --external 203.0.113.5 --internal 10.9.0.{i + 2} --ports {32_000 + i}");
            }
        }

        var tool = NatmapTool.Path();
        var script = string.Join(" && ", steps.Select(s => $"{tool} {s} --apply --iptables {ns.Iptables} --ip6tables {ns.Ip6tables} --no-ipv6"));
        return Process.Start(new ProcessStartInfo("ip", ["netns", "exec", ns.Name, "sh", "-c", script]) { RedirectStandardError = true, RedirectStandardOutput = true })!;
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task TwoProcessesAndAThirdManager_InstallAndRemoveTheSameObjects_EachRuleOnceOrNotAtAll(string backend)
    {
        await using var ns = await TestNamespace.CreateAsync(backend);
        var manager = ns.Manager(o => o.EnableIpv6 = false);
        await manager.SetupAsync(Ct);

        using var first = StartTool(ns, seed: 1);
        using var second = StartTool(ns, seed: 2);
        var random = new Random(3);
        for (var round = 0; round < Rounds * 2; round++)
        {
            var i = random.Next(Objects);
            var install = random.Next(2) == 0;
            await (i % 2 == 0
                ? install ? manager.InstallDockerMapAsync(Map(i), Ct) : manager.RemoveDockerMapAsync(Map(i), Ct)
                : install ? manager.InstallDnatAsync(Dnat(i), Ct) : manager.RemoveDnatAsync(Dnat(i), Ct));
        }

        foreach (var tool in new[] { first, second })
        {
            await tool.WaitForExitAsync(Ct);
            tool.ExitCode.Should().Be(0, await tool.StandardError.ReadToEndAsync(Ct));
        }

        var rules = (await ns.SaveAsync()).Split('\n').Where(l => l.StartsWith("-A ", StringComparison.Ordinal)).ToList();
        for (var i = 0; i < Objects; i++)
        {
            var comment = i % 2 == 0 ? manager.RuleBuilder.DockerMapComment(Map(i)) : manager.RuleBuilder.DnatComment(Dnat(i));
            var built = i % 2 == 0 ? manager.RuleBuilder.BuildDockerMap(Map(i)) : manager.RuleBuilder.BuildDnat(Dnat(i));
            var copies = rules.Count(l => l.Contains($"\"{comment}\"", StringComparison.Ordinal));
            copies.Should().BeOneOf([0, built.Count], $"{comment}: each rule exactly once, or the object not there at all; found\n{string.Join('\n', rules)}");
        }

        // The library agrees with itself: a sync to what it lists changes nothing.
        var listed = await manager.ListAsync(Ct);
        var before = await ns.SaveAsync();
        await manager.SyncAsync(listed, Ct);
        (await ns.SaveAsync()).Should().Be(before);
    }

    /// <summary>
    /// The lock is the namespace's, however it is named: a manager given the namespace's name and a tool that
    /// <c>ip netns exec</c> started with no namespace option take the same one (they once took <c>netns-NAME.lock</c>
    /// and <c>init.lock</c>, and a remove of the one failed on a rule the other had just deleted).
    /// </summary>
    [Fact]
    public async Task ManagerNamingTheNamespace_AndToolInsideIt_TakeOneLock()
    {
        await using var ns = await TestNamespace.CreateAsync("nft");
        await ns.Manager(o => o.EnableIpv6 = false).SetupAsync(Ct);
        var lockFile = OperationLock.PathFor(OperationLock.DefaultDirectory, ns.Name);
        Path.GetFileName(lockFile).Should().MatchRegex(@"^net-\d+\.lock$", "the namespace's inode names the lock");
        var held = await OperationLock.AcquireAsync(lockFile, TimeSpan.FromSeconds(5), Ct);
        held.Should().NotBeNull();

        var tool = Process.Start(new ProcessStartInfo("ip", ["netns", "exec", ns.Name, NatmapTool.Path(), "add", "dnat", "--external", "203.0.113.5",
            "--internal", "10.9.0.2", "--ports", "32000", "--apply", "--iptables", ns.Iptables, "--ip6tables", ns.Ip6tables, "--no-ipv6"])
        { RedirectStandardError = true, RedirectStandardOutput = true })!;
        using (tool)
        {
            // The tool finishes in well under a second when nothing holds it up; it waits as long as the lock is held.
            await Task.Delay(TimeSpan.FromSeconds(3), Ct);
            tool.HasExited.Should().BeFalse("the tool inside the namespace waits for the lock the manager naming it holds");
            (await ns.SaveAsync()).Should().NotContain("10.9.0.2", "nothing is written while the lock is held");
            await held!.DisposeAsync();

            await tool.WaitForExitAsync(Ct);
            tool.ExitCode.Should().Be(0, await tool.StandardError.ReadToEndAsync(Ct));
        }

        (await ns.SaveAsync()).Should().Contain("10.9.0.2", "the tool ran once the lock was released");
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task InstallWithoutSetup_ToolAndLibrary_SayToRunSetupAndChangeNothing(string backend)
    {
        await using var ns = await TestNamespace.CreateAsync(backend);
        static async Task<string[]> RulesAndUserChainsAsync(TestNamespace ns) =>
            [.. (await ns.SaveAsync()).Split('\n').Where(l => l.StartsWith("-A ", StringComparison.Ordinal) || (l.StartsWith(':') && l.Contains(" - ", StringComparison.Ordinal)))];

        var result = await ns.RunAsync(NatmapTool.Path(), "add", "docker", "--container", "web", "--host", "0.0.0.0:8080", "--target", "172.17.0.2:80",
            "--apply", "--iptables", ns.Iptables, "--ip6tables", ns.Ip6tables);

        result.ExitCode.Should().Be(1, result.StandardError);
        result.StandardError.Should().Contain("natmap is not set up on this host").And.Contain("natmap setup --apply")
            .And.NotContain("No chain/target/match by that name");
        // Reading a table makes the legacy backend load it (its built-in chains appear in iptables-save), so compare the rest.
        (await RulesAndUserChainsAsync(ns)).Should().BeEmpty("nothing ran that changes the tables");

        var manager = ns.Manager();
        await FluentActions.Awaiting(() => manager.InstallDnatAsync(Dnat(0), Ct)).Should().ThrowAsync<InvalidOperationException>().WithMessage("InstallDnat needs the chain NATMAP in the filter table*");
        await manager.SetupAsync(Ct);
        await manager.InstallDockerMapAsync(Map(0), Ct);
        (await manager.ListAsync(Ct)).DockerMaps.Should().Equal(Map(0));
    }
}
