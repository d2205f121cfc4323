using System.Diagnostics;
using NatMap.Iptables;

namespace NatMap.Iptables.Benchmarks;

/// <summary>A throwaway network namespace with loopback up.</summary>
internal sealed class Namespace : IAsyncDisposable
{
    private static readonly CliWrapCommandRunner Shell = new(TimeSpan.FromMinutes(1));

    private Namespace(string name) => Name = name;

    public string Name { get; }

    /// <summary>Creates a namespace named <paramref name="prefix"/> and eight random hex digits.</summary>
    public static async Task<Namespace> CreateAsync(string prefix = "nmbench-")
    {
        var ns = new Namespace(prefix + Guid.NewGuid().ToString("N")[..8]);
        await RunAsync("ip", "netns", "add", ns.Name);
        await RunAsync("ip", "netns", "exec", ns.Name, "ip", "link", "set", "lo", "up");
        return ns;
    }

    /// <summary>A manager that takes the cross-process lock file as one running on CliWrapCommandRunner does, so its cost is counted.</summary>
    public IptablesManager Manager(string backend, RuleApplyMode transport, ICommandRunner runner) =>
        new(runner, Options(backend, transport), null, null, Internal.OperationLock.DefaultDirectory);

    /// <summary>The options of a manager of this namespace with one of the benchmarks' backends, IPv4 only.</summary>
    /// <remarks><paramref name="backend"/> <c>nftables</c> is the native backend (its table is named after the default prefix, as the renderer's is); the others are iptables-nft and iptables-legacy.</remarks>
    public NatMapOptions Options(string backend, RuleApplyMode transport) => backend == "nftables"
        ? new NatMapOptions
        {
            NetworkNamespace = Name,
            Backend = NatMapBackend.Nftables,
            EnableIpv6 = false,
            CommandTimeout = TimeSpan.FromMinutes(5),
        }
        : new NatMapOptions
        {
            NetworkNamespace = Name,
            IptablesPath = $"iptables-{backend}",
            Ip6tablesPath = $"ip6tables-{backend}",
            EnableIpv6 = false,
            ApplyMode = transport,
            CommandTimeout = TimeSpan.FromMinutes(5),
        };

    /// <summary>Runs a command in this namespace (<c>ip netns exec</c>) and returns its standard output; throws with its standard error when it fails.</summary>
    public async Task<string> ExecAsync(params string[] command)
    {
        var result = await Shell.RunAsync(new CommandSpec("ip", ["netns", "exec", Name, .. command]));
        return result.IsSuccess ? result.StandardOutput : throw new InvalidOperationException($"{string.Join(' ', command)} in {Name}: {result.StandardError}");
    }

    /// <summary>
    /// The one read of the N mappings by hand, the floor of a listing: <c>nft -j list table inet natmap</c> (the
    /// mappings' table) or <c>iptables-save</c>; returns how long it took.
    /// </summary>
    public async Task<TimeSpan> ReadAsync(string backend)
    {
        string[] read = backend == "nftables"
            ? ["nft", "-j", "list", "table", "inet", Nftables.NftRenderer.Default.Table]
            : [$"iptables-{backend}-save"];
        var watch = Stopwatch.StartNew();
        var result = await Shell.RunAsync(new CommandSpec("ip", ["netns", "exec", Name, .. read]));
        var elapsed = watch.Elapsed;
        return result.IsSuccess ? elapsed : throw new InvalidOperationException($"{string.Join(' ', read)}: {result.StandardError}");
    }

    /// <summary>The JSON listing of one table in this namespace (<c>nft -j list table inet NAME</c>).</summary>
    public Task<string> ListNftTableAsync(string table) => ExecAsync("nft", "-j", "list", "table", "inet", table);

    /// <summary>Feeds a script to one <c>nft -f -</c> in this namespace, by hand, and returns how long it took.</summary>
    public async Task<TimeSpan> NftAsync(string script)
    {
        var watch = Stopwatch.StartNew();
        var result = await Shell.RunAsync(new CommandSpec("ip", ["netns", "exec", Name, "nft", "-f", "-"], script));
        var elapsed = watch.Elapsed;
        return result.IsSuccess ? elapsed : throw new InvalidOperationException($"nft -f -: {result.StandardError}");
    }

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
