using System.Diagnostics;
using System.Net;

namespace NatMap.Iptables.IntegrationTests.Infrastructure;

/// <summary>
/// A small network in throwaway namespaces, built without Docker:
/// <code>
///   ext (10.99.0.2, fd99::2) ── eth0 ── host (A 10.99.0.1 / fd99::1, B 10.99.0.11 / fd99::11)
///                                        └─ br0 (172.30.0.1, fd30::1) ── c1 (172.30.0.2, fd30::2)
///                                                                     └─ c2 (172.30.0.3, fd30::3)
/// </code>
/// The host forwards (inside its own namespace only). Every server answers with its own name, so a probe tells who
/// answered: <c>c1</c>, <c>c2</c>, <c>ext</c> or nobody. Disposal kills the servers and deletes the namespaces.
/// </summary>
internal sealed class Topology : IAsyncDisposable
{
    public const string HostA4 = "10.99.0.1", HostB4 = "10.99.0.11", Ext4 = "10.99.0.2", Bridge4 = "172.30.0.1", C1v4 = "172.30.0.2", C2v4 = "172.30.0.3";
    public const string HostA6 = "fd99::1", HostB6 = "fd99::11", Ext6 = "fd99::2", Bridge6 = "fd30::1", C1v6 = "fd30::2", C2v6 = "fd30::3";

    private static readonly CliWrapCommandRunner Runner = new(TimeSpan.FromSeconds(30));
    private readonly List<Process> _servers = [];
    private readonly List<string> _namespaces = [];

    private Topology(string prefix, string backend)
    {
        Prefix = prefix;
        Backend = backend;
    }

    public string Prefix { get; }

    public string Backend { get; }

    /// <summary>Gets the iptables variant the host's own rules use: <c>nft</c> or <c>legacy</c> (<c>nft</c> beside the native nftables backend).</summary>
    public string Iptables => Kernel.IptablesOf(Backend);

    /// <summary>Gets whether the manager uses the native nftables backend.</summary>
    public bool IsNftables => Backend == Kernel.Nftables;

    public string Host => Prefix + "h";

    public string Ext => Prefix + "e";

    public string C1 => Prefix + "c1";

    public string C2 => Prefix + "c2";

    /// <summary>Builds the network; servers listen on <paramref name="ports"/> (tcp and udp, IPv4 and IPv6) in c1, c2 and ext.</summary>
    public static async Task<Topology> CreateAsync(string backend, params int[] ports)
    {
        Kernel.RequireRoot();
        var topology = new Topology($"nm{Guid.NewGuid():N}"[..8], backend);
        try
        {
            await topology.BuildAsync(ports);
            return topology;
        }
        catch
        {
            await topology.DisposeAsync();
            throw;
        }
    }

    public NatMapOptions Options(Action<NatMapOptions>? configure = null)
    {
        var options = new NatMapOptions
        {
            NetworkNamespace = Host,
            IptablesPath = $"iptables-{Iptables}",
            Ip6tablesPath = $"ip6tables-{Iptables}",
            Backend = IsNftables ? NatMapBackend.Nftables : NatMapBackend.Iptables,
        };
        configure?.Invoke(options);
        return options;
    }

    public IptablesManager Manager(Action<NatMapOptions>? configure = null) => new(Runner, Options(configure));

