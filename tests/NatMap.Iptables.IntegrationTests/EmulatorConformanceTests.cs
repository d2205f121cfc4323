using System.Net.Sockets;
using System.Text.RegularExpressions;
using NatMap.Iptables.IntegrationTests.Infrastructure;
using NatMap.Iptables.Testing;
using static NatMap.Iptables.IntegrationTests.ManagerKernelTests;

namespace NatMap.Iptables.IntegrationTests;

/// <summary>
/// FakeIptables against the real iptables, on both backends: the same steps run in a namespace and in the emulator,
/// and after each step the emulator's <see cref="FakeIptables.Save(bool, string?)"/> equals the kernel's iptables-save
/// (less comment lines and counters), and every command's exit code and message are the same.
/// </summary>
public sealed partial class EmulatorConformanceTests
{
    public static TheoryData<string, RuleApplyMode> BackendsAndTransports => Kernel.BackendsAndTransports;

    public static TheoryData<string> Backends => Kernel.Backends;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static FakeIptables Emulator(string backend) =>
        new() { Backend = backend == "nft" ? FakeIptablesBackend.Nft : FakeIptablesBackend.Legacy };

    private static IptablesManager EmulatedManager(FakeIptables fake, string backend, RuleApplyMode transport) => new(fake, new NatMapOptions
    {
        IptablesPath = $"iptables-{backend}",
        Ip6tablesPath = $"ip6tables-{backend}",
        ApplyMode = transport,
    });

    /// <summary>The kernel's iptables-save in the emulator's form: no comment lines, no counters, tables by name.</summary>
    private static async Task<string> KernelSaveAsync(TestNamespace ns, bool ipv6) =>
        Counters().Replace(await ns.SaveAsync(ipv6), string.Empty).TrimEnd();

    private static async Task ShouldMatchAsync(TestNamespace ns, FakeIptables fake, string step)
    {
        foreach (var ipv6 in new[] { false, true })
        {
            fake.Save(ipv6 ? AddressFamily.InterNetworkV6 : AddressFamily.InterNetwork).TrimEnd().Should().Be(await KernelSaveAsync(ns, ipv6), $"after {step} ({(ipv6 ? "IPv6" : "IPv4")})");
        }
    }

    [Theory]
    [MemberData(nameof(BackendsAndTransports))]
    public async Task LibraryOperations_LeaveTheSameTablesAsTheKernel(string backend, RuleApplyMode transport)
    {
        await using var ns = await TestNamespace.CreateAsync(backend);
        var kernel = ns.Manager(o => o.ApplyMode = transport);
        var fake = Emulator(backend);
        var emulated = EmulatedManager(fake, backend, transport);

        async Task StepAsync(string step, Func<IptablesManager, Task> operation)
        {
            await operation(kernel);
            await operation(emulated);
            await ShouldMatchAsync(ns, fake, step);
        }

        await StepAsync("Setup", m => m.SetupAsync(Ct));
        await StepAsync("Setup again", m => m.SetupAsync(Ct));
        await StepAsync("installs of every kind", InstallEverythingAsync);
        await StepAsync("RemoveDockerMap", m => m.RemoveDockerMapAsync(Maps[0], Ct));
        await StepAsync("RemoveDnat", m => m.RemoveDnatAsync(Dnats[0], Ct));
        await StepAsync("RemoveSnat", m => m.RemoveSnatAsync(Snats[0], Ct));
        await StepAsync("RemoveHairpin", m => m.RemoveHairpinAsync(Hairpins[0], Ct));
        (await emulated.ListAsync(Ct)).Should().BeEquivalentTo(await kernel.ListAsync(Ct));
        await StepAsync("Sync to everything", m => m.SyncAsync(new NatMapState { DockerMaps = Maps, Dnats = Dnats, Snats = Snats, Hairpins = Hairpins }, Ct));
        await StepAsync("Sync to one mapping", m => m.SyncAsync(new NatMapState { DockerMaps = [Maps[1]] }, Ct));
        await StepAsync("FlushAll", m => m.FlushAllAsync(Ct));
        fake.GetSysctl("net.ipv4.conf.all.route_localnet").Should().Be((await ns.ExecAsync("sysctl", "-n", "net.ipv4.conf.all.route_localnet")).Trim());
    }

