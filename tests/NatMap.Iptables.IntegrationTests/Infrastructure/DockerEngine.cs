using System.Diagnostics;
using System.Formats.Tar;
using System.Globalization;
using System.Text.RegularExpressions;

namespace NatMap.Iptables.IntegrationTests.Infrastructure;

/// <summary>
/// A real Docker Engine (Debian's docker.io, dockerd 20.10 with its own containerd) in a throwaway network namespace,
/// with an external client namespace on its LAN side:
/// <code>
///   ext (10.97.0.2, fd97::2) ── eth0 ── docker host (10.97.0.1, fd97::1)
///                                        ├─ docker0 (10.123.0.1, fd23::1)       Docker's default bridge
///                                        └─ br-… "natmap" (10.124.0.1, fd24::1)  containers at fixed addresses
/// </code>
/// dockerd runs with <c>nsenter --net</c> (not <c>ip netns exec</c>, which remounts /sys and hides the cgroups it
/// needs), its own data root, exec root (which holds its containerd's state and socket), pidfile and socket, and the
/// iptables backend under test: its PATH starts with a directory where <c>iptables</c>, <c>ip6tables</c> and their
/// save/restore programs point at the <c>-nft</c> or <c>-legacy</c> variants. No registry is reachable, so the
/// image is imported from a tarball of <c>busybox-static</c> and <c>socat</c>. Every container server answers with
/// its own name, like <see cref="Topology"/>'s servers, so a probe tells who answered.
/// Disposal stops the containers and dockerd, waits for dockerd, containerd and the shims to exit (SIGKILL after a
/// bound), unmounts what is left under the root directory, and deletes the namespaces and the directory.
/// </summary>
internal sealed partial class DockerEngine : IAsyncDisposable
{
    public const string Host4 = "10.97.0.1", Ext4 = "10.97.0.2", Host6 = "fd97::1", Ext6 = "fd97::2";

    /// <summary>The user-defined network "natmap", where every test container gets a fixed address.</summary>
    public const string Subnet4 = "10.124.0.0/24", Subnet6 = "fd24::/64", NetworkName = "natmap";

    private const string Image = "natmap-server:test";
    private static readonly CliWrapCommandRunner Runner = new(TimeSpan.FromSeconds(60));
    private static readonly TimeSpan StartBound = TimeSpan.FromSeconds(60), StopBound = TimeSpan.FromSeconds(30);
    private readonly List<string> _namespaces = [];
    private Process? _dockerd;
    private bool _imported;

    private DockerEngine(string id, string backend)
    {
        Backend = backend;
        Host = $"nmdk{id}h";
        Ext = $"nmdk{id}e";
        Root = Path.Combine(Path.GetTempPath(), $"natmap-docker-{id}");
    }

    /// <summary>Gets the iptables backend dockerd and the library use: <c>nft</c> or <c>legacy</c>.</summary>
    public string Backend { get; }

    /// <summary>Gets the network namespace dockerd runs in (the "docker host").</summary>
    public string Host { get; }

    /// <summary>Gets the external client's network namespace, on the docker host's LAN side.</summary>
    public string Ext { get; }

    /// <summary>Gets the directory that holds everything of this engine: data root, exec root, socket, log, image.</summary>
    public string Root { get; }

    /// <summary>Gets whether dockerd is running.</summary>
    public bool Running => _dockerd is { HasExited: false };

    private string Socket => $"unix://{Path.Combine(Root, "docker.sock")}";

    private string LogFile => Path.Combine(Root, "dockerd.log");

    /// <summary>The address of test container <paramref name="index"/> on the "natmap" network.</summary>
    public static string Container4(int index) => $"10.124.0.{index}";

    /// <summary>The IPv6 address of test container <paramref name="index"/> on the "natmap" network.</summary>
    public static string Container6(int index) => $"fd24::{index:x}";

    /// <summary>Builds the namespaces and the root directory; starts dockerd unless <paramref name="start"/> is false.</summary>
    public static async Task<DockerEngine> CreateAsync(string backend, bool start = true)
    {
        Kernel.RequireRoot();
        RequireDocker();
        var engine = new DockerEngine($"{Guid.NewGuid():N}"[..8], backend);
        try
        {
            await engine.BuildAsync();
            if (start)
            {
                await engine.StartAsync();
            }

            return engine;
        }
        catch
        {
            await engine.DisposeAsync();
            throw;
        }
    }