    /// <summary>
    /// Connects from <paramref name="ns"/> and returns the name of whoever answered, or <see langword="null"/> when
    /// nobody did in three attempts (so a slow first packet on a loaded machine is not mistaken for a blocked path).
    /// Any output counts as an answer, whatever socat's exit code; "nobody" needs a refusal or a timeout, and any
    /// other failure (no route, a bad address, socat missing) throws, so a broken probe never reads as a blocked path.
    /// </summary>
    public async Task<string?> ProbeAsync(string ns, TransportProtocol protocol, string address, int port)
    {
        var failures = new List<ProbeOutcome>();
        for (var attempt = 0; attempt < 3; attempt++)
        {
            var outcome = await Probe.RunAsync(ns, protocol, address, port, attempts: 1);
            if (outcome.Answer is not null)
            {
                return outcome.Answer;
            }

            failures.Add(outcome);
            if (!outcome.RefusedOrTimedOut)
            {
                throw new InvalidOperationException($"probe failed, neither answered, refused nor timed out:{Environment.NewLine}{string.Join(Environment.NewLine, failures)}");
            }
        }

        // A failing test shows what the probe saw and which rules packets hit, for paths that were expected to work.
        var output = TestContext.Current.TestOutputHelper;
        output?.WriteLine($"probe got no answer:{Environment.NewLine}{string.Join(Environment.NewLine, failures)}");
        if (output is not null && Environment.GetEnvironmentVariable("NATMAP_PROBE_DIAG") == "1")
        {
            foreach (var command in new[] { new[] { $"iptables-{Iptables}-save", "-c" }, [$"ip6tables-{Iptables}-save", "-c"], ["nft", "list", "ruleset"] })
            {
                var save = await Runner.RunAsync(new CommandSpec("ip", ["netns", "exec", Host, .. command]), TestContext.Current.CancellationToken);
                output.WriteLine(save.StandardOutput);
            }
        }

        return null;
    }

    /// <summary>
    /// What source address the server in <paramref name="serverNs"/> saw for a TCP connection from
    /// <paramref name="clientNs"/>, or <see langword="null"/> when the connection was refused or timed out. The client
    /// connects once the server is seen listening; any other failure throws.
    /// </summary>
    public async Task<string?> SeenSourceAsync(string clientNs, string serverNs, string address, int port)
    {
        var v6 = address.Contains(':', StringComparison.Ordinal);
        var listen = $"{(v6 ? "TCP6" : "TCP4")}-LISTEN:{port},reuseaddr";
        using var server = Start(serverNs, "socat", "-T", "5", listen, "SYSTEM:echo $SOCAT_PEERADDR");
        try
        {
            var deadline = DateTime.UtcNow.AddSeconds(10);
            while (!(await ExecAsync(serverNs, "ss", "-Hltn")).Split('\n').Any(l => l.Contains($":{port} ", StringComparison.Ordinal)))
            {
                Assert.True(DateTime.UtcNow < deadline && !server.HasExited, $"the source-reporting server in {serverNs} did not listen on {port}");
                await Task.Delay(20, TestContext.Current.CancellationToken);
            }

            var result = await Runner.RunAsync(
                new CommandSpec("ip", ["netns", "exec", clientNs, "timeout", "5", "socat", "-T", "2", "-t", "2", "-", Target(TransportProtocol.Tcp, address, port)], ""),
                TestContext.Current.CancellationToken);
            var answer = result.StandardOutput.Trim().Trim('[', ']');
            if (answer.Length == 0 && new ProbeOutcome(clientNs, null, result.ExitCode, result.StandardError).RefusedOrTimedOut)
            {
                return null;
            }

            return IPAddress.TryParse(answer, out var seen)
                ? seen.ToString()
                : throw new InvalidOperationException($"[{clientNs}] -> {address}:{port}: exit {result.ExitCode}, stdout '{answer}', stderr '{result.StandardError.Trim()}'");
        }
        finally
        {
            Kill(server);
        }
    }

    /// <summary>
    /// The host's ruleset for one family, as iptables-save prints it less comments and counters; beside the native
    /// nftables backend followed by the whole nftables ruleset less counters (<c>nft -s list ruleset</c>), byte for byte.
    /// Counters are left out as in the iptables part: they count whatever crossed the host meanwhile (the tests' own
    /// probes, and IPv6 neighbour and multicast traffic timed by the kernel), not the ruleset.
    /// </summary>
    public async Task<string> SaveAsync(bool ipv6) =>
        TestNamespace.NormalizeSave(await ExecAsync(Host, $"{(ipv6 ? "ip6tables" : "iptables")}-{Iptables}-save"))
        + (IsNftables ? "\n# nft list ruleset\n" + await ExecAsync(Host, "nft", "-s", "list", "ruleset") : string.Empty);

