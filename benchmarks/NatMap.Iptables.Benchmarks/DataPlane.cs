using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace NatMap.Iptables.Benchmarks;

/// <summary>
/// Data-plane benchmark (issue 14 item 7), as root: the rate of new TCP connections through one mapping when the
/// library holds N mappings, over the rate when it holds that mapping alone (after Setup), for a client on the host
/// itself and for a client whose connections the host forwards. Everything runs in fresh network namespaces, and the
/// library is driven through its public API only (<see cref="IptablesManager"/>: SetupAsync, then SyncAsync), so the
/// figure measures whatever rules or maps the library installs.
/// </summary>
/// <remarks>
/// <para>
/// Each configuration is three namespaces: H, where the library runs and which routes (ip_forward on); C, an external
/// client, linked to H by a veth (C 10.99.0.2/24, H 10.99.0.1/24); K, a container, linked to H by a veth on
/// 172.17.0.0/16 (H 172.17.0.1, K 172.17.255.254, an address none of the other mappings uses), running a server on
/// port 80 that sends a short marker and closes. The measured mapping is the last of the N and has the highest host
/// port, <c>0.0.0.0:(10000 + N - 1)/tcp -> 172.17.255.254:80</c>: the worst case for a walk of the mappings in port or
/// insertion order. The other N - 1 are KernelScale's (<c>0.0.0.0:10000+i -> 172.17.x.y:80</c>, containers that do not
/// exist). The baseline is a second configuration of its own, Setup plus the measured mapping alone (same ports).
/// Every container listens on port 80, as on a Docker host full of web servers; <c>--container-ports distinct</c> gives
/// each container its host port instead (the measured one too), for rules indexed by container port.
/// </para>
/// <para>
/// Paths: <c>local</c>, a client in H connecting to H's own address 10.99.0.1 (not loopback) at the mapped port;
/// <c>forward</c>, a client in C connecting to the same address and port, so H forwards the connection to K;
/// <c>unmapped-local</c>, a client in H connecting to a server in H on port 9000, which no mapping names (what the
/// mappings cost connections that have nothing to do with them). A connection counts only when it read the server's
/// whole marker; the client then closes with RST (linger 0), so no TIME_WAIT piles up. The clients and servers are this
/// program itself, run inside the namespaces with <c>ip netns exec</c> (hidden commands <c>dp-client</c> and
/// <c>dp-server</c>).
/// </para>
/// <para>
/// The machine is shared and noisy, so both configurations stay set up for the whole N, and the measurements
/// alternate, the baseline first in even pairs and N first in odd ones; the ratio is the median of the pairs' ratios.
/// Before measuring, every path of both configurations must carry verified connections, and a connection to a port
/// nobody serves must fail, or the run stops.
/// </para>
/// </remarks>
internal static class DataPlane
{
    private const int ContainerPort = 80; // every container's, unless --container-ports distinct
    private const int UnmappedPort = 9000;
    private const int ClosedPort = 9001;
    private const int FirstHostPort = 10_000;
    private const int MaxMappings = 50_000;
    private const int VerifyConnections = 20;

    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;
    private static readonly IPAddress HostAddress = IPAddress.Parse("10.99.0.1");
    private static readonly IPAddress ContainerAddress = IPAddress.Parse("172.17.255.254");
    private static readonly byte[] Marker = Encoding.ASCII.GetBytes("natmap-dataplane\n");

    /// <summary>The paths measured: the name in the CSV metrics, and whether the client runs in C (forwarded) or in H.</summary>
    private static readonly (string Name, bool Forwarded, bool Mapped)[] AllPaths =
        [("local", false, true), ("forward", true, true), ("unmapped-local", false, false)];