    public NatMapOptions Options(Action<NatMapOptions>? configure = null)
    {
        var options = new NatMapOptions
        {
            NetworkNamespace = Host,
            IptablesPath = $"iptables-{Backend}",
            Ip6tablesPath = $"ip6tables-{Backend}",
        };
        configure?.Invoke(options);
        return options;
    }

    public IptablesManager Manager(Action<NatMapOptions>? configure = null) => new(Runner, Options(configure));

    /// <summary>
    /// Starts dockerd (again, with the same data root, after <see cref="StopAsync"/>) and waits until it answers.
    /// The first start also imports the image and creates the "natmap" network.
    /// </summary>
    public async Task StartAsync()
    {
        Assert.False(Running, "dockerd is already running");
        var info = new ProcessStartInfo("nsenter") { RedirectStandardOutput = true, RedirectStandardError = true };
        string[] arguments =
        [
            $"--net=/var/run/netns/{Host}", "dockerd",
            "--config-file", Path.Combine(Root, "daemon.json"),
            "--data-root", Path.Combine(Root, "data"),
            "--exec-root", Path.Combine(Root, "exec"),
            "--pidfile", Path.Combine(Root, "docker.pid"),
            "-H", Socket,
            "--userland-proxy=false",
            "--iptables=true",
            "--storage-driver=vfs",
            "--bip", "10.123.0.1/24",
            "--ipv6", "--fixed-cidr-v6", "fd23::/64",

            // dockerd 20.10 writes ip6tables rules only as an experimental feature.
            "--experimental", "--ip6tables",
        ];
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        info.Environment["PATH"] = $"{Path.Combine(Root, "bin")}:/usr/sbin:/usr/bin:/sbin:/bin";
        var log = new StreamWriter(LogFile, append: true) { AutoFlush = true };
        var dockerd = Process.Start(info) ?? throw new InvalidOperationException("could not start dockerd");
        dockerd.OutputDataReceived += (_, e) => Write(log, e.Data);
        dockerd.ErrorDataReceived += (_, e) => Write(log, e.Data);
        dockerd.Exited += (_, _) => log.Dispose();
        dockerd.EnableRaisingEvents = true;
        dockerd.BeginOutputReadLine();
        dockerd.BeginErrorReadLine();
        _dockerd = dockerd;

        var started = Stopwatch.StartNew();
        while (true)
        {
            var version = await Runner.RunAsync(new CommandSpec("docker", ["-H", Socket, "version", "--format", "{{.Server.Version}}"]), CancellationToken.None);
            if (version.ExitCode == 0)
            {
                break;
            }

            Assert.False(dockerd.HasExited, $"dockerd exited with {(dockerd.HasExited ? dockerd.ExitCode : 0)} before it answered:{Environment.NewLine}{LogTail()}");
            Assert.True(started.Elapsed < StartBound, $"dockerd did not answer within {StartBound}:{Environment.NewLine}{version.StandardError}{Environment.NewLine}{LogTail()}");
            await Task.Delay(200, CancellationToken.None);
        }

        if (!_imported)
        {
            await ImportImageAsync();
            await DockerAsync("network", "create", "--ipv6", "--subnet", Subnet4, "--subnet", Subnet6, NetworkName);
            _imported = true;
        }
    }

    /// <summary>
    /// Stops dockerd with SIGTERM (it stops its containers and its containerd), and waits for every process of this
    /// engine to exit: SIGKILL after <see cref="StopBound"/>. Leaves the data root in place for a restart.
    /// </summary>
    public async Task StopAsync()
    {
        if (_dockerd is { } dockerd)
        {
            if (!dockerd.HasExited)
            {
                _ = await Runner.RunAsync(new CommandSpec("kill", ["-TERM", dockerd.Id.ToString(CultureInfo.InvariantCulture)]), CancellationToken.None);
                using var bound = new CancellationTokenSource(StopBound);
                try
                {
                    await dockerd.WaitForExitAsync(bound.Token);
                }
                catch (OperationCanceledException)
                {
                    dockerd.Kill(entireProcessTree: true);
                    await dockerd.WaitForExitAsync(CancellationToken.None);
                }
            }

            dockerd.Dispose();
            _dockerd = null;
        }

        // Its containerd and the shims (started by containerd, reparented to init) name the exec root on their
        // command lines, so they are found by the directory only this engine uses.
        var deadline = Stopwatch.StartNew();
        while (Processes().Count > 0 && deadline.Elapsed < StopBound)
        {
            await Task.Delay(100, CancellationToken.None);
        }

        foreach (var pid in Processes())
        {
            _ = await Runner.RunAsync(new CommandSpec("kill", ["-KILL", pid.ToString(CultureInfo.InvariantCulture)]), CancellationToken.None);
        }

        deadline.Restart();
        while (Processes().Count > 0 && deadline.Elapsed < TimeSpan.FromSeconds(5))
        {
            await Task.Delay(100, CancellationToken.None);
        }
    }