    /// <summary>The ways iptables fails (and a few ways it succeeds that are easy to get wrong), one command at a time.</summary>
    public static TheoryData<string, string> Scenarios => new()
    {
        { "nft", "commands" }, { "legacy", "commands" }, { "nft", "restore" }, { "legacy", "restore" },
    };

    private static readonly (string Program, string[] Arguments, string? Input)[] Commands =
    [
        ("iptables", ["-w", "5", "-t", "nat", "-N", "NATMAP"], null),
        ("iptables", ["-t", "nat", "-N", "NATMAP"], null),
        ("iptables", ["-t", "nat", "-N", "AAA"], null),
        ("iptables", ["-t", "nat", "-X", "NOPE"], null),
        ("iptables", ["-t", "nat", "-A", "NOPE", "-j", "ACCEPT"], null),
        ("iptables", ["-t", "nat", "-A", "PREROUTING", "-j", "MISSING"], null),
        ("iptables", ["-t", "nat", "-A", "PREROUTING", "-j", "NATMAP"], null),
        ("iptables", ["-t", "nat", "-X", "NATMAP"], null),
        ("iptables", ["-t", "nat", "-A", "AAA", "-p", "tcp", "--dport", "80", "-d", "10.0.0.1", "-m", "comment", "--comment", "a b", "-j", "DNAT", "--to-destination", "10.0.0.2:80"], null),
        ("iptables", ["-t", "nat", "-A", "AAA", "-s", "10.1.2.3/8", "-j", "RETURN"], null),
        ("iptables", ["-t", "nat", "-I", "AAA", "2", "!", "-o", "lo", "-m", "conntrack", "!", "--ctorigdst", "172.17.0.2", "-j", "MASQUERADE"], null),
        ("iptables", ["-t", "nat", "-X", "AAA"], null),
        ("iptables", ["-t", "nat", "-D", "AAA", "-s", "9.9.9.9", "-j", "RETURN"], null),
        ("iptables", ["-t", "nat", "-C", "AAA", "-s", "9.9.9.9", "-j", "RETURN"], null),
        ("iptables", ["-t", "nat", "-C", "AAA", "-s", "10.0.0.0/8", "-j", "RETURN"], null),
        ("iptables", ["-t", "nat", "-D", "AAA", "9"], null),
        ("iptables", ["-t", "nat", "-D", "NOPE", "-s", "9.9.9.9", "-j", "RETURN"], null),
        ("iptables", ["-t", "nat", "-C", "NOPE", "-j", "RETURN"], null),
        ("iptables", ["-t", "nat", "-D", "NOPE", "1"], null),
        ("iptables", ["-t", "nat", "-C", "PREROUTING", "-j", "AAA"], null),
        ("iptables", ["-t", "nat", "-D", "AAA", "-p", "tcp", "--dport", "81", "-j", "DNAT", "--to-destination", "10.0.0.2:80"], null),
        ("iptables", ["-t", "nat", "-I", "AAA", "9", "-j", "RETURN"], null),
        ("iptables", ["-t", "nat", "-D", "AAA", "1"], null),
        ("iptables", ["-t", "nat", "-S", "AAA"], null),
        ("iptables", ["-t", "nat", "-S"], null),
        ("iptables", ["-t", "nat", "-S", "NOPE"], null),
        ("iptables", ["-t", "nat", "-P", "POSTROUTING", "DROP"], null),
        ("iptables", ["-t", "filter", "-P", "FORWARD", "DROP"], null),
        ("iptables", ["-t", "nat", "-F", "NOPE"], null),
        ("iptables", ["-t", "nat", "-F", "AAA"], null),
        ("iptables", ["-t", "nat", "-D", "PREROUTING", "-j", "NATMAP"], null),
        ("iptables", ["-t", "nat", "-X", "NATMAP"], null),
        ("ip6tables", ["-t", "nat", "-A", "POSTROUTING", "-s", "fd00::1", "-p", "udp", "--dport", "53", "-j", "MASQUERADE"], null),
        ("ip6tables", ["-t", "raw", "-N", "X6"], null),
        ("ip6tables", ["-t", "raw", "-X"], null),
    ];