    public Task AddForeignRulesAsync() => ForeignRules.AddAsync(args => ExecAsync(Host, args), Iptables);

    /// <summary>What a host running Docker allows: containers may open connections out, and their replies come back.</summary>
    public async Task AllowContainersOutAsync()
    {
        foreach (var program in new[] { $"iptables-{Iptables}", $"ip6tables-{Iptables}" })
        {
            await ExecAsync(Host, program, "-A", "FORWARD", "-i", "br0", "-j", "ACCEPT");
            await ExecAsync(Host, program, "-A", "FORWARD", "-o", "br0", "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT");
        }
    }

    /// <summary>
    /// Makes ext send packets addressed to 127.0.0.1 out of its eth0 toward the host, as an attacker on the LAN can:
    /// its own loopback address is removed and 127.0.0.1 is routed via the host.
    /// </summary>
    public async Task RouteLoopbackThroughHostAsync()
    {
        await ExecAsync(Ext, "ip", "addr", "del", "127.0.0.1/8", "dev", "lo");
        await ExecAsync(Ext, "sysctl", "-q", "-w", "net.ipv4.conf.all.route_localnet=1");
        await ExecAsync(Ext, "sysctl", "-q", "-w", "net.ipv4.conf.eth0.route_localnet=1");
        await ExecAsync(Ext, "ip", "route", "add", "127.0.0.1/32", "via", HostA4, "dev", "eth0");
    }

    /// <summary>
    /// Sends one UDP datagram from <paramref name="ns"/> out of a fixed <paramref name="sourcePort"/>, so that every call
    /// belongs to the same conntrack flow, and returns who answered: a server's name, <c>refused</c> when an ICMP error
    /// came back (nothing listens there), or <see langword="null"/> when nothing came back within the timeout.
    /// </summary>
    public async Task<string?> UdpFlowAsync(string ns, string address, int port, int sourcePort)
    {
        var target = Target(TransportProtocol.Udp, address, port) + $",sourceport={sourcePort},reuseaddr";
        var result = await Runner.RunAsync(
            new CommandSpec("ip", ["netns", "exec", ns, "timeout", "8", "socat", "-T", "3", "-t", "3", "-", target], "probe\n"),
            TestContext.Current.CancellationToken);
        var answer = result.StandardOutput.Trim();
        if (answer.Length > 0)
        {
            return answer;
        }

        return result.StandardError.Contains("Connection refused", StringComparison.Ordinal) ? "refused"
            : result.ExitCode == 0 ? null
            : throw new InvalidOperationException($"the UDP probe failed: exit {result.ExitCode}, {result.StandardError.Trim()}");
    }

    /// <summary>
    /// Starts UDP servers in <paramref name="ns"/> that answer <paramref name="name"/>, one bound to each of
    /// <paramref name="addresses"/>: an unbound socket on a host with two addresses on one link could answer from the
    /// other one, which the client's connected socket ignores.
    /// </summary>
    public async Task StartUdpServerAsync(string ns, string name, int port, params string[] addresses)
    {
        foreach (var address in addresses)
        {
            var v6 = address.Contains(':', StringComparison.Ordinal);
            _servers.Add(Start(ns, "socat", "-T", "2", $"{(v6 ? "UDP6" : "UDP4")}-RECVFROM:{port},fork,reuseaddr,bind={(v6 ? $"[{address}]" : address)}", $"SYSTEM:echo {name}; exec cat >/dev/null"));
        }

        var deadline = DateTime.UtcNow.AddSeconds(10);
        while ((await ExecAsync(ns, "ss", "-Hlnu")).Split('\n').Count(l => l.Contains($":{port} ", StringComparison.Ordinal)) < addresses.Length)
        {
            Assert.True(DateTime.UtcNow < deadline, $"the UDP server on {port} in {ns} did not start");
            await Task.Delay(50, TestContext.Current.CancellationToken);
        }
    }

