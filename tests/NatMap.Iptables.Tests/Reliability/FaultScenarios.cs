using System.Net;
using System.Net.Sockets;
using NatMap.Iptables.Testing;

namespace NatMap.Iptables.Tests.Reliability;

/// <summary>
/// The mutating operations the fault tests run, each with what the host holds before it, and the checks they share:
/// the emulated host's state (both families' tables and route_localnet) and the loopback guard invariant.
/// </summary>
internal static class FaultScenarios
{
    private static IPEndPoint Ep(string text) => IPEndPoint.Parse(text);

    private static IPAddress Ip(string text) => IPAddress.Parse(text);

    public static readonly DockerPortMap Web = new("web", Ep("0.0.0.0:8080"), Ep("172.17.0.2:80"));
    public static readonly DockerPortMap Db = new("db", Ep("127.0.0.1:5432"), Ep("172.17.0.3:5432"));
    public static readonly DockerPortMap Web6 = new("web6", Ep("[::]:8080"), Ep("[fd00::2]:80"));
    public static readonly DnatConfig Dnat = new(Ip("203.0.113.5"), Ip("10.0.0.2"), PortSet.Parse("443,8443,9000-9010"), ExternalInterface: "eth0");
    public static readonly SnatConfig Snat = new(Ip("fd00::2"), Ip("2001:db8::5"), "wan+");
    public static readonly HairpinConfig Hairpin = new(Ip("203.0.113.5"), Ip("192.168.1.20"), PortSet.Parse("80,443"), LanCidr: IPNetwork.Parse("192.168.1.0/24"));

    public static readonly NatMapState Everything = new() { DockerMaps = [Web, Db, Web6], Dnats = [Dnat], Snats = [Snat], Hairpins = [Hairpin] };

    public static readonly NatMapState Other = new()
    {
        DockerMaps = [Web, new DockerPortMap("new", Ep("0.0.0.0:9090"), Ep("172.17.0.9:80"))],
        Dnats = [new DnatConfig(Ip("2001:db8::5"), Ip("fd00::2"), 80)],
    };

    public const string RouteLocalnet = "net.ipv4.conf.all.route_localnet";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static async Task EverythingAsync(IptablesManager m)
    {
        await m.SetupAsync(Ct);
        await m.SyncAsync(Everything, Ct);
    }

    /// <summary>Every operation's name, in the order of <see cref="Before"/>.</summary>
    public static IReadOnlyList<string> Names => [.. Befores.Keys];

    /// <summary>Every operation in both transports.</summary>
    public static TheoryData<string, RuleApplyMode> Operations()
    {
        var data = new TheoryData<string, RuleApplyMode>();
        foreach (var transport in new[] { RuleApplyMode.Batch, RuleApplyMode.PerRule })
        {
            foreach (var name in Names)
            {
                data.Add(name, transport);
            }
        }

        return data;
    }

    private static readonly Dictionary<string, Func<IptablesManager, Task>> Befores = new()
    {
        ["Setup"] = _ => Task.CompletedTask,
        ["InstallDockerMap v4"] = m => m.SetupAsync(Ct),
        ["InstallDockerMap loopback"] = m => m.SetupAsync(Ct),
        ["InstallDockerMap v6"] = m => m.SetupAsync(Ct),
        ["InstallDnat"] = m => m.SetupAsync(Ct),
        ["InstallSnat"] = m => m.SetupAsync(Ct),
        ["InstallHairpin"] = m => m.SetupAsync(Ct),
        ["RemoveDockerMap"] = EverythingAsync,
        ["RemoveDockerMap v6"] = EverythingAsync,
        ["RemoveDnat"] = EverythingAsync,
        ["RemoveSnat"] = EverythingAsync,
        ["RemoveHairpin"] = EverythingAsync,
        ["FlushAll"] = EverythingAsync,
        ["SyncAsync from empty"] = _ => Task.CompletedTask,
        ["SyncAsync to another state"] = EverythingAsync,
    };

    /// <summary>What the host holds before <paramref name="operation"/>, made through the manager.</summary>
    public static Task Before(string operation, IptablesManager manager) => Befores[operation](manager);

    /// <summary>Runs <paramref name="operation"/> with a token of the test's choosing.</summary>
    public static Task Run(string operation, IptablesManager m, CancellationToken token) => operation switch
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
        "SyncAsync to another state" => m.SyncAsync(Other, token),
        _ => throw new ArgumentOutOfRangeException(nameof(operation), operation, null),
    };

    /// <summary>A fresh emulated host with the container networks' addresses, and a manager on it.</summary>
    public static (FakeIptables Fake, IptablesManager Manager) Host(RuleApplyMode transport, Action<NatMapOptions>? configure = null)
    {
        var fake = new FakeIptables().AddAddress("docker0", Ip("172.17.0.1"), 16).AddAddress("docker0", Ip("fd00::1"), 64);
        var options = new NatMapOptions { ApplyMode = transport };
        configure?.Invoke(options);
        return (fake, new IptablesManager(fake, options));
    }

    /// <summary>
    /// Both families' tables and route_localnet. A table left with nothing but empty built-in chains that accept is
    /// the same as no table (the kernel keeps one a command made, too), so such tables are left out.
    /// </summary>
    public static string State(FakeIptables fake) =>
        string.Concat(new[] { fake.Save(), fake.Save(AddressFamily.InterNetworkV6) }.SelectMany(Tables).Where(t => !IsEmpty(t)))
        + "route_localnet=" + fake.GetSysctl(RouteLocalnet);

    private static IEnumerable<string> Tables(string save) =>
        save.Split("COMMIT\n", StringSplitOptions.RemoveEmptyEntries).Select(static t => t + "COMMIT\n");

    private static bool IsEmpty(string table) =>
        table.Split('\n').Skip(1).All(static l => l.Length == 0 || l == "COMMIT" || (l.StartsWith(':') && l.EndsWith(" ACCEPT", StringComparison.Ordinal)));

    /// <summary>The state's lines in order: two states with the same rules in each chain, in any order, give the same.</summary>
    public static string[] Unordered(string state) => [.. state.Split('\n').Order(StringComparer.Ordinal)];

    /// <summary>Whether raw PREROUTING drops packets to 127.0.0.0/8 from any interface but lo (whoever's guard it is).</summary>
    public static bool HasLoopbackGuard(FakeIptables fake) =>
        fake.Save().Split('\n').Any(static l =>
            l.StartsWith("-A PREROUTING -d 127.0.0.0/8 ! -i lo ", StringComparison.Ordinal) && l.EndsWith(" -j DROP", StringComparison.Ordinal));

    /// <summary>The host-settings invariant: route_localnet is 1 only while a loopback guard stands.</summary>
    public static void GuardInvariantHolds(FakeIptables fake, string because)
    {
        if (fake.GetSysctl(RouteLocalnet) == "1")
        {
            HasLoopbackGuard(fake).Should().BeTrue($"route_localnet=1 needs its guard: {because}");
        }
    }

    /// <summary>How many <c>*table</c> blocks a process commits when it runs whole: its restore blocks, or 1 for any other process.</summary>
    public static int Steps(CommandSpec process) =>
        process.StandardInput is { } input ? input.Split('\n').Count(static l => l.StartsWith('*')) : 1;
}