    private static readonly (string Program, string[] Arguments, string? Input)[] Restores =
    [
        ("iptables-restore", ["--noflush", "-w", "5"], "*nat\n-N A\n-N B\n-A PREROUTING -j B\n-A B -p tcp --dport 8080 -j DNAT --to-destination 10.0.0.2:80\nCOMMIT\n"),
        ("iptables-restore", ["--noflush"], "*nat\n-A A -j RETURN\n-A BOGUS -j RETURN\nCOMMIT\n"),
        ("iptables-restore", ["--noflush"], "*nat\n-A A -j RETURN\nCOMMIT\n*filter\n-N F1\n-A F1 -j X\nCOMMIT\n"),
        ("iptables-restore", ["--noflush"], "*nat\n-D A -s 9.9.9.9/32 -j RETURN\nCOMMIT\n"),
        ("iptables-restore", ["--noflush"], "*nat\n-A A -j RETURN\n"),
        ("iptables-restore", ["--noflush"], "*nat\n:A - [0:0]\n:C - [0:0]\n-A C -m comment --comment \"x \\\"y\\\"\" -j ACCEPT\nCOMMIT\n"),
        ("iptables-restore", ["--noflush"], "*filter\n:FORWARD DROP [0:0]\n-N F2\nCOMMIT\n"),
        ("iptables-restore", ["--noflush"], "*nat\n-D NOPE -j RETURN\nCOMMIT\n"),
        ("iptables-restore", ["--noflush"], "*nat\n-N D\n-X B\nCOMMIT\n"),
        ("iptables-restore", ["--noflush"], "*nat\n-X A\n-N D\nCOMMIT\n"),
        ("iptables-restore", [], "*nat\n:POSTROUTING ACCEPT [0:0]\n-A POSTROUTING -j RETURN\nCOMMIT\n"),
        ("iptables-save", ["-t", "raw"], null),
        ("ip6tables-restore", ["--noflush"], "*nat\n-N N6\n-I POSTROUTING -o eth0 -j N6\nCOMMIT\n"),
    ];

    [Theory]
    [MemberData(nameof(Scenarios))]
    public async Task Commands_FailAndSucceedAsTheKernelDoes(string backend, string scenario)
    {
        await using var ns = await TestNamespace.CreateAsync(backend);
        var fake = Emulator(backend);
        foreach (var (program, arguments, input) in scenario == "commands" ? Commands : Restores)
        {
            var name = program.Replace("tables", $"tables-{backend}", StringComparison.Ordinal);
            var step = $"{name} {string.Join(' ', arguments)}{(input is null ? string.Empty : " <<< " + input.Replace("\n", "\\n", StringComparison.Ordinal))}";
            var real = await RunInAsync(ns, name, arguments, input);
            var emulated = await fake.RunAsync(new CommandSpec(name, arguments, input), Ct);

            emulated.ExitCode.Should().Be(real.ExitCode, step);
            emulated.StandardError.Should().Be(real.StandardError, step);
            if (!name.EndsWith("-save", StringComparison.Ordinal))
            {
                emulated.StandardOutput.Should().Be(real.StandardOutput, step);
            }

            await ShouldMatchAsync(ns, fake, step);
        }
    }

    /// <summary>
    /// Runs the step on the kernel. A legacy command waits for the xtables lock, which tests running in parallel share
    /// (the emulator has no other process to meet); waiting changes neither output nor outcome of an uncontended command.
    /// </summary>
    private static Task<CommandResult> RunInAsync(TestNamespace ns, string program, string[] arguments, string? input) =>
        new CliWrapCommandRunner(TimeSpan.FromSeconds(30)).RunAsync(new CommandSpec("ip", Xtables.InNamespace(ns.Name, program, arguments), input), Ct);

    [GeneratedRegex(@" \[\d+:\d+\]")]
    private static partial Regex Counters();
}