    /// <summary>Makes ext route the container network through the host, as a LAN neighbour can: direct routing.</summary>
    public async Task RouteContainersThroughHostAsync()
    {
        await ExecAsync(Ext, "ip", "route", "add", "172.30.0.0/24", "via", HostA4);
        await ExecAsync(Ext, "ip", "-6", "route", "add", "fd30::/64", "via", HostA6);
    }

    /// <summary>A socat client address: <c>TCP4:10.99.0.1:8080,connect-timeout=3</c>, <c>UDP6:[fd99::1]:53</c>.</summary>
    private static string Target(TransportProtocol protocol, string address, int port)
    {
        var v6 = address.Contains(':', StringComparison.Ordinal);
        var host = v6 ? $"[{address}]" : address;
        return protocol == TransportProtocol.Tcp
            ? $"{(v6 ? "TCP6" : "TCP4")}:{host}:{port},connect-timeout=3"
            : $"{(v6 ? "UDP6" : "UDP4")}:{host}:{port}";
    }

    /// <summary>Runs a command in <paramref name="ns"/>; fails the test when it exits non-zero. A legacy iptables command waits for the xtables lock (<see cref="Xtables"/>).</summary>
    public async Task<string> ExecAsync(string ns, params string[] arguments)
    {
        var result = await Runner.RunAsync(new CommandSpec("ip", Xtables.InNamespace(ns, arguments[0], arguments[1..])), TestContext.Current.CancellationToken);
        Assert.True(result.ExitCode == 0, $"[{ns}] {string.Join(' ', arguments)} exited {result.ExitCode}: {result.StandardError}");
        return result.StandardOutput;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var server in _servers)
        {
            Kill(server);
            server.Dispose();
        }