    public static async Task<int> RunAsync(string[] args)
    {
        var backend = KernelScale.Option(args, "--backend", "nftables");
        if (backend is not ("nft" or "legacy" or "nftables"))
        {
            Console.Error.WriteLine($"--backend {backend}: expected nft (iptables-nft), legacy (iptables-legacy) or nftables (the native backend).");
            return 2;
        }

        var sizes = KernelScale.Option(args, "--sizes", "2000,20000").Split(',').Select(s => int.Parse(s, Inv)).ToArray();
        var seconds = double.Parse(KernelScale.Option(args, "--seconds", "3"), Inv);
        var repeats = int.Parse(KernelScale.Option(args, "--repeats", "5"), Inv);
        var connectors = int.Parse(KernelScale.Option(args, "--connectors", "4"), Inv);
        var names = KernelScale.Option(args, "--paths", "local,forward,unmapped-local").Split(',');
        var paths = AllPaths.Where(p => names.Contains(p.Name)).ToArray();
        var containerPorts = KernelScale.Option(args, "--container-ports", "same");
        if (containerPorts is not ("same" or "distinct"))
        {
            Console.Error.WriteLine($"--container-ports {containerPorts}: expected same (every container on port 80, as KernelScale) or distinct (each container on its host port).");
            return 2;
        }

        if (sizes.Any(n => n is < 1 or > MaxMappings) || repeats is < 1 or > 100 || seconds is < 0.5 or > 60 || connectors is < 1 or > 64 || paths.Length != names.Length)
        {
            Console.Error.WriteLine($"--sizes: 1 to {MaxMappings} mappings; --repeats: 1 to 100; --seconds: 0.5 to 60; --connectors: 1 to 64; --paths: some of {string.Join(',', AllPaths.Select(p => p.Name))}.");
            return 2;
        }

        var csv = KernelScale.Option(args, "--csv", string.Empty) is { Length: > 0 } file ? new CsvFigures(file, KernelScale.Option(args, "--label", backend)) : null;
        Console.WriteLine($"# {Environment.ProcessorCount} CPUs, {Environment.OSVersion}, .NET {Environment.Version}, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, load average {KernelScale.LoadAverage()}");
        Console.WriteLine(string.Create(Inv, $"# data plane: {BackendName(backend)}, new TCP connections/s through the last mapping (highest host port) with N mappings over Setup plus that mapping alone; {connectors} connectors, {seconds} s per measurement after 0.5 s of warm-up, {repeats} alternating pairs per path; the ratio is the median of the pairs' ratios; container ports: {(containerPorts == "same" ? "all 80" : "each its host port")}"));
        Console.WriteLine();
        Console.WriteLine("| N | path | baseline: Setup + the mapping (conn/s, median) | N mappings (conn/s, median) | N / baseline (median of pairs) | pairs' ratios | failed connections (baseline / N) |");
        Console.WriteLine("|---:|---|---:|---:|---:|---|---:|");
        foreach (var n in sizes)
        {
            var distinct = containerPorts == "distinct";
            var measured = new DockerPortMap("dataplane", new IPEndPoint(IPAddress.Any, FirstHostPort + n - 1), new IPEndPoint(ContainerAddress, distinct ? FirstHostPort + n - 1 : ContainerPort));
            var others = KernelScale.Maps(n, 0)[..^1].Select(m => distinct ? m with { ContainerEndpoint = new IPEndPoint(m.ContainerEndpoint.Address, m.HostEndpoint.Port) } : m);
            await using var baseline = await Topology.CreateAsync(backend, [measured]);
            await using var loaded = await Topology.CreateAsync(backend, [.. others, measured]);
            var structure = await loaded.DescribeAsync(backend, measured);
            Console.WriteLine(string.Create(Inv, $"# N = {n}: SetupAsync + SyncAsync took {baseline.SetupTime.TotalMilliseconds:0} ms with the one mapping, {loaded.SetupTime.TotalMilliseconds:0} ms with N; {structure}"));
            foreach (var path in paths)
            {
                await baseline.VerifyAsync(path, measured);
                await loaded.VerifyAsync(path, measured);
            }

            var pairs = paths.ToDictionary(p => p.Name, _ => new List<(Rate Baseline, Rate Loaded)>());
            for (var r = 0; r < repeats; r++)
            {
                foreach (var path in paths)
                {
                    Rate first, second;
                    if (r % 2 == 0)
                    {
                        first = await baseline.MeasureAsync(path, measured, seconds, connectors);
                        second = await loaded.MeasureAsync(path, measured, seconds, connectors);
                        pairs[path.Name].Add((first, second));
                    }
                    else
                    {
                        first = await loaded.MeasureAsync(path, measured, seconds, connectors);
                        second = await baseline.MeasureAsync(path, measured, seconds, connectors);
                        pairs[path.Name].Add((second, first));
                    }

                    var (b, l) = pairs[path.Name][^1];
                    Console.WriteLine(string.Create(Inv, $"# N = {n}, {path.Name}, pair {r + 1}: baseline {b.PerSecond:0} conn/s ({b.Failed} failed{b.Error}), N {l.PerSecond:0} conn/s ({l.Failed} failed{l.Error}), ratio {l.PerSecond / b.PerSecond:0.000}; load average {KernelScale.LoadAverage()}"));
                }
            }

            foreach (var path in paths)
            {
                var list = pairs[path.Name];
                var ratios = list.Select(p => p.Loaded.PerSecond / p.Baseline.PerSecond).Order().ToList();
                var baseRate = KernelScale.Median([.. list.Select(p => p.Baseline.PerSecond)]);
                var loadedRate = KernelScale.Median([.. list.Select(p => p.Loaded.PerSecond)]);
                var ratio = KernelScale.Median([.. ratios]);
                long baseFailed = list.Sum(p => p.Baseline.Failed), loadedFailed = list.Sum(p => p.Loaded.Failed);
                Console.WriteLine(string.Create(Inv,
                    $"| {n} | {path.Name} | {baseRate:0} | {loadedRate:0} | {ratio:0.000}× | {string.Join(", ", ratios.Select(x => x.ToString("0.00", Inv)))} | {baseFailed} / {loadedFailed} |"));
                if (csv is null)
                {
                    continue;
                }

                csv.Ratio(n, $"dataplane-{path.Name}-ratio", ratio);
                csv.Rate(n, $"dataplane-{path.Name}-cps", loadedRate);
                csv.Rate(n, $"dataplane-{path.Name}-baseline-cps", baseRate);
                csv.Count(n, $"dataplane-{path.Name}-failures", baseFailed + loadedFailed, "connections");
            }
        }

        Console.WriteLine($"# done {DateTime.UtcNow:HH:mm} UTC, load average {KernelScale.LoadAverage()}");
        return 0;
    }

