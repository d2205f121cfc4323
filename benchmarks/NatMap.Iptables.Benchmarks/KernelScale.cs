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
        var backend = Option(args, "--backend", "nft");
        if (backend is not ("nft" or "legacy" or "nftables"))
        {
            Console.Error.WriteLine($"--backend {backend}: expected nft (iptables-nft), legacy (iptables-legacy) or nftables (the native backend).");
            return 2;
        }

        var sizes = Option(args, "--sizes", backend == "nftables" ? "2000,20000,50000" : "100,1000,2000,5000").Split(',').Select(s => int.Parse(s, Inv)).ToArray();
        var perRuleMax = int.Parse(Option(args, "--per-rule-max", "5000"), Inv);
        var repeats = int.Parse(Option(args, "--repeats", "5"), Inv);
        var warmup = int.Parse(Option(args, "--warmup", "2"), Inv);
        if (sizes.Any(n => n is < 1 or > MaxMappings) || repeats is < 1 or > 1000)
        {
            Console.Error.WriteLine($"--sizes: 1 to {MaxMappings} mappings; --repeats: 1 to 1000.");
            return 2;
        }

        var csv = Option(args, "--csv", string.Empty) is { Length: > 0 } path ? new CsvFigures(path, backend) : null;
        Console.WriteLine($"# {Environment.ProcessorCount} CPUs, {Environment.OSVersion}, .NET {Environment.Version}, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, load average {LoadAverage()}");
        if (backend == "nftables")
        {
            await RunNftablesAsync(sizes, repeats, warmup, csv);
        }
        else
        {
            await RunIptablesAsync(backend, sizes, perRuleMax, repeats, warmup, csv);
        }

        Console.WriteLine($"# done {DateTime.UtcNow:HH:mm} UTC, load average {LoadAverage()}");
        return 0;
    }

    private static async Task RunIptablesAsync(string backend, int[] sizes, int perRuleMax, int repeats, int warmup, CsvFigures? csv)
    {
        Console.WriteLine($"# kernel scale: iptables-{backend}, IPv4 Docker mappings (3 rules each), median of {repeats} runs (per-rule: 1 run); batch / raw is the median ratio of {repeats} back-to-back pairs, after {warmup} warm-up pairs per N");
        Console.WriteLine();
        Console.WriteLine("| N | per-rule apply | batch apply (SyncAsync) | raw iptables-restore | batch / raw | per-rule / batch | install one | processes (install one) | old install path (every rule read) | install one / old | floor (save + restore by hand) | install one / floor | remove one | processes (remove one) | remove one / floor | no-op sync | processes (no-op) | ListAsync | processes (list) | floor (one read by hand) | no-op / floor | list / floor | full sync (replace all N) |");
        Console.WriteLine("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var n in sizes)
        {
            var maps = Maps(n, 0);
            var perRule = n <= perRuleMax ? await TimeApplyAsync(backend, maps, RuleApplyMode.PerRule, 1) : (TimeSpan?)null;
            var (batch, raw, ratio) = await TimeBatchAgainstRawAsync(backend, maps, repeats, warmup);
            var one = await TimeOneObjectAsync(backend, maps, repeats);
            var reads = await TimeNoOpSyncAndListAsync(backend, maps, repeats);
            var full = await TimeFullSyncAsync(backend, maps, Maps(n, 1), repeats);
            Console.WriteLine(string.Create(Inv,
                $"| {n} | {Ms(perRule)} | {Ms(batch)} | {Ms(raw)} | {ratio:0.00}× | {(perRule is { } p ? $"{p / batch:0}×" : "–")} | {Ms(one.Install)} | {one.InstallProcesses} | {Ms(one.Old)} | {one.OldRatio:0.00}× | {Ms(one.Floor)} | {one.InstallRatio:0.00}× | {Ms(one.Remove)} | {one.RemoveProcesses} | {one.RemoveRatio:0.00}× | {Ms(reads.NoOp)} | {reads.NoOpProcesses} | {Ms(reads.List)} | {reads.ListProcesses} | {Ms(reads.Floor)} | {reads.NoOpRatio:0.00}× | {reads.ListRatio:0.00}× | {Ms(full)} |"));
            if (csv is null)
            {
                continue;
            }

            if (perRule is { } perRuleTime)
            {
                csv.Time(n, "per-rule-sync-ms", perRuleTime);
            }

            WriteFigures(csv, n, (batch, raw, ratio), (one.Install, one.InstallProcesses, one.Floor, one.InstallRatio), (one.Remove, one.RemoveProcesses, one.RemoveFloor, one.RemoveRatio), reads, full);
        }
    }

    /// <summary>The CSV rows every backend writes: the sync against its floor, install and remove one, the reads, the full sync.</summary>
    private static void WriteFigures(
        CsvFigures csv,
        int n,
        (TimeSpan Time, TimeSpan Floor, double Ratio) sync,
        (TimeSpan Time, int Processes, TimeSpan Floor, double Ratio) install,
        (TimeSpan Time, int Processes, TimeSpan Floor, double Ratio) remove,
        Reads reads,
        TimeSpan full)
    {
        csv.Time(n, "sync-ms", sync.Time);
        csv.Time(n, "sync-floor-ms", sync.Floor);
        csv.Ratio(n, "sync-ratio", sync.Ratio);
        csv.Time(n, "install-one-ms", install.Time);
        csv.Count(n, "install-one-processes", install.Processes);
        csv.Time(n, "install-one-floor-ms", install.Floor);
        csv.Ratio(n, "install-one-ratio", install.Ratio);
        csv.Time(n, "remove-one-ms", remove.Time);
        csv.Count(n, "remove-one-processes", remove.Processes);
        csv.Time(n, "remove-one-floor-ms", remove.Floor);
        csv.Ratio(n, "remove-one-ratio", remove.Ratio);
        csv.Time(n, "noop-sync-ms", reads.NoOp);
        csv.Count(n, "noop-sync-processes", reads.NoOpProcesses);
        csv.Ratio(n, "noop-sync-ratio", reads.NoOpRatio);
        csv.Time(n, "list-ms", reads.List);
        csv.Count(n, "list-processes", reads.ListProcesses);
        csv.Time(n, "list-floor-ms", reads.Floor);
        csv.Ratio(n, "list-ratio", reads.ListRatio);
        csv.Time(n, "full-sync-ms", full);
    }

    /// <summary>
    /// The native nftables backend through the public API (<see cref="NatMapBackend.Nftables"/>): the sync against the
    /// floor of one <c>nft -f -</c> of the renderer's whole table, one mapping installed and removed (each against one
    /// <c>nft -f -</c> of the same element by hand), the no-op sync, ListAsync and the full replacement.
    /// </summary>
    private static async Task RunNftablesAsync(int[] sizes, int repeats, int warmup, CsvFigures? csv)
    {
        Console.WriteLine($"# kernel scale: native nftables (NatMapBackend.Nftables), IPv4 Docker mappings (one map element each), median of {repeats} runs; sync / floor is the median ratio of {repeats} back-to-back pairs, after {warmup} warm-up pairs per N");
        Console.WriteLine();
        Console.WriteLine("| N | SyncAsync | floor (nft -f of the whole table) | sync / floor | install one | processes (install one) | floor (nft -f of one element) | install one / floor | remove one | processes (remove one) | remove one / floor | no-op sync | processes (no-op) | ListAsync | processes (list) | floor (one read by hand) | no-op / floor | list / floor | full sync (replace all N) |");
        Console.WriteLine("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var n in sizes)
        {
            var maps = Maps(n, 0);
            var (sync, floor, ratio) = await TimeNftSyncAgainstFloorAsync(maps, repeats, warmup);
            var one = await TimeNftOneObjectAsync(maps, repeats);
            var reads = await TimeNoOpSyncAndListAsync("nftables", maps, repeats);
            var full = await TimeFullSyncAsync("nftables", maps, Maps(n, 1), repeats);
            Console.WriteLine(string.Create(Inv,
                $"| {n} | {Ms(sync)} | {Ms(floor)} | {ratio:0.00}× | {Ms(one.Install)} | {one.InstallProcesses} | {Ms(one.Floor)} | {one.InstallRatio:0.00}× | {Ms(one.Remove)} | {one.RemoveProcesses} | {one.RemoveRatio:0.00}× | {Ms(reads.NoOp)} | {reads.NoOpProcesses} | {Ms(reads.List)} | {reads.ListProcesses} | {Ms(reads.Floor)} | {reads.NoOpRatio:0.00}× | {reads.ListRatio:0.00}× | {Ms(full)} |"));
            if (csv is null)
            {
                continue;
            }

            WriteFigures(csv, n, (sync, floor, ratio), (one.Install, one.InstallProcesses, one.Floor, one.InstallRatio), (one.Remove, one.RemoveProcesses, one.RemoveFloor, one.RemoveRatio), reads, full);
        }
    }

    /// <summary>The 1-minute load average (<c>/proc/loadavg</c>): the machine is shared, so every run says how busy it was.</summary>
    internal static string LoadAverage() =>
        File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "unknown";

    internal static string Option(string[] args, string name, string fallback)
    {
        var index = Array.IndexOf(args, name);
        return index >= 0 && index + 1 < args.Length ? args[index + 1] : fallback;
    }

    private static string Ms(TimeSpan? time) => time is { } t ? string.Create(Inv, $"{t.TotalMilliseconds:0} ms") : "–";

    /// <summary>The largest N: 50,000 unbound ports (10000 to 59999) per host address.</summary>
    private const int MaxMappings = 200_000;

    /// <summary>
    /// N valid, distinct TCP mappings (UDP would add the conntrack resets to every change). Generation 0:
    /// <c>0.0.0.0</c>, ports 10000 up (past 50,000 mappings, the next 50,000 are bound to 10.255.1.1, and so on), to
    /// 172.17.x.y:80; generation 1: the same host ports to other containers (172.18.x.y, other ids), N different mappings
    /// for a full replacement, as when every container is recreated; generation 2: ports 60000 up, the extra mappings
    /// installed one at a time (no host port of generation 0).
    /// </summary>
    internal static DockerPortMap[] Maps(int n, int generation) =>
        [.. Enumerable.Range(0, n).Select(i => new DockerPortMap(
            $"c{generation}x{i}",
            new IPEndPoint(i < 50_000 ? IPAddress.Any : new IPAddress([10, 255, (byte)(i / 50_000), 1]), generation == 2 ? 60_000 + i : 10_000 + (i % 50_000)),
            new IPEndPoint(new IPAddress([172, (byte)(17 + generation), (byte)(i / 250 % 256), (byte)((i % 250) + 2)]), 80)))];

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
    private static async Task<OneObject> TimeOneObjectAsync(
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
        var removeFloors = new List<TimeSpan>();
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
            removeFloors.Add(floorDelete);
            installRatios.Add(install / floorAdd);
            removeRatios.Add(remove / floorDelete);
        }

        return new OneObject(Median(installs), installProcesses, Median(floors), Median(installRatios), Median(removes), removeProcesses, Median(removeFloors), Median(removeRatios))
        {
            Old = Median(olds),
            OldRatio = Median(oldRatios),
        };
    }

    /// <summary>
    /// The native backend's sync of N against its floor: the renderer's whole table (what a full render writes for the
    /// same N mappings) fed by hand to one <c>nft -f -</c>, each in its own fresh namespace after Setup. As with the
    /// iptables cases the two run in back-to-back pairs and the ratio is the median of the pairs' ratios.
    /// </summary>
    private static async Task<(TimeSpan Sync, TimeSpan Floor, double Ratio)> TimeNftSyncAgainstFloorAsync(DockerPortMap[] maps, int repeats, int warmup)
    {
        var script = Nftables.NftRenderer.Default.RenderFull(new Nftables.NftDesiredState(maps, [], [], []));
        await using (var probe = await Namespace.CreateAsync())
        {
            var recorder = new CountingRunner();
            var manager = probe.Manager("nftables", RuleApplyMode.Batch, recorder);
            await manager.SetupAsync();
            recorder.Clear();
            var watch = Stopwatch.StartNew();
            await manager.SyncAsync(new NatMapState { DockerMaps = maps });
            Console.WriteLine(string.Create(Inv, $"# N = {maps.Length}: SyncAsync ({watch.Elapsed.TotalMilliseconds:0} ms, one untimed probe) ran {recorder.Programs}; it wrote {recorder.LastInput?.Length ?? 0:N0} characters, the floor's script is {script.Length:N0}"));
            await TimeNftSyncInProcessAsync(maps);
        }

        var syncs = new List<TimeSpan>();
        var floors = new List<TimeSpan>();
        var ratios = new List<double>();
        var phases = new List<SyncPhases>();
        for (var r = -warmup; r < repeats; r++)
        {
            TimeSpan sync;
            SyncPhases phase;
            await using (var ns = await Namespace.CreateAsync())
            {
                var runner = new CountingRunner();
                var manager = ns.Manager("nftables", RuleApplyMode.Batch, runner);
                await manager.SetupAsync();
                runner.Clear();
                var watch = Stopwatch.StartNew();
                await manager.SyncAsync(new NatMapState { DockerMaps = maps });
                sync = watch.Elapsed;
                phase = SyncPhases.Of(runner.Spans, sync);
            }

            TimeSpan floor;
            await using (var ns = await Namespace.CreateAsync())
            {
                await ns.Manager("nftables", RuleApplyMode.Batch, new CountingRunner()).SetupAsync();
                floor = await ns.NftAsync(script);
            }

            if (r < 0)
            {
                continue;
            }

            syncs.Add(sync);
            floors.Add(floor);
            ratios.Add(sync / floor);
            phases.Add(phase);
        }

        Console.WriteLine(string.Create(Inv, $"# N = {maps.Length}: timed syncs, medians of {repeats}: before the first process {Ms(Median([.. phases.Select(p => p.BeforeReads)]))}, the reads side by side {Ms(Median([.. phases.Select(p => p.Reads)]))}, in-process before the last read {Ms(Median([.. phases.Select(p => p.BeforeLastRead)]))}, the last read {Ms(Median([.. phases.Select(p => p.LastRead)]))}, in-process between it and the write {Ms(Median([.. phases.Select(p => p.BeforeWrite)]))}, the write (nft -f -) {Ms(Median([.. phases.Select(p => p.Write)]))}, after the write {Ms(Median([.. phases.Select(p => p.AfterWrite)]))}; the floor's nft -f - {Ms(Median(floors))}; write / floor {Median([.. phases.Zip(floors, (p, f) => p.Write / f)]):0.00}×"));
        return (Median(syncs), Median(floors), Median(ratios));
    }

    /// <summary>
    /// Installing and removing one mapping among N through the native backend, and the processes each ran; each against
    /// its floor, one <c>nft -f -</c> adding (or deleting) one element of another mapping by hand, right after in the
    /// same namespace, so the table keeps its size.
    /// </summary>
    private static async Task<OneObject> TimeNftOneObjectAsync(DockerPortMap[] maps, int repeats)
    {
        await using var ns = await Namespace.CreateAsync();
        var runner = new CountingRunner();
        var manager = ns.Manager("nftables", RuleApplyMode.Batch, runner);
        await manager.SyncAsync(new NatMapState { DockerMaps = maps });
        if (!runner.Programs.StartsWith("nft ", StringComparison.Ordinal) && !runner.Programs.Contains(", nft ", StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"The manager with Backend = Nftables ran no nft, only: {runner.Programs}.");
        }

        var renderer = Nftables.NftRenderer.Default;
        string installPrograms = string.Empty, removePrograms = string.Empty;
        var installs = new List<TimeSpan>();
        var removes = new List<TimeSpan>();
        var floors = new List<TimeSpan>();
        var removeFloors = new List<TimeSpan>();
        var installRatios = new List<double>();
        var removeRatios = new List<double>();
        int installProcesses = 0, removeProcesses = 0;
        var extra = Maps(repeats * 2, 2);
        for (var r = 0; r < repeats; r++)
        {
            runner.Clear();
            var watch = Stopwatch.StartNew();
            await manager.InstallDockerMapAsync(extra[r]);
            var install = watch.Elapsed;
            installProcesses = Math.Max(installProcesses, runner.Count);
            installPrograms = runner.Programs;

            runner.Clear();
            watch.Restart();
            await manager.RemoveDockerMapAsync(maps[(maps.Length / 2) + r]);
            var remove = watch.Elapsed;
            removeProcesses = Math.Max(removeProcesses, runner.Count);
            removePrograms = runner.Programs;

            var other = extra[repeats + r];
            var floorAdd = await ns.NftAsync(renderer.RenderAddMappings([other]));
            var floorDelete = await ns.NftAsync(renderer.RenderDeleteMappings([other]));
            installs.Add(install);
            removes.Add(remove);
            floors.Add(floorAdd);
            removeFloors.Add(floorDelete);
            installRatios.Add(install / floorAdd);
            removeRatios.Add(remove / floorDelete);
        }

        // The installs and removes really happened: N - repeats + repeats mappings, listed through the API.
        Console.WriteLine($"# N = {maps.Length}: install one ran {installPrograms}; remove one ran {removePrograms}");
        var listed = (await manager.ListAsync()).DockerMaps.Count;
        return listed == maps.Length
            ? new OneObject(Median(installs), installProcesses, Median(floors), Median(installRatios), Median(removes), removeProcesses, Median(removeFloors), Median(removeRatios))
            : throw new InvalidOperationException($"After {repeats} installs and {repeats} removes among {maps.Length}, ListAsync read {listed} mappings.");
    }

    private static string Quote(string argument) => argument.Contains(' ', StringComparison.Ordinal) ? $"\"{argument}\"" : argument;

    /// <summary>
    /// The no-op sync (SyncAsync to the state already installed, which must write nothing) and ListAsync (which must read
    /// back all N mappings), each with the processes it ran, in one namespace holding N mappings; and their floor, the
    /// one read of the N mappings run by hand right after (<c>nft -j list table</c> of the mappings' table,
    /// <c>iptables-save</c>), so that a read the kernel makes slow weighs on both (the ratio is the median of the pairs').
    /// </summary>
    private static async Task<Reads> TimeNoOpSyncAndListAsync(string backend, DockerPortMap[] maps, int repeats)
    {
        await using var ns = await Namespace.CreateAsync();
        var runner = new CountingRunner();
        var manager = ns.Manager(backend, RuleApplyMode.Batch, runner);
        var desired = new NatMapState { DockerMaps = maps };
        await manager.SyncAsync(desired);
        var noops = new List<TimeSpan>();
        var lists = new List<TimeSpan>();
        var floors = new List<TimeSpan>();
        var noopRatios = new List<double>();
        var listRatios = new List<double>();
        int noopProcesses = 0, listProcesses = 0;
        string noopPrograms = string.Empty, listPrograms = string.Empty;
        for (var r = 0; r < repeats; r++)
        {
            runner.Clear();
            var watch = Stopwatch.StartNew();
            await manager.SyncAsync(desired);
            noops.Add(watch.Elapsed);
            noopProcesses = runner.Count;
            noopPrograms = runner.Programs;
            if (runner.LastInput is not null)
            {
                throw new InvalidOperationException("A no-op sync wrote to the tables.");
            }

            runner.Clear();
            watch.Restart();
            var listed = await manager.ListAsync();
            lists.Add(watch.Elapsed);
            listProcesses = runner.Count;
            listPrograms = runner.Programs;
            if (listed.DockerMaps.Count != maps.Length)
            {
                throw new InvalidOperationException($"ListAsync read {listed.DockerMaps.Count} mappings of {maps.Length}.");
            }

            var floor = await ns.ReadAsync(backend);
            floors.Add(floor);
            noopRatios.Add(noops[^1] / floor);
            listRatios.Add(lists[^1] / floor);
        }

        Console.WriteLine($"# N = {maps.Length}: no-op sync ran {noopPrograms}; ListAsync ran {listPrograms}");
        return new Reads(Median(noops), noopProcesses, Median(noopRatios), Median(lists), listProcesses, Median(listRatios), Median(floors));
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

    internal static double Median(List<double> ratios)
    {
        ratios.Sort();
        return ratios[ratios.Count / 2];
    }

    /// <summary>The no-op sync and ListAsync among N: medians, the processes each ran, and each against the read by hand.</summary>
    private sealed record Reads(TimeSpan NoOp, int NoOpProcesses, double NoOpRatio, TimeSpan List, int ListProcesses, double ListRatio, TimeSpan Floor);

    /// <summary>One object installed and removed among N: medians, the most processes one operation ran, and each against its floor.</summary>
    private sealed record OneObject(TimeSpan Install, int InstallProcesses, TimeSpan Floor, double InstallRatio, TimeSpan Remove, int RemoveProcesses, TimeSpan RemoveFloor, double RemoveRatio)
    {
        /// <summary>Gets the install as it was before issue 11's review item 5 (iptables only).</summary>
        public TimeSpan? Old { get; init; }

        public double OldRatio { get; init; } = double.NaN;
    }

    /// <summary>Runs commands for real and counts them; remembers the programs run (inside the namespace wrapper) and the last batch's input.</summary>
    /// <summary>
    /// The in-process steps of a sync after Setup, each timed alone (medians of 5, no process run): the digests the
    /// fast-path check computes over the desired mappings, the parse of the tables as Setup left them, and the planner's
    /// Sync against them (clash check, digest, diff, render).
    /// </summary>
    private static async Task TimeNftSyncInProcessAsync(DockerPortMap[] maps)
    {
        await using var ns = await Namespace.CreateAsync();
        await ns.Manager("nftables", RuleApplyMode.Batch, new CountingRunner()).SetupAsync();
        var renderer = Nftables.NftRenderer.Default;
        string[] listings = [await ns.ListNftTableAsync(renderer.Table), await ns.ListNftTableAsync(renderer.StaticTable)];
        var planner = new Nftables.NftPlanner(renderer);
        var desired = new NatMapState { DockerMaps = maps };
        List<TimeSpan> digests = [], parses = [], plans = [];
        for (var r = 0; r < 6; r++)
        {
            var watch = Stopwatch.StartNew();
            _ = Nftables.NftRenderer.Digests(maps);
            var digest = watch.Elapsed;
            watch.Restart();
            var current = Nftables.NftListing.Parse(listings, renderer.Table);
            var parse = watch.Elapsed;
            watch.Restart();
            _ = planner.Sync(desired, current);
            var plan = watch.Elapsed;
            if (r == 0)
            {
                continue; // the JIT
            }

            digests.Add(digest);
            parses.Add(parse);
            plans.Add(plan);
        }

        Console.WriteLine(string.Create(Inv, $"# N = {maps.Length}: in-process alone, medians of 5: NftRenderer.Digests (the fast-path check) {Ms(Median(digests))}, NftListing.Parse of the tables after Setup {Ms(Median(parses))}, NftPlanner.Sync against them (clash check, digest, diff, render) {Ms(Median(plans))}"));
    }

    /// <summary>
    /// Where one sync's time went, from the start and end of each process it ran: before its first process, its reads
    /// (first start to last end of the processes before the write), in-process between the reads and the write (the
    /// diff and the render), the write (the one <c>nft -f -</c>), and after it.
    /// </summary>
    private readonly record struct SyncPhases(TimeSpan BeforeReads, TimeSpan Reads, TimeSpan BeforeLastRead, TimeSpan LastRead, TimeSpan BeforeWrite, TimeSpan Write, TimeSpan AfterWrite)
    {
        /// <summary>The phases; the reads are split at the last read to start (the mappings table, read after the side-by-side reads when the digest does not match).</summary>
        public static SyncPhases Of(IReadOnlyList<(bool Writes, TimeSpan Start, TimeSpan End)> spans, TimeSpan total)
        {
            var write = spans.LastOrDefault(s => s.Writes);
            var reads = spans.Where(s => !s.Writes && s.End <= write.Start).OrderBy(s => s.Start).ToList();
            if (reads.Count < 2)
            {
                var start = reads.Count > 0 ? reads[0].Start : write.Start;
                var end = reads.Count > 0 ? reads[0].End : write.Start;
                return new SyncPhases(start, end - start, TimeSpan.Zero, TimeSpan.Zero, write.Start - end, write.End - write.Start, total - write.End);
            }

            var last = reads[^1];
            var firstStart = reads[0].Start;
            var sideBySideEnd = reads.Take(reads.Count - 1).Max(s => s.End);
            return new SyncPhases(firstStart, sideBySideEnd - firstStart, last.Start - sideBySideEnd, last.End - last.Start, write.Start - last.End, write.End - write.Start, total - write.End);
        }
    }

    private sealed class CountingRunner : ICommandRunner
    {
        private readonly CliWrapCommandRunner _inner = new(TimeSpan.FromMinutes(10));
        private readonly List<string> _programs = [];
        private readonly List<(bool Writes, TimeSpan Start, TimeSpan End)> _spans = [];
        private readonly Stopwatch _clock = Stopwatch.StartNew();

        public int Count { get; private set; }

        public string? LastInput { get; private set; }

        /// <summary>Gets the programs run since the last <see cref="Clear"/> and how long each took, in the order they ended, e.g. <c>nft 4 ms, nft (stdin) 6 ms</c>.</summary>
        public string Programs
        {
            get
            {
                lock (_programs)
                {
                    return string.Join(", ", _programs);
                }
            }
        }

        /// <summary>Gets every process run since the last <see cref="Clear"/>: whether it read stdin (a write), and when it started and ended, from the <see cref="Clear"/>.</summary>
        public IReadOnlyList<(bool Writes, TimeSpan Start, TimeSpan End)> Spans
        {
            get
            {
                lock (_programs)
                {
                    return [.. _spans];
                }
            }
        }

        public void Clear()
        {
            Count = 0;
            LastInput = null;
            lock (_programs)
            {
                _programs.Clear();
                _spans.Clear();
                _clock.Restart();
            }
        }

        public async Task<CommandResult> RunAsync(CommandSpec command, CancellationToken cancellationToken = default)
        {
            Count++;
            LastInput = command.StandardInput ?? LastInput;
            var wrapped = command.FileName == "ip" && command.Arguments is ["netns", "exec", _, _, ..];
            var start = _clock.Elapsed;
            var watch = Stopwatch.StartNew();
            var result = await _inner.RunAsync(command, cancellationToken);
            var program = Path.GetFileName(wrapped ? command.Arguments[3] : command.FileName) + (command.StandardInput is null ? string.Empty : " (stdin)");
            lock (_programs)
            {
                _programs.Add(string.Create(Inv, $"{program} {watch.Elapsed.TotalMilliseconds:0} ms"));
                _spans.Add((command.StandardInput is not null, start, start + watch.Elapsed));
            }

            return result;
        }
    }
}
