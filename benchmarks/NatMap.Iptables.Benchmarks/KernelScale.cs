using System.Diagnostics;
using System.Globalization;
using System.Net;
using NatMap.Iptables;
using NatMap.Iptables.Rules;

namespace NatMap.Iptables.Benchmarks;

/// <summary>
/// Kernel-scale benchmark, as root: each case runs in a fresh network namespace against the real iptables (nft backend
/// by default), through the public API, and prints one table with the ratios.
/// </summary>
internal static class KernelScale
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static async Task<int> RunAsync(string[] args)
    {
        var sizes = Option(args, "--sizes", "100,1000,2000,5000").Split(',').Select(s => int.Parse(s, Inv)).ToArray();
        var perRuleMax = int.Parse(Option(args, "--per-rule-max", "5000"), Inv);
        var backend = Option(args, "--backend", "nft");
        var repeats = int.Parse(Option(args, "--repeats", "5"), Inv);
        var warmup = int.Parse(Option(args, "--warmup", "2"), Inv);
        Console.WriteLine($"# kernel scale: iptables-{backend}, IPv4 Docker mappings (3 rules each), median of {repeats} runs (per-rule: 1 run); batch / raw is the median ratio of {repeats} back-to-back pairs, after {warmup} warm-up pairs per N");
        Console.WriteLine($"# {Environment.ProcessorCount} CPUs, {Environment.OSVersion}, .NET {Environment.Version}, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC");
        Console.WriteLine();
        Console.WriteLine("| N | per-rule apply | batch apply (SyncAsync) | raw iptables-restore | batch / raw | per-rule / batch | install one | processes (install one) | old install path (every rule read) | install one / old | floor (save + restore by hand) | install one / floor | remove one | processes (remove one) | remove one / floor | no-op sync | processes (no-op) | full sync (replace all N) |");
        Console.WriteLine("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var n in sizes)
        {
            var maps = Maps(n, 0);
            var perRule = n <= perRuleMax ? await TimeApplyAsync(backend, maps, RuleApplyMode.PerRule, 1) : (TimeSpan?)null;
            var (batch, raw, ratio) = await TimeBatchAgainstRawAsync(backend, maps, repeats, warmup);
            var (install, installProcesses, old, oldRatio, floor, installRatio, remove, removeProcesses, removeRatio) = await TimeOneObjectAsync(backend, maps, repeats);
            var (noop, noopProcesses) = await TimeNoOpSyncAsync(backend, maps, repeats);
            var full = await TimeFullSyncAsync(backend, maps, Maps(n, 1), repeats);
            Console.WriteLine(string.Create(Inv,
                $"| {n} | {Ms(perRule)} | {Ms(batch)} | {Ms(raw)} | {ratio:0.00}× | {(perRule is { } p ? $"{p / batch:0}×" : "–")} | {Ms(install)} | {installProcesses} | {Ms(old)} | {oldRatio:0.00}× | {Ms(floor)} | {installRatio:0.00}× | {Ms(remove)} | {removeProcesses} | {removeRatio:0.00}× | {Ms(noop)} | {noopProcesses} | {Ms(full)} |"));
        }

        return 0;
    }

    private static string Option(string[] args, string name, string fallback)
    {
        var index = Array.IndexOf(args, name);
        return index >= 0 && index + 1 < args.Length ? args[index + 1] : fallback;
    }

    private static string Ms(TimeSpan? time) => time is { } t ? string.Create(Inv, $"{t.TotalMilliseconds:0} ms") : "–";

    /// <summary>N mappings; <paramref name="generation"/> 1 gives N different ones (other ids and ports) for a full replacement.</summary>
    private static DockerPortMap[] Maps(int n, int generation) =>
        [.. Enumerable.Range(0, n).Select(i => new DockerPortMap(
            $"c{generation}x{i}",
            new IPEndPoint(IPAddress.Any, 10_000 + (generation * 20_000) + i),
            new IPEndPoint(new IPAddress([172, (byte)(17 + generation), (byte)(i / 250), (byte)((i % 250) + 2)]), 80)))];

    private static async Task<TimeSpan> TimeApplyAsync(string backend, DockerPortMap[] maps, RuleApplyMode transport, int repeats)
    {
        var times = new List<TimeSpan>();
        for (var r = 0; r < repeats; r++)
        {
            times.Add(await TimeApplyOnceAsync(backend, maps, transport));
        }

        return Median(times);
    }

    /// <summary>Setup in a fresh namespace, then the timed SyncAsync of every mapping.</summary>
    private static async Task<TimeSpan> TimeApplyOnceAsync(string backend, DockerPortMap[] maps, RuleApplyMode transport)
    {
        await using var ns = await Namespace.CreateAsync();
        var manager = ns.Manager(backend, transport, new CountingRunner());
        await manager.SetupAsync();
        var watch = Stopwatch.StartNew();
        await manager.SyncAsync(new NatMapState { DockerMaps = maps });
        return watch.Elapsed;
    }

    /// <summary>
    /// The batch apply against the physical floor, the identical ruleset fed to one iptables-restore by hand. The two
    /// run in pairs, one right after the other, so a slow spell of the machine weighs on both: the ratio is the median
    /// of the pairs' ratios. The first <paramref name="warmup"/> pairs are not counted: they include the JIT compiling
    /// the library's code for the first time.
    /// </summary>
    private static async Task<(TimeSpan Batch, TimeSpan Raw, double Ratio)> TimeBatchAgainstRawAsync(string backend, DockerPortMap[] maps, int repeats, int warmup)
    {
        string payload;
        await using (var source = await Namespace.CreateAsync())
        {
            var recorder = new CountingRunner();
            var manager = source.Manager(backend, RuleApplyMode.Batch, recorder);
            await manager.SetupAsync();
            recorder.Clear();
            await manager.SyncAsync(new NatMapState { DockerMaps = maps });
            payload = recorder.LastInput ?? throw new InvalidOperationException("The sync wrote nothing.");
        }

        var batches = new List<TimeSpan>();
        var raws = new List<TimeSpan>();
        var ratios = new List<double>();
        for (var r = -warmup; r < repeats; r++)
        {
            var batch = await TimeApplyOnceAsync(backend, maps, RuleApplyMode.Batch);
            var raw = await TimeRawOnceAsync(backend, payload);
            if (r < 0)
            {
                continue;
            }

            batches.Add(batch);
            raws.Add(raw);
            ratios.Add(batch / raw);
        }

        ratios.Sort();
        return (Median(batches), Median(raws), ratios[ratios.Count / 2]);
    }

    private static async Task<TimeSpan> TimeRawOnceAsync(string backend, string payload)
    {
        await using var ns = await Namespace.CreateAsync();
        var runner = new CliWrapCommandRunner(TimeSpan.FromMinutes(5));
        await ns.Manager(backend, RuleApplyMode.Batch, runner).SetupAsync();
        var watch = Stopwatch.StartNew();
        var result = await runner.RunAsync(new CommandSpec("ip", ["netns", "exec", ns.Name, $"iptables-{backend}-restore", "--noflush", "-w", "10"], payload));
        var elapsed = watch.Elapsed;
        return result.IsSuccess ? elapsed : throw new InvalidOperationException(result.StandardError);
    }

    /// <summary>
    /// Installing and removing one mapping among N, each against the physical floor of a checked change: one
    /// iptables-save and one iptables-restore of the same three rules, run by hand right after in the same namespace.
    /// The ratios are the medians of the pairs' ratios, so a slow spell of the machine weighs on both sides.
    /// </summary>
    private static async Task<(TimeSpan Install, int InstallProcesses, TimeSpan Old, double OldRatio, TimeSpan Floor, double InstallRatio, TimeSpan Remove, int RemoveProcesses, double RemoveRatio)> TimeOneObjectAsync(
        string backend, DockerPortMap[] maps, int repeats)
    {
        await using var ns = await Namespace.CreateAsync();
        var runner = new CountingRunner();
        var manager = ns.Manager(backend, RuleApplyMode.Batch, runner);
        await manager.SyncAsync(new NatMapState { DockerMaps = maps });
        var shell = new CliWrapCommandRunner(TimeSpan.FromMinutes(1));
        async Task<TimeSpan> FloorAsync(DockerPortMap map, RuleAction action)
        {
            var script = "*nat\n" + string.Join('\n', manager.RuleBuilder.BuildDockerMap(map).Where(r => r.Table == "nat").Select(r => string.Join(' ', r.ToArguments(action).Skip(2).Select(Quote)))) +
                "\nCOMMIT\n*filter\n" + string.Join('\n', manager.RuleBuilder.BuildDockerMap(map).Where(r => r.Table == "filter").Select(r => string.Join(' ', r.ToArguments(action).Skip(2).Select(Quote)))) + "\nCOMMIT\n";
            var watch = Stopwatch.StartNew();
            var save = await shell.RunAsync(new CommandSpec("ip", ["netns", "exec", ns.Name, $"iptables-{backend}-save"]));
            var restore = await shell.RunAsync(new CommandSpec("ip", ["netns", "exec", ns.Name, $"iptables-{backend}-restore", "--noflush", "-w", "10"], script));
            var elapsed = watch.Elapsed;
            return save.IsSuccess && restore.IsSuccess ? elapsed : throw new InvalidOperationException(restore.StandardError);
        }

        // The install as it was before review item 5, by hand with the library's own parts: the route lookup, then one
        // iptables-save tokenized whole (every rule of every table), a lookup per rule, and the restore of what is missing.
        async Task<TimeSpan> OldInstallAsync(DockerPortMap map)
        {
            var watch = Stopwatch.StartNew();
            var routes = await shell.RunAsync(new CommandSpec("ip", ["netns", "exec", ns.Name, "ip", "-o", "-4", "route", "show", "match", map.ContainerEndpoint.Address.ToString()]));
            var save = await shell.RunAsync(new CommandSpec("ip", ["netns", "exec", ns.Name, $"iptables-{backend}-save"]));
            var tables = Internal.SaveListing.Parse(save.StandardOutput);
            var rules = manager.RuleBuilder.BuildDockerMap(map, Internal.RouteListing.OnLinkNetwork(routes.StandardOutput, map.ContainerEndpoint.Address));
            var missing = rules.Where(r => !(tables.GetValueOrDefault(r.Table) ?? Internal.TableListing.Empty).Contains(r.Chain, r.Specification)).Select(Internal.RuleChange.Add).ToList();
            var restore = await shell.RunAsync(new CommandSpec("ip", ["netns", "exec", ns.Name, $"iptables-{backend}-restore", "--noflush", "-w", "10"], Internal.RestoreScript.Render(missing)));
            var elapsed = watch.Elapsed;
            return restore.IsSuccess && missing.Count == 3 ? elapsed : throw new InvalidOperationException(restore.StandardError);
        }

        var olds = new List<TimeSpan>();
        var oldRatios = new List<double>();
        var installs = new List<TimeSpan>();
        var removes = new List<TimeSpan>();
        var floors = new List<TimeSpan>();
        var installRatios = new List<double>();
        var removeRatios = new List<double>();
        int installProcesses = 0, removeProcesses = 0;
        var extra = Maps(repeats * 3, 2);
        for (var r = 0; r < repeats; r++)
        {
            var map = extra[r];
            runner.Clear();
            var watch = Stopwatch.StartNew();
            await manager.InstallDockerMapAsync(map);
            var install = watch.Elapsed;
            installProcesses = Math.Max(installProcesses, runner.Count);

            var victim = maps[(maps.Length / 2) + r];
            runner.Clear();
            watch.Restart();
            await manager.RemoveDockerMapAsync(victim);
            var remove = watch.Elapsed;
            removeProcesses = Math.Max(removeProcesses, runner.Count);

            // The same changes by hand, on a mapping of their own so the tables keep their size.
            var other = extra[repeats + r];
            var floorAdd = await FloorAsync(other, RuleAction.Add);
            var floorDelete = await FloorAsync(other, RuleAction.Delete);
            var old = await OldInstallAsync(extra[(2 * repeats) + r]);
            olds.Add(old);
            oldRatios.Add(install / old);
            installs.Add(install);
            removes.Add(remove);
            floors.Add(floorAdd);
            installRatios.Add(install / floorAdd);
            removeRatios.Add(remove / floorDelete);
        }

        oldRatios.Sort();
        installRatios.Sort();
        removeRatios.Sort();
        return (Median(installs), installProcesses, Median(olds), oldRatios[oldRatios.Count / 2], Median(floors), installRatios[installRatios.Count / 2], Median(removes), removeProcesses, removeRatios[removeRatios.Count / 2]);
    }

    private static string Quote(string argument) => argument.Contains(' ', StringComparison.Ordinal) ? $"\"{argument}\"" : argument;

    private static async Task<(TimeSpan Time, int Processes)> TimeNoOpSyncAsync(string backend, DockerPortMap[] maps, int repeats)
    {
        await using var ns = await Namespace.CreateAsync();
        var runner = new CountingRunner();
        var manager = ns.Manager(backend, RuleApplyMode.Batch, runner);
        var desired = new NatMapState { DockerMaps = maps };
        await manager.SyncAsync(desired);
        var times = new List<TimeSpan>();
        for (var r = 0; r < repeats; r++)
        {
            runner.Clear();
            var watch = Stopwatch.StartNew();
            await manager.SyncAsync(desired);
            times.Add(watch.Elapsed);
            if (runner.LastInput is not null)
            {
                throw new InvalidOperationException("A no-op sync wrote to the tables.");
            }
        }

        return (Median(times), runner.Count);
    }

    private static async Task<TimeSpan> TimeFullSyncAsync(string backend, DockerPortMap[] maps, DockerPortMap[] others, int repeats)
    {
        var times = new List<TimeSpan>();
        for (var r = 0; r < repeats; r++)
        {
            await using var ns = await Namespace.CreateAsync();
            var manager = ns.Manager(backend, RuleApplyMode.Batch, new CountingRunner());
            await manager.SyncAsync(new NatMapState { DockerMaps = maps });
            var watch = Stopwatch.StartNew();
            await manager.SyncAsync(new NatMapState { DockerMaps = others });
            times.Add(watch.Elapsed);
        }

        return Median(times);
    }

    private static TimeSpan Median(List<TimeSpan> times)
    {
        times.Sort();
        return times[times.Count / 2];
    }

    /// <summary>Runs commands for real and counts them; remembers the last batch's input.</summary>
    private sealed class CountingRunner : ICommandRunner
    {
        private readonly CliWrapCommandRunner _inner = new(TimeSpan.FromMinutes(10));

        public int Count { get; private set; }

        public string? LastInput { get; private set; }

        public void Clear()
        {
            Count = 0;
            LastInput = null;
        }

        public Task<CommandResult> RunAsync(CommandSpec command, CancellationToken cancellationToken = default)
        {
            Count++;
            LastInput = command.StandardInput ?? LastInput;
            return _inner.RunAsync(command, cancellationToken);
        }
    }

    /// <summary>A throwaway network namespace with loopback up.</summary>
    private sealed class Namespace : IAsyncDisposable
    {
        private static readonly CliWrapCommandRunner Shell = new(TimeSpan.FromMinutes(1));

        private Namespace(string name) => Name = name;

        public string Name { get; }

        public static async Task<Namespace> CreateAsync()
        {
            var ns = new Namespace("nmbench-" + Guid.NewGuid().ToString("N")[..8]);
            await RunAsync("ip", "netns", "add", ns.Name);
            await RunAsync("ip", "netns", "exec", ns.Name, "ip", "link", "set", "lo", "up");
            return ns;
        }

        /// <summary>A manager that takes the cross-process lock file as one running on CliWrapCommandRunner does, so its cost is counted.</summary>
        public IptablesManager Manager(string backend, RuleApplyMode transport, ICommandRunner runner) => new(runner, new NatMapOptions
        {
            NetworkNamespace = Name,
            IptablesPath = $"iptables-{backend}",
            Ip6tablesPath = $"ip6tables-{backend}",
            EnableIpv6 = false,
            ApplyMode = transport,
            CommandTimeout = TimeSpan.FromMinutes(5),
        }, null, null, Internal.OperationLock.DefaultDirectory);

        public async ValueTask DisposeAsync() => await RunAsync("ip", "netns", "del", Name);

        private static async Task RunAsync(string program, params string[] arguments)
        {
            var result = await Shell.RunAsync(new CommandSpec(program, arguments));
            if (!result.IsSuccess)
            {
                throw new InvalidOperationException($"{program} {string.Join(' ', arguments)}: {result.StandardError}");
            }
        }
    }
}
