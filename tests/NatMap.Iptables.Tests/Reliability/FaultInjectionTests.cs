using System.Net;
using NatMap.Iptables.Testing;

namespace NatMap.Iptables.Tests.Reliability;

/// <summary>
/// Every multi-command operation, in both transports, failed at every process position in turn (FakeIptables.FailAt):
/// afterwards the emulated tables (both families) and route_localnet are exactly as before the operation, and the
/// exception names the process that failed. The one failure an operation is built to tolerate, a Docker mapping's
/// route lookup, must instead leave the operation's full result.
/// </summary>
public sealed class FaultInjectionTests
{
    private static IPEndPoint Ep(string text) => IPEndPoint.Parse(text);

    private static IPAddress Ip(string text) => IPAddress.Parse(text);

    private static readonly DockerPortMap Web = new("web", Ep("0.0.0.0:8080"), Ep("172.17.0.2:80"));
    private static readonly DockerPortMap Db = new("db", Ep("127.0.0.1:5432"), Ep("172.17.0.3:5432"));
    private static readonly DockerPortMap Web6 = new("web6", Ep("[::]:8080"), Ep("[fd00::2]:80"));
    private static readonly DnatConfig Dnat = new(Ip("203.0.113.5"), Ip("10.0.0.2"), PortSet.Parse("443,8443,9000-9010"), ExternalInterface: "eth0");
    private static readonly SnatConfig Snat = new(Ip("fd00::2"), Ip("2001:db8::5"), "wan+");
    private static readonly HairpinConfig Hairpin = new(Ip("203.0.113.5"), Ip("192.168.1.20"), PortSet.Parse("80,443"), LanCidr: IPNetwork.Parse("192.168.1.0/24"));

    private static readonly NatMapState Everything = new() { DockerMaps = [Web, Db, Web6], Dnats = [Dnat], Snats = [Snat], Hairpins = [Hairpin] };

    private static readonly NatMapState Other = new()
    {
        DockerMaps = [Web, new DockerPortMap("new", Ep("0.0.0.0:9090"), Ep("172.17.0.9:80"))],
        Dnats = [new DnatConfig(Ip("2001:db8::5"), Ip("fd00::2"), 80)],
    };

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static async Task EverythingAsync(IptablesManager m)
    {
        await m.SetupAsync(Ct);
        await m.SyncAsync(Everything, Ct);
    }

    /// <summary>Operation name, what the host holds before it, and the operation.</summary>
    public static TheoryData<string, IptablesTransport> Operations()
    {
        var data = new TheoryData<string, IptablesTransport>();
        foreach (var transport in new[] { IptablesTransport.Batch, IptablesTransport.PerRule })
        {
            foreach (var name in Cases.Keys)
            {
                data.Add(name, transport);
            }
        }

        return data;
    }

    private static readonly Dictionary<string, (Func<IptablesManager, Task> Before, Func<IptablesManager, Task> Operation)> Cases = new()
    {
        ["Setup"] = (_ => Task.CompletedTask, m => m.SetupAsync(Ct)),
        ["InstallDockerMap v4"] = (m => m.SetupAsync(Ct), m => m.InstallDockerMapAsync(Web, Ct)),
        ["InstallDockerMap loopback"] = (m => m.SetupAsync(Ct), m => m.InstallDockerMapAsync(Db, Ct)),
        ["InstallDockerMap v6"] = (m => m.SetupAsync(Ct), m => m.InstallDockerMapAsync(Web6, Ct)),
        ["InstallDnat"] = (m => m.SetupAsync(Ct), m => m.InstallDnatAsync(Dnat, Ct)),
        ["InstallSnat"] = (m => m.SetupAsync(Ct), m => m.InstallSnatAsync(Snat, Ct)),
        ["InstallHairpin"] = (m => m.SetupAsync(Ct), m => m.InstallHairpinAsync(Hairpin, Ct)),
        ["RemoveDockerMap"] = (EverythingAsync, m => m.RemoveDockerMapAsync(Web, Ct)),
        ["RemoveDockerMap v6"] = (EverythingAsync, m => m.RemoveDockerMapAsync(Web6, Ct)),
        ["RemoveDnat"] = (EverythingAsync, m => m.RemoveDnatAsync(Dnat, Ct)),
        ["RemoveSnat"] = (EverythingAsync, m => m.RemoveSnatAsync(Snat, Ct)),
        ["RemoveHairpin"] = (EverythingAsync, m => m.RemoveHairpinAsync(Hairpin, Ct)),
        ["FlushAll"] = (EverythingAsync, m => m.FlushAllAsync(Ct)),
        ["SyncAsync from empty"] = (_ => Task.CompletedTask, m => m.SyncAsync(Everything, Ct)),
        ["SyncAsync to another state"] = (EverythingAsync, m => m.SyncAsync(Other, Ct)),
    };

    private static (FakeIptables Fake, IptablesManager Manager) Host(IptablesTransport transport)
    {
        var fake = new FakeIptables().AddAddress("docker0", Ip("172.17.0.1"), 16).AddAddress("docker0", Ip("fd00::1"), 64);
        return (fake, new IptablesManager(fake, new NatMapOptions { Transport = transport }));
    }

    /// <summary>
    /// Both families' tables and route_localnet. A table left with nothing but empty built-in chains that accept is
    /// the same as no table (the kernel keeps one a command made, too), so such tables are left out.
    /// </summary>
    private static string State(FakeIptables fake) =>
        string.Concat(new[] { fake.Save(), fake.Save(ipv6: true) }.SelectMany(Tables).Where(t => !IsEmpty(t)))
        + "route_localnet=" + fake.GetSysctl("net.ipv4.conf.all.route_localnet");