        foreach (var ns in _namespaces)
        {
            await Runner.RunAsync(new CommandSpec("ip", ["netns", "delete", ns]), CancellationToken.None);
        }
    }

    private async Task BuildAsync(int[] ports)
    {
        foreach (var ns in new[] { Host, Ext, C1, C2 })
        {
            await Root("ip", "netns", "add", ns);
            _namespaces.Add(ns);
            await ExecAsync(ns, "ip", "link", "set", "lo", "up");

            // No duplicate address detection: tentative link-local addresses would hold up neighbour discovery.
            await ExecAsync(ns, "sysctl", "-q", "-w", "net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0");
        }

        // host <-> ext
        await ExecAsync(Host, "ip", "link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", Ext);
        await Address(Host, "eth0", $"{HostA4}/24", $"{HostB4}/24", $"{HostA6}/64", $"{HostB6}/64");
        await Address(Ext, "eth0", $"{Ext4}/24", $"{Ext6}/64");
        await ExecAsync(Ext, "ip", "route", "add", "default", "via", HostA4);
        await ExecAsync(Ext, "ip", "-6", "route", "add", "default", "via", HostA6);

        // host bridge with two containers
        await ExecAsync(Host, "ip", "link", "add", "br0", "type", "bridge");
        await Address(Host, "br0", $"{Bridge4}/24", $"{Bridge6}/64");
        foreach (var (ns, v4, v6, port) in new[] { (C1, C1v4, C1v6, "vc1"), (C2, C2v4, C2v6, "vc2") })
        {
            await ExecAsync(Host, "ip", "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns);
            await ExecAsync(Host, "ip", "link", "set", port, "master", "br0");

            // What a container runtime (Docker, Podman) does: let the bridge send a frame back out the port it came
            // from, so a container can reach itself through a published port.
            await ExecAsync(Host, "ip", "link", "set", "dev", port, "type", "bridge_slave", "hairpin", "on");
            await ExecAsync(Host, "ip", "link", "set", port, "up");
            await Address(ns, "eth0", $"{v4}/24", $"{v6}/64");
            await ExecAsync(ns, "ip", "route", "add", "default", "via", Bridge4);
            await ExecAsync(ns, "ip", "-6", "route", "add", "default", "via", Bridge6);
        }

        await ExecAsync(Host, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1");
        await ExecAsync(Host, "sysctl", "-q", "-w", "net.ipv6.conf.all.forwarding=1");

        foreach (var ns in new[] { C1, C2, Ext })
        {
            var name = ns == Ext ? "ext" : ns == C1 ? "c1" : "c2";
            foreach (var port in ports)
            {
                // The TCP server drains its input after answering: with a bare "echo", the probe's line could reach a
                // child whose echo had already exited, and socat then dropped the connection without the answer
                // (about 1 probe in 300 on a local path).
                foreach (var listen in new[] { "TCP4-LISTEN", "TCP6-LISTEN" })
                {
                    _servers.Add(Start(ns, "socat", $"{listen}:{port},fork,reuseaddr{(listen == "TCP6-LISTEN" ? ",ipv6only=1" : string.Empty)}", $"SYSTEM:echo {name}; exec cat >/dev/null"));
                }

                foreach (var listen in new[] { "UDP4-RECVFROM", "UDP6-RECVFROM" })
                {
                    _servers.Add(StartUdpServer(ns, name, listen, port));
                }
            }
        }

        await WaitForListenersAsync(ports);
    }

    private async Task WaitForListenersAsync(int[] ports)
    {
        // Wait until every TCP listener is up: ss in each server namespace lists them.
        var deadline = DateTime.UtcNow.AddSeconds(10);
        foreach (var ns in new[] { C1, C2, Ext })
        {
            while (true)
            {
                var output = await ExecAsync(ns, "ss", "-Hlntu");
                if (ports.All(p => output.Split('\n').Count(l => l.Contains($":{p} ", StringComparison.Ordinal)) >= 4))
                {
                    break;
                }

                Assert.True(DateTime.UtcNow < deadline, $"servers in {ns} did not start: {output}");
                await Task.Delay(50, TestContext.Current.CancellationToken);
            }
        }
    }

    private async Task Address(string ns, string device, params string[] cidrs)
    {
        foreach (var cidr in cidrs)
        {
            await ExecAsync(ns, cidr.Contains(':', StringComparison.Ordinal) ? ["ip", "addr", "add", cidr, "dev", device, "nodad"] : ["ip", "addr", "add", cidr, "dev", device]);
        }

        await ExecAsync(ns, "ip", "link", "set", device, "up");
    }

    private static async Task Root(params string[] arguments)
    {
        var result = await Runner.RunAsync(new CommandSpec(arguments[0], arguments[1..]), TestContext.Current.CancellationToken);
        Assert.True(result.ExitCode == 0, $"{string.Join(' ', arguments)} exited {result.ExitCode}: {result.StandardError}");
    }

    /// <summary>
    /// A UDP server that answers each datagram with <paramref name="name"/>. Like the TCP servers it drains its input:
    /// with a bare "echo", the datagram could reach a child whose echo had already exited, and socat then lost the
    /// answer to a broken pipe (seen often on a loaded machine). The child ends after 2 idle seconds.
    /// </summary>
    private static Process StartUdpServer(string ns, string name, string listen, int port) =>
        Start(ns, "socat", "-T", "2", $"{listen}:{port},fork,reuseaddr{(listen == "UDP6-RECVFROM" ? ",ipv6only=1" : string.Empty)}", $"SYSTEM:echo {name}; exec cat >/dev/null");

    private static Process Start(string ns, params string[] arguments)
    {
        var info = new ProcessStartInfo("ip") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in (string[])["netns", "exec", ns, .. arguments])
        {
            info.ArgumentList.Add(argument);
        }

        return Process.Start(info) ?? throw new InvalidOperationException("could not start " + string.Join(' ', arguments));
    }

    private static void Kill(Process process)
    {
        try
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit(2000);
        }
        catch (InvalidOperationException)
        {
        }
    }
}