    /// <summary>
    /// Hidden command <c>dp-client</c>, run inside a namespace: with <c>--verify K</c>, K connections one after the
    /// other; otherwise <c>--connectors</c> loops connecting as fast as they can, counted over <c>--seconds</c> after
    /// <c>--warmup</c>. Prints <c>OK FAILED SECONDS FIRST-ERROR</c> on one line.
    /// </summary>
    public static async Task<int> ClientAsync(string[] args)
    {
        var target = IPEndPoint.Parse(KernelScale.Option(args, "--target", string.Empty));
        var verify = int.Parse(KernelScale.Option(args, "--verify", "0"), Inv);
        long ok = 0, failed = 0;
        string? error = null;
        if (verify > 0)
        {
            for (var i = 0; i < verify; i++)
            {
                if (await ConnectOnceAsync(target, CancellationToken.None) is { } e)
                {
                    failed++;
                    error ??= e;
                }
                else
                {
                    ok++;
                }
            }

            Console.WriteLine(string.Create(Inv, $"{ok} {failed} 0 {error ?? "-"}"));
            return 0;
        }

        var seconds = double.Parse(KernelScale.Option(args, "--seconds", "3"), Inv);
        var warmup = double.Parse(KernelScale.Option(args, "--warmup", "0.5"), Inv);
        var connectors = int.Parse(KernelScale.Option(args, "--connectors", "4"), Inv);
        using var stop = new CancellationTokenSource();
        var loops = Enumerable.Range(0, connectors).Select(_ => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                if (await ConnectOnceAsync(target, stop.Token) is { } e)
                {
                    if (!stop.IsCancellationRequested)
                    {
                        Interlocked.Increment(ref failed);
                        Interlocked.CompareExchange(ref error, e, null);
                    }
                }
                else
                {
                    Interlocked.Increment(ref ok);
                }
            }
        })).ToArray();
        await Task.Delay(TimeSpan.FromSeconds(warmup));
        long ok0 = Interlocked.Read(ref ok), failed0 = Interlocked.Read(ref failed);
        var watch = Stopwatch.StartNew();
        await Task.Delay(TimeSpan.FromSeconds(seconds));
        long ok1 = Interlocked.Read(ref ok), failed1 = Interlocked.Read(ref failed);
        var elapsed = watch.Elapsed;
        await stop.CancelAsync();
        await Task.WhenAll(loops);
        Console.WriteLine(string.Create(Inv, $"{ok1 - ok0} {failed1 - failed0} {elapsed.TotalSeconds:0.0000} {error ?? "-"}"));
        return 0;
    }

    /// <summary>
    /// Hidden command <c>dp-server</c>, run inside a namespace: listens on <c>--port</c>, sends each connection the
    /// marker and closes it; prints <c>ready</c> once listening, and exits when its standard input closes (its parent
    /// is gone).
    /// </summary>
    public static async Task<int> ServerAsync(string[] args)
    {
        var port = int.Parse(KernelScale.Option(args, "--port", "80"), Inv);
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        listener.Bind(new IPEndPoint(IPAddress.Any, port));
        listener.Listen(4096);
        Console.WriteLine("ready");
        var loops = Enumerable.Range(0, 4).Select(_ => Task.Run(async () =>
        {
            while (true)
            {
                Socket connection;
                try
                {
                    connection = await listener.AcceptAsync();
                }
                catch (SocketException)
                {
                    continue;
                }
                catch (ObjectDisposedException)
                {
                    return;
                }

                using (connection)
                {
                    try
                    {
                        await connection.SendAsync(Marker, SocketFlags.None);
                    }
                    catch (SocketException)
                    {
                        // The client reset first: it counts the connection as failed.
                    }
                }
            }
        })).ToArray();
        await Console.In.ReadToEndAsync();
        listener.Close();
        await Task.WhenAll(loops);
        return 0;
    }

    /// <summary>One connection: connect, read the whole marker until the server closes, then reset (linger 0). Returns <see langword="null"/> when it worked, else why not.</summary>
    private static async Task<string?> ConnectOnceAsync(IPEndPoint target, CancellationToken stop)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.LingerState = new LingerOption(true, 0);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stop);
        timeout.CancelAfter(TimeSpan.FromSeconds(2));
        try
        {
            await socket.ConnectAsync(target, timeout.Token);
            var buffer = new byte[Marker.Length + 1];
            var total = 0;
            while (total < buffer.Length)
            {
                var read = await socket.ReceiveAsync(buffer.AsMemory(total), SocketFlags.None, timeout.Token);
                if (read == 0)
                {
                    break;
                }

                total += read;
            }

            return buffer.AsSpan(0, total).SequenceEqual(Marker) ? null : $"reply of {total} bytes, not the marker";
        }
        catch (SocketException e)
        {
            return e.SocketErrorCode.ToString();
        }
        catch (OperationCanceledException)
        {
            return "timeout (2 s)";
        }
    }

    private static string BackendName(string backend) => backend == "nftables" ? "native nftables (NatMapBackend.Nftables)" : $"iptables-{backend}";

    /// <summary>The program's own command line, to run it inside a namespace: the apphost, or <c>dotnet</c> and the dll.</summary>
    private static string[] Self()
    {
        var process = Environment.ProcessPath ?? throw new InvalidOperationException("No process path.");
        return Path.GetFileNameWithoutExtension(process) == "dotnet" ? [process, typeof(DataPlane).Assembly.Location] : [process];
    }

    /// <summary>One measurement: connections that read the marker per second, the failures, the first error.</summary>
    private readonly record struct Rate(double PerSecond, long Failed, string Error);

    /// <summary>
    /// One configuration: the namespaces H (the library, routing), C (the external client) and K (the container and
    /// its server), the mappings installed in H through the public API, and the servers running.
    /// </summary>
    private sealed class Topology : IAsyncDisposable
    {
        private static readonly CliWrapCommandRunner Shell = new(TimeSpan.FromMinutes(2));
        private readonly List<Namespace> _namespaces = [];
        private readonly List<Process> _servers = [];

        private Namespace Host => _namespaces[0];

        private Namespace Client => _namespaces[1];

        private Namespace Container => _namespaces[2];

        public TimeSpan SetupTime { get; private set; }

        public static async Task<Topology> CreateAsync(string backend, DockerPortMap[] maps)
        {
            var topology = new Topology();
            try
            {
                foreach (var prefix in new[] { "nmdp-h-", "nmdp-c-", "nmdp-k-" })
                {
                    topology._namespaces.Add(await Namespace.CreateAsync(prefix));
                }

                await topology.WireAsync();
                var manager = new IptablesManager(new CliWrapCommandRunner(TimeSpan.FromMinutes(10)), topology.Host.Options(backend, RuleApplyMode.Batch));
                var watch = Stopwatch.StartNew();
                await manager.SetupAsync();
                await manager.SyncAsync(new NatMapState { DockerMaps = maps });
                topology.SetupTime = watch.Elapsed;

                // Closed and reset flows leave H's conntrack table at once, so thousands of connections a second do
                // not fill it (these timeouts are per namespace; the library's NAT has loaded conntrack by now).
                await topology.Host.ExecAsync("sysctl", "-q", "-w", "net.netfilter.nf_conntrack_tcp_timeout_close=1", "net.netfilter.nf_conntrack_tcp_timeout_time_wait=1",
                    "net.netfilter.nf_conntrack_tcp_timeout_fin_wait=1", "net.netfilter.nf_conntrack_tcp_timeout_close_wait=1", "net.netfilter.nf_conntrack_tcp_timeout_last_ack=1");
                await topology.StartServerAsync(topology.Container, maps[^1].ContainerEndpoint.Port);
                await topology.StartServerAsync(topology.Host, UnmappedPort);
                return topology;
            }
            catch
            {
                await topology.DisposeAsync();
                throw;
            }
        }

        /// <summary>Checks that a path carries verified connections and that a connection to a port nobody serves fails; throws otherwise.</summary>
        public async Task VerifyAsync((string Name, bool Forwarded, bool Mapped) path, DockerPortMap measured)
        {
            var (ok, failed, error, _) = await RunClientAsync(path, Target(path, measured), "--verify", VerifyConnections.ToString(Inv));
            if (ok != VerifyConnections)
            {
                throw new InvalidOperationException($"Path {path.Name} in {Host.Name} does not work: {ok} of {VerifyConnections} connections read the server's marker, {failed} failed ({error}).");
            }

            var closed = new IPEndPoint(HostAddress, ClosedPort);
            (ok, failed, _, _) = await RunClientAsync(path, closed, "--verify", "3");
            if (ok != 0 || failed != 3)
            {
                throw new InvalidOperationException($"Path {path.Name} in {Host.Name}: connections to {closed}, which nothing serves, did not fail ({ok} worked, {failed} failed): the client cannot tell a failure.");
            }
        }

        public async Task<Rate> MeasureAsync((string Name, bool Forwarded, bool Mapped) path, DockerPortMap measured, double seconds, int connectors)
        {
            var (ok, failed, error, elapsed) = await RunClientAsync(path, Target(path, measured),
                "--seconds", seconds.ToString(Inv), "--connectors", connectors.ToString(Inv));
            return new Rate(ok / elapsed, failed, failed > 0 ? $", first: {error}" : string.Empty);
        }

        /// <summary>How the installed rules reach the measured mapping, read from the kernel by hand: its DNAT rule's place in its chain (iptables), the rules that look the mappings up (nftables).</summary>
        public async Task<string> DescribeAsync(string backend, DockerPortMap measured)
        {
            if (backend == "nftables")
            {
                var table = await Host.ExecAsync("nft", "list", "table", "inet", Nftables.NftRenderer.Default.Table);
                var rules = table.Split('\n').Select(l => l.Trim()).Where(l => l.Contains("dnat", StringComparison.Ordinal)).Take(8);
                return "the nftables rules that translate (map lookups): " + string.Join(" | ", rules);
            }

            var save = (await Host.ExecAsync($"iptables-{backend}-save", "-t", "nat")).Split('\n');
            var appends = save.Where(l => l.StartsWith("-A ", StringComparison.Ordinal)).ToList();
            var port = $"--dport {measured.HostEndpoint.Port} ";
            var rule = appends.FindIndex(l => l.Contains(port, StringComparison.Ordinal) && l.Contains("DNAT", StringComparison.Ordinal));
            if (rule < 0)
            {
                return $"no DNAT rule for port {measured.HostEndpoint.Port} in iptables-save -t nat";
            }

            var chain = appends[rule].Split(' ')[1];
            var inChain = appends.Where(l => l.Split(' ')[1] == chain).ToList();
            return string.Create(Inv, $"nat table: {appends.Count} rules; the measured DNAT is rule {inChain.IndexOf(appends[rule]) + 1} of {inChain.Count} in chain {chain}");
        }

        public async ValueTask DisposeAsync()
        {
            foreach (var server in _servers)
            {
                server.Kill(entireProcessTree: true);
                await server.WaitForExitAsync();
                server.Dispose();
            }

            foreach (var ns in _namespaces)
            {
                await ns.DisposeAsync();
            }
        }

        private static IPEndPoint Target((string Name, bool Forwarded, bool Mapped) path, DockerPortMap measured) =>
            new(HostAddress, path.Mapped ? measured.HostEndpoint.Port : UnmappedPort);

        /// <summary>The veths and addresses (H 10.99.0.1 to C, 172.17.0.1 to K), routes, forwarding, a wide local port range, deep accept queues.</summary>
        private async Task WireAsync()
        {
            string[][] host =
            [
                ["ip", "link", "add", "hc", "type", "veth", "peer", "name", "ch", "netns", Client.Name],
                ["ip", "link", "add", "hk", "type", "veth", "peer", "name", "kh", "netns", Container.Name],
                ["ip", "addr", "add", $"{HostAddress}/24", "dev", "hc"],
                ["ip", "addr", "add", "172.17.0.1/16", "dev", "hk"],
                ["ip", "link", "set", "hc", "up"],
                ["ip", "link", "set", "hk", "up"],
                ["sysctl", "-q", "-w", "net.ipv4.ip_forward=1", "net.ipv4.ip_local_port_range=1024 65535", "net.core.somaxconn=4096", "net.ipv4.tcp_max_syn_backlog=4096"],
            ];
            string[][] client =
            [
                ["ip", "addr", "add", "10.99.0.2/24", "dev", "ch"],
                ["ip", "link", "set", "ch", "up"],
                ["ip", "route", "add", "default", "via", HostAddress.ToString()],
                ["sysctl", "-q", "-w", "net.ipv4.ip_local_port_range=1024 65535"],
            ];
            string[][] container =
            [
                ["ip", "addr", "add", $"{ContainerAddress}/16", "dev", "kh"],
                ["ip", "link", "set", "kh", "up"],
                ["ip", "route", "add", "default", "via", "172.17.0.1"],
                ["sysctl", "-q", "-w", "net.core.somaxconn=4096", "net.ipv4.tcp_max_syn_backlog=4096"],
            ];
            foreach (var (ns, commands) in new[] { (Host, host), (Client, client), (Container, container) })
            {
                foreach (var command in commands)
                {
                    await ns.ExecAsync(command);
                }
            }
        }

        private async Task StartServerAsync(Namespace ns, int port)
        {
            var start = new ProcessStartInfo("ip") { RedirectStandardInput = true, RedirectStandardOutput = true, UseShellExecute = false };
            foreach (var argument in (string[])["netns", "exec", ns.Name, .. Self(), "dp-server", "--port", port.ToString(Inv)])
            {
                start.ArgumentList.Add(argument);
            }

            var server = Process.Start(start) ?? throw new InvalidOperationException("The server did not start.");
            _servers.Add(server);
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            var line = await server.StandardOutput.ReadLineAsync(timeout.Token);
            if (line != "ready")
            {
                throw new InvalidOperationException($"The server in {ns.Name} on port {port} said {line ?? "nothing"}.");
            }
        }

        private async Task<(long Ok, long Failed, string Error, double Seconds)> RunClientAsync((string Name, bool Forwarded, bool Mapped) path, IPEndPoint target, params string[] options)
        {
            var ns = path.Forwarded ? Client : Host;
            var result = await Shell.RunAsync(new CommandSpec("ip", ["netns", "exec", ns.Name, .. Self(), "dp-client", "--target", target.ToString(), .. options]));
            var fields = result.StandardOutput.Trim().Split(' ', 4);
            if (!result.IsSuccess || fields.Length != 4)
            {
                throw new InvalidOperationException($"dp-client in {ns.Name} failed: {result.StandardError}{result.StandardOutput}");
            }

            return (long.Parse(fields[0], Inv), long.Parse(fields[1], Inv), fields[3], double.Parse(fields[2], Inv));
        }
    }
}