    /// <summary>The ids of live processes whose command line names this engine's root directory (dockerd, containerd, shims).</summary>
    public IReadOnlyList<int> Processes()
    {
        var pids = new List<int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) || pid == Environment.ProcessId)
            {
                continue;
            }

            try
            {
                var cmdline = File.ReadAllText(Path.Combine(dir, "cmdline"));
                var state = File.ReadAllText(Path.Combine(dir, "stat"));

                // A zombie (state Z) has exited; only its parent's wait is missing.
                if (cmdline.Contains(Root, StringComparison.Ordinal) && !ZombieState().IsMatch(state))
                {
                    pids.Add(pid);
                }
            }
            catch (IOException)
            {
                // The process exited while being read.
            }
            catch (UnauthorizedAccessException)
            {
            }
        }

        return pids;
    }

    /// <summary>The mount points under this engine's root directory, deepest first.</summary>
    public IReadOnlyList<string> Mounts() =>
        File.ReadLines("/proc/mounts")
            .Select(l => l.Split(' ')[1].Replace("\\040", " ", StringComparison.Ordinal))
            .Where(m => m == Root || m.StartsWith(Root + "/", StringComparison.Ordinal))
            .Distinct()
            .OrderByDescending(m => m.Length)
            .ToList();

    /// <summary>Runs the docker CLI against this engine; fails the test when it exits non-zero.</summary>
    public async Task<string> DockerAsync(params string[] arguments)
    {
        var result = await Runner.RunAsync(new CommandSpec("docker", ["-H", Socket, .. arguments]), CancellationToken.None);
        Assert.True(result.ExitCode == 0, $"docker {string.Join(' ', arguments)} exited {result.ExitCode}: {result.StandardError}");
        return result.StandardOutput.Trim();
    }

    /// <summary>
    /// Runs container <paramref name="name"/> at address <paramref name="index"/> of the "natmap" network with
    /// servers on port 80 (TCP and UDP, both families) that answer with the name, and waits until they answer from
    /// the docker host. <paramref name="options"/> go to <c>docker run</c> (for example <c>-p 9090:80</c>).
    /// </summary>
    public async Task RunServerAsync(string name, int index, params string[] options)
    {
        // The TCP server drains its input after answering (see Topology). The UDP server keeps its input open a second
        // after answering: with a bare "echo", socat's write of the request could find the program gone (EPIPE) and
        // the child exited without sending the answer, for about one request in three. Under docker-init, SIGTERM ends
        // the shell and the init then kills the servers, so stopping a container takes no grace period.
        var script = string.Join(
            " & ",
            $"socat TCP4-LISTEN:80,fork,reuseaddr 'SYSTEM:echo {name}; exec cat >/dev/null'",
            $"socat TCP6-LISTEN:80,fork,reuseaddr,ipv6only=1 'SYSTEM:echo {name}; exec cat >/dev/null'",
            $"socat UDP4-RECVFROM:80,fork,reuseaddr 'SYSTEM:echo {name}; exec sleep 1'",
            $"socat UDP6-RECVFROM:80,fork,reuseaddr,ipv6only=1 'SYSTEM:echo {name}; exec sleep 1'",
            "wait");
        _ = await DockerAsync(
        [
            "run", "-d", "--init", "--name", name, "--restart", "always",
            "--network", NetworkName, "--ip", Container4(index), "--ip6", Container6(index),
            .. options, Image, "sh", "-c", script,
        ]);
        await WaitForServerAsync(name, index);
    }

    /// <summary>Waits until the servers in container <paramref name="index"/> answer from the docker host: tcp in both families, udp.</summary>
    public async Task WaitForServerAsync(string name, int index)
    {
        foreach (var (protocol, address) in new[] { (TransportProtocol.Tcp, Container4(index)), (TransportProtocol.Tcp, Container6(index)), (TransportProtocol.Udp, Container4(index)) })
        {
            var started = Stopwatch.StartNew();
            while (true)
            {
                var outcome = await Probe.RunAsync(Host, protocol, address, 80, attempts: 1, timeoutSeconds: 1);
                if (outcome.Answer == name)
                {
                    break;
                }

                Assert.True(started.Elapsed < TimeSpan.FromSeconds(30), $"container {name} did not answer: {outcome}");
                await Task.Delay(200, CancellationToken.None);
            }
        }
    }

    /// <summary>Removes every container of this engine (the engine stays up).</summary>
    public async Task RemoveContainersAsync()
    {
        var ids = (await DockerAsync("ps", "-aq")).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        if (ids.Length > 0)
        {
            _ = await DockerAsync(["rm", "-f", .. ids]);
        }
    }

    /// <summary>
    /// Runs a command in one of this engine's namespaces and returns its result, whatever the exit code. A legacy
    /// iptables command waits for the xtables lock (<see cref="Xtables"/>).
    /// </summary>
    public Task<CommandResult> RunAsync(string ns, params string[] arguments) =>
        Runner.RunAsync(new CommandSpec("ip", Xtables.InNamespace(ns, arguments[0], arguments[1..])), CancellationToken.None);

    /// <summary>Runs a command in one of this engine's namespaces; fails the test when it exits non-zero.</summary>
    public async Task<string> ExecAsync(string ns, params string[] arguments)
    {
        var result = await RunAsync(ns, arguments);
        Assert.True(result.ExitCode == 0, $"[{ns}] {string.Join(' ', arguments)} exited {result.ExitCode}: {result.StandardError}");
        return result.StandardOutput;
    }

    /// <summary>The docker host's ruleset for one family and backend, as iptables-save prints it less comments and counters.</summary>
    public async Task<string> SaveAsync(bool ipv6, string? backend = null) =>
        TestNamespace.NormalizeSave(await ExecAsync(Host, $"{(ipv6 ? "ip6tables" : "iptables")}-{backend ?? Backend}-save"));

    /// <summary>One table of <see cref="SaveAsync"/>: its header, chain policies, rules and COMMIT.</summary>
    public async Task<string> SaveTableAsync(string table, bool ipv6)
    {
        var lines = (await SaveAsync(ipv6)).Split('\n');
        var start = Array.IndexOf(lines, $"*{table}");
        Assert.True(start >= 0, $"no {table} table in the {(ipv6 ? "IPv6" : "IPv4")} ruleset");
        var end = Array.IndexOf(lines, "COMMIT", start);
        return string.Join('\n', lines[start..(end + 1)]);
    }

    public async ValueTask DisposeAsync()
    {
        if (Running)
        {
            // Containers first, with no grace period, so dockerd's own shutdown has nothing to wait for.
            _ = await Runner.RunAsync(new CommandSpec("docker", ["-H", Socket, "rm", "-f", "-v", .. await ContainerIdsAsync()]), CancellationToken.None);
        }

        await StopAsync();
        foreach (var mount in Mounts())
        {
            var result = await Runner.RunAsync(new CommandSpec("umount", ["-R", mount]), CancellationToken.None);
            if (result.ExitCode != 0)
            {
                _ = await Runner.RunAsync(new CommandSpec("umount", ["-l", "-R", mount]), CancellationToken.None);
            }
        }

        foreach (var ns in _namespaces)
        {
            _ = await Runner.RunAsync(new CommandSpec("ip", ["netns", "delete", ns]), CancellationToken.None);
        }

        if (Mounts().Count == 0 && Directory.Exists(Root))
        {
            // vfs layers hold read-only directories of the image; rm copes where Directory.Delete would not.
            _ = await Runner.RunAsync(new CommandSpec("rm", ["-rf", "--one-file-system", Root]), CancellationToken.None);
        }
    }

    /// <summary>The last lines of dockerd's log, for a failure message.</summary>
    public string LogTail() =>
        File.Exists(LogFile) ? string.Join(Environment.NewLine, ReadShared(LogFile).Split('\n').TakeLast(30)) : "(no log)";

    private static string ReadShared(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    private static void Write(StreamWriter log, string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (log)
        {
            try
            {
                log.WriteLine(line);
            }
            catch (ObjectDisposedException)
            {
            }
        }
    }

    private static void RequireDocker()
    {
        foreach (var tool in new[] { "/usr/sbin/dockerd", "/usr/bin/docker", "/usr/bin/containerd", "/bin/busybox", "/usr/bin/socat", "/usr/bin/nsenter" })
        {
            if (!File.Exists(tool))
            {
                Kernel.CannotRun($"requires a Docker Engine: '{tool}' is not installed (packages docker.io, busybox-static, socat, util-linux)");
            }
        }
    }

    private async Task<string[]> ContainerIdsAsync()
    {
        var result = await Runner.RunAsync(new CommandSpec("docker", ["-H", Socket, "ps", "-aq"]), CancellationToken.None);
        return result.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }

    private async Task BuildAsync()
    {
        _ = Directory.CreateDirectory(Root);
        await File.WriteAllTextAsync(Path.Combine(Root, "daemon.json"), "{}\n");

        // dockerd calls iptables, ip6tables and their save/restore programs by name: point them at the backend.
        var bin = Directory.CreateDirectory(Path.Combine(Root, "bin")).FullName;
        foreach (var family in new[] { "iptables", "ip6tables" })
        {
            foreach (var suffix in new[] { string.Empty, "-save", "-restore" })
            {
                _ = File.CreateSymbolicLink(Path.Combine(bin, family + suffix), $"/usr/sbin/{family}-{Backend}{suffix}");
            }
        }

        foreach (var ns in new[] { Host, Ext })
        {
            var add = await Runner.RunAsync(new CommandSpec("ip", ["netns", "add", ns]), CancellationToken.None);
            Assert.True(add.ExitCode == 0, $"ip netns add {ns}: {add.StandardError}");
            _namespaces.Add(ns);
            _ = await ExecAsync(ns, "ip", "link", "set", "lo", "up");

            // No duplicate address detection: tentative addresses would hold up the first IPv6 probes.
            _ = await ExecAsync(ns, "sysctl", "-q", "-w", "net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0");
        }

        _ = await ExecAsync(Host, "ip", "link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", Ext);
        foreach (var (ns, v4, v6) in new[] { (Host, Host4, Host6), (Ext, Ext4, Ext6) })
        {
            _ = await ExecAsync(ns, "ip", "addr", "add", $"{v4}/24", "dev", "eth0");
            _ = await ExecAsync(ns, "ip", "addr", "add", $"{v6}/64", "dev", "eth0", "nodad");
            _ = await ExecAsync(ns, "ip", "link", "set", "eth0", "up");
        }

        _ = await ExecAsync(Ext, "ip", "route", "add", "default", "via", Host4);
        _ = await ExecAsync(Ext, "ip", "-6", "route", "add", "default", "via", Host6);

        // dockerd turns IPv4 forwarding on itself (and sets FORWARD's policy to DROP); IPv6 forwarding it leaves to the host.
        _ = await ExecAsync(Host, "sysctl", "-q", "-w", "net.ipv6.conf.all.forwarding=1");
        await BuildImageTarballAsync();
    }

    /// <summary>
    /// A root filesystem of busybox-static (with its applet links) and socat with the shared libraries it loads,
    /// as a tarball for <c>docker import</c>.
    /// </summary>
    private async Task BuildImageTarballAsync()
    {
        var rootfs = Path.Combine(Root, "rootfs");
        var bin = Directory.CreateDirectory(Path.Combine(rootfs, "bin")).FullName;
        File.Copy("/bin/busybox", Path.Combine(bin, "busybox"));
        var applets = await Runner.RunAsync(new CommandSpec("/bin/busybox", ["--list"]), CancellationToken.None);
        foreach (var applet in applets.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(a => a != "busybox"))
        {
            _ = File.CreateSymbolicLink(Path.Combine(bin, applet), "busybox");
        }

        File.Copy("/usr/bin/socat", Path.Combine(bin, "socat"));
        var ldd = await Runner.RunAsync(new CommandSpec("ldd", ["/usr/bin/socat"]), CancellationToken.None);
        Assert.True(ldd.ExitCode == 0, $"ldd /usr/bin/socat: {ldd.StandardError}");
        foreach (var library in SharedLibrary().Matches(ldd.StandardOutput).Select(m => m.Groups[1].Value))
        {
            var target = Path.Combine(rootfs, library.TrimStart('/'));
            _ = Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(library, target, overwrite: true);
        }

        _ = Directory.CreateDirectory(Path.Combine(rootfs, "tmp"));
        await TarFile.CreateFromDirectoryAsync(rootfs, Path.Combine(Root, "rootfs.tar"), includeBaseDirectory: false);
    }

    private async Task ImportImageAsync() =>
        _ = await DockerAsync("import", Path.Combine(Root, "rootfs.tar"), Image);

    [GeneratedRegex(@"(/\S+) \(0x[0-9a-f]+\)")]
    private static partial Regex SharedLibrary();

    [GeneratedRegex(@"^\d+ \(.*\) Z ", RegexOptions.Singleline)]
    private static partial Regex ZombieState();
}