    private static IEnumerable<string> Tables(string save) =>
        save.Split("COMMIT\n", StringSplitOptions.RemoveEmptyEntries).Select(static t => t + "COMMIT\n");

    private static bool IsEmpty(string table) =>
        table.Split('\n').Skip(1).All(static l => l.Length == 0 || l == "COMMIT" || (l.StartsWith(':') && l.EndsWith(" ACCEPT", StringComparison.Ordinal)));

    [Theory]
    [MemberData(nameof(Operations))]
    public async Task Operation_FailedAtEveryProcess_LeavesTheHostAsBefore(string operation, IptablesTransport transport)
    {
        var (before, act) = Cases[operation];
        var (probe, probeManager) = Host(transport);
        await before(probeManager);
        probe.Clear();
        await act(probeManager);
        var processes = probe.Processes;
        var done = State(probe);
        processes.Should().NotBeEmpty();
        Console.WriteLine($"faults: {operation} ({transport}): failed at each of {processes.Count} processes");

        for (var position = 1; position <= processes.Count; position++)
        {
            var (fake, manager) = Host(transport);
            await before(manager);
            var initial = State(fake);
            fake.Clear();
            fake.FailAt(position, 4, "Another app is currently holding the xtables lock. Stopped waiting after 10s.");
            var failed = processes[position - 1];
            var because = $"{operation} ({transport}) failed at process {position} of {processes.Count}: {failed}";

            var exception = await Record.ExceptionAsync(() => act(manager));

            if (exception is null)
            {
                // Two failures are absorbed by design: a Docker mapping's route lookup (its hairpin rule then covers
                // the container only), and a batch removal's speculative delete (it then reads and deletes by comment).
                var routeLookup = failed.Arguments.Contains("route");
                var speculativeRemoval = operation.StartsWith("Remove", StringComparison.Ordinal) && failed.StandardInput is not null;
                (routeLookup || speculativeRemoval).Should().BeTrue($"only an absorbed failure may pass: {because}");
                (await manager.ListAsync(Ct)).Should().BeEquivalentTo(await probeManager.ListAsync(Ct), because);
                if (speculativeRemoval)
                {
                    State(fake).Should().Be(done, because);
                }

                continue;
            }

            var error = exception.Should().BeOfType<IptablesCommandException>(because).Subject;
            error.ExitCode.Should().Be(4, because);
            new CommandSpec(error.FileName, error.Arguments, error.StandardInput).Should().Be(failed, because);
            error.Message.Should().Contain(failed.FileName, because);
            State(fake).Should().Be(initial, because);
        }
    }

    [Theory]
    [MemberData(nameof(Operations))]
    public async Task Operation_CancelledDuringEveryProcess_LeavesTheHostAsBefore(string operation, IptablesTransport transport)
    {
        var (before, act) = Cases[operation];
        var (probe, probeManager) = Host(transport);
        await before(probeManager);
        probe.Clear();
        await act(probeManager);
        var processes = probe.Processes.Count;
        Console.WriteLine($"cancellations: {operation} ({transport}): cancelled during each of {processes} processes");

        for (var position = 1; position <= processes; position++)
        {
            var fake = new FakeIptables().AddAddress("docker0", Ip("172.17.0.1"), 16).AddAddress("docker0", Ip("fd00::1"), 64);
            using var cancellation = new CancellationTokenSource();
            var runner = new CancelAt(fake, position, cancellation);
            var manager = new IptablesManager(runner, new NatMapOptions { Transport = transport });
            await before(manager);
            var initial = State(fake);
            runner.Arm();
            var because = $"{operation} ({transport}) cancelled during process {position} of {processes}";

            var cancelled = () => RunWith(operation, manager, cancellation.Token);

            await cancelled.Should().ThrowAsync<OperationCanceledException>(because);
            State(fake).Should().Be(initial, because);
        }
    }

    /// <summary>The operation of <see cref="Cases"/>, with a token of the test's choosing.</summary>
    private static Task RunWith(string operation, IptablesManager m, CancellationToken token) => operation switch
    {
        "Setup" => m.SetupAsync(token),
        "InstallDockerMap v4" => m.InstallDockerMapAsync(Web, token),
        "InstallDockerMap loopback" => m.InstallDockerMapAsync(Db, token),
        "InstallDockerMap v6" => m.InstallDockerMapAsync(Web6, token),
        "InstallDnat" => m.InstallDnatAsync(Dnat, token),
        "InstallSnat" => m.InstallSnatAsync(Snat, token),
        "InstallHairpin" => m.InstallHairpinAsync(Hairpin, token),
        "RemoveDockerMap" => m.RemoveDockerMapAsync(Web, token),
        "RemoveDockerMap v6" => m.RemoveDockerMapAsync(Web6, token),
        "RemoveDnat" => m.RemoveDnatAsync(Dnat, token),
        "RemoveSnat" => m.RemoveSnatAsync(Snat, token),
        "RemoveHairpin" => m.RemoveHairpinAsync(Hairpin, token),
        "FlushAll" => m.FlushAllAsync(token),
        "SyncAsync from empty" => m.SyncAsync(Everything, token),
        _ => m.SyncAsync(Other, token),
    };

    /// <summary>
    /// Cancels the operation's token while its n-th process (counted once armed) is running: that process is
    /// cancelled too and takes no effect, as a killed iptables would not commit.
    /// </summary>
    private sealed class CancelAt(FakeIptables inner, int position, CancellationTokenSource cancellation) : ICommandRunner
    {
        private int _seen = int.MinValue;

        public void Arm() => _seen = 0;

        public Task<CommandResult> RunAsync(CommandSpec command, CancellationToken cancellationToken = default)
        {
            if (++_seen == position)
            {
                cancellation.Cancel();
            }

            return inner.RunAsync(command, cancellationToken);
        }
    }
}
