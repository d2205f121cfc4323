using System.Net;
using NatMap.Iptables.IntegrationTests.Infrastructure;
using NatMap.Iptables.Testing;
using static NatMap.Iptables.IntegrationTests.Infrastructure.Topology;

namespace NatMap.Iptables.IntegrationTests;

/// <summary>
/// FakeIptables.Trace against real packets: the same mappings go into the kernel (the traffic topology) and into an
/// emulator given the host's addresses, and for every probe of the path matrix the trace's prediction (who answers,
/// or nobody) must be what the real probe got.
/// </summary>
public sealed class TracePredictionTests
{
    public static TheoryData<string> Backends => Kernel.Backends;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static DockerPortMap Map(string host, string container, TransportProtocol protocol = TransportProtocol.Tcp) =>
        new("web", IPEndPoint.Parse(host), IPEndPoint.Parse(container), protocol);

    private static readonly DockerPortMap[] Maps =
    [
        Map("0.0.0.0:8080", $"{C1v4}:80"),
        Map("[::]:8080", $"[{C1v6}]:80"),
        Map("0.0.0.0:8081", $"{C2v4}:80", TransportProtocol.Udp),
        Map($"{HostA4}:8082", $"{C2v4}:80"),
        Map("127.0.0.1:8083", $"{C1v4}:80"),
    ];

    private static readonly Dictionary<string, string> Owners = new(StringComparer.Ordinal)
    {
        [C1v4] = "c1", [C1v6] = "c1", [C2v4] = "c2", [C2v6] = "c2", [Ext4] = "ext", [Ext6] = "ext",
    };

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task Trace_PredictsWhatRealPacketsDo_AcrossThePathMatrix(string backend)
    {
        await using var net = await Topology.CreateAsync(backend, 80);
        var fake = new FakeIptables { Backend = backend == "nft" ? FakeIptablesBackend.Nft : FakeIptablesBackend.Legacy }
            .AddAddress("eth0", IPAddress.Parse(HostA4), 24).AddAddress("eth0", IPAddress.Parse(HostB4), 24)
            .AddAddress("eth0", IPAddress.Parse(HostA6), 64).AddAddress("eth0", IPAddress.Parse(HostB6), 64)
            .AddAddress("br0", IPAddress.Parse(Bridge4), 24).AddAddress("br0", IPAddress.Parse(Bridge6), 64);
        foreach (var program in new[] { $"iptables-{backend}", $"ip6tables-{backend}" })
        {
            await net.ExecAsync(net.Host, program, "-P", "FORWARD", "DROP");
            (await fake.RunAsync(new CommandSpec(program, ["-P", "FORWARD", "DROP"]), Ct)).ExitCode.Should().Be(0);
        }

        foreach (var manager in new[] { net.Manager(), new IptablesManager(fake, net.Options(o => o.NetworkNamespace = null)) })
        {
            await manager.SetupAsync(Ct);
            foreach (var map in Maps)
            {
                await manager.InstallDockerMapAsync(map, Ct);
            }
        }

        var probes = new List<(string From, TransportProtocol Protocol, string Address, int Port)>();
        foreach (var (address, port) in new[] { (HostA4, 8080), (HostB4, 8080), (HostA6, 8080), (HostA4, 8082), (HostB4, 8082), (HostA4, 8083), (HostA4, 9999) })
        {
            probes.Add(("ext", TransportProtocol.Tcp, address, port));
        }

        probes.Add(("ext", TransportProtocol.Udp, HostA4, 8081));
        foreach (var (address, port) in new[] { ("127.0.0.1", 8080), (HostA4, 8080), (Bridge4, 8080), (HostA6, 8080), ("::1", 8080), ("127.0.0.1", 8083), (HostB4, 8082), (HostA4, 8082) })
        {
            probes.Add(("host", TransportProtocol.Tcp, address, port));
        }

        foreach (var from in new[] { "c1", "c2" })
        {
            probes.Add((from, TransportProtocol.Tcp, HostA4, 8080));
            probes.Add((from, TransportProtocol.Tcp, HostA6, 8080));
            probes.Add((from, TransportProtocol.Tcp, HostA4, 8083));
        }

        var mismatches = new List<string>();
        var answers = new List<string?>();
        foreach (var (from, protocol, address, port) in probes)
        {
            var trace = fake.Trace(Packet(from, protocol, IPAddress.Parse(address), port));
            var predicted = Predict(trace);
            var ns = from switch { "ext" => net.Ext, "host" => net.Host, "c1" => net.C1, _ => net.C2 };
            var actual = await net.ProbeAsync(ns, protocol, address, port);
            answers.Add(actual);
            TestContext.Current.TestOutputHelper?.WriteLine($"{from} -> {address}:{port}/{protocol}: predicted {predicted ?? "nobody"}, got {actual ?? "nobody"}");
            if (predicted != actual)
            {
                mismatches.Add($"{from} -> {address}:{port}/{protocol}: trace predicted {predicted ?? "nobody"}, the kernel gave {actual ?? "nobody"}\n  {string.Join("\n  ", trace.Steps)}");
            }
        }

        mismatches.Should().BeEmpty();

        // The matrix has both outcomes, so agreeing is not agreeing on "nobody" everywhere.
        answers.Should().HaveCount(22).And.Contain("c1").And.Contain("c2").And.Contain((string?)null);
        answers.Count(a => a is not null).Should().BeGreaterThanOrEqualTo(10);
    }

    private static SimulatedPacket Packet(string from, TransportProtocol protocol, IPAddress destination, int port)
    {
        var v6 = destination.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6;
        return from switch
        {
            "ext" => new(IPAddress.Parse(v6 ? Ext6 : Ext4), destination, protocol, port) { InInterface = "eth0" },
            "c1" => new(IPAddress.Parse(v6 ? C1v6 : C1v4), destination, protocol, port) { InInterface = "br0" },
            "c2" => new(IPAddress.Parse(v6 ? C2v6 : C2v4), destination, protocol, port) { InInterface = "br0" },

            // The host's own connection to one of its addresses leaves from that address.
            _ => new(destination, destination, protocol, port) { LocallyGenerated = true },
        };
    }

    /// <summary>
    /// Who answers, judged from the trace: nobody when the packet is dropped or stays on the host (no server listens
    /// there), else whoever owns the final destination, unless that server would answer a source on its own network
    /// directly, past the translation (a hairpin that was not masqueraded).
    /// </summary>
    private static string? Predict(PacketTrace trace)
    {
        if (trace.Dropped || trace.DeliveredLocally || !Owners.TryGetValue(trace.FinalDestination.Address.ToString(), out var owner))
        {
            return null;
        }

        var sameNetwork = Owners.TryGetValue(trace.FinalSource.ToString(), out var sourceOwner) && sourceOwner is "c1" or "c2" && owner is "c1" or "c2";
        return sameNetwork && !trace.Masqueraded ? null : owner;
    }
}
