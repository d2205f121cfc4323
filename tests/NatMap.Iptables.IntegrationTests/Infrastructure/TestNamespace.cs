using System.Text.RegularExpressions;

namespace NatMap.Iptables.IntegrationTests.Infrastructure;

/// <summary>
/// A throwaway network namespace with its own netfilter tables, for one test. Disposing it deletes the namespace
/// and with it every rule, chain, interface and sysctl made inside, even when the test failed.
/// </summary>
internal sealed partial class TestNamespace : IAsyncDisposable
{
    private static readonly CliWrapCommandRunner Runner = new(TimeSpan.FromSeconds(60));

    private TestNamespace(string name, string backend)
    {
        Name = name;
        Backend = backend;
    }

    public string Name { get; }

    /// <summary>Gets the backend: <c>nft</c> or <c>legacy</c>.</summary>
    public string Backend { get; }

    public string Iptables => $"iptables-{Backend}";

    public string Ip6tables => $"ip6tables-{Backend}";

    public static async Task<TestNamespace> CreateAsync(string backend)
    {
        Kernel.RequireRoot();
        var name = $"nmtest-{Guid.NewGuid():N}"[..20];
        await MustAsync("ip", ["netns", "add", name]);
        var ns = new TestNamespace(name, backend);
        await ns.ExecAsync("ip", "link", "set", "lo", "up");
        return ns;
    }

    /// <summary>Options that make the library work inside this namespace with this backend.</summary>
    public NatMapOptions Options(Action<NatMapOptions>? configure = null)
    {
        var options = new NatMapOptions
        {
            NetworkNamespace = Name,
            IptablesPath = Iptables,
            Ip6tablesPath = Ip6tables,
        };
        configure?.Invoke(options);
        return options;
    }

    public IptablesManager Manager(Action<NatMapOptions>? configure = null) => new(Runner, Options(configure));

    /// <summary>A manager whose commands go through <paramref name="wrap"/> around the real runner, to observe them.</summary>
    public IptablesManager Manager(Func<ICommandRunner, ICommandRunner> wrap, Action<NatMapOptions>? configure = null) => new(wrap(Runner), Options(configure));

    /// <summary>
    /// Runs a command inside the namespace and returns its result, whatever the exit code. A legacy iptables command
    /// waits for the xtables lock (<see cref="Xtables"/>), which tests running in parallel share.
    /// </summary>
    public Task<CommandResult> RunAsync(string program, params string[] arguments) =>
        Runner.RunAsync(new CommandSpec("ip", Xtables.InNamespace(Name, program, arguments)), TestContext.Current.CancellationToken);

    /// <summary>Runs a command inside the namespace; fails the test when it exits non-zero.</summary>
    public async Task<string> ExecAsync(string program, params string[] arguments)
    {
        var result = await RunAsync(program, arguments);
        Assert.True(result.ExitCode == 0, $"{program} {string.Join(' ', arguments)} exited {result.ExitCode}: {result.StandardError}");
        return result.StandardOutput;
    }

    /// <summary>The namespace's ruleset for one family, as iptables-save prints it less comments and counters.</summary>
    public async Task<string> SaveAsync(bool ipv6 = false)
    {
        var output = await ExecAsync($"{(ipv6 ? "ip6tables" : "iptables")}-{Backend}-save");
        return NormalizeSave(output);
    }

    /// <summary>
    /// iptables-save output less its comment lines, with every counter zeroed and the tables in name order (the legacy
    /// backend prints them in the order they were loaded, nft in a fixed order; the rules inside keep their order).
    /// </summary>
    public static string NormalizeSave(string output)
    {
        var tables = new SortedDictionary<string, List<string>>(StringComparer.Ordinal);
        List<string>? current = null;
        foreach (var line in output.Split('\n').Where(l => l.Length > 0 && !l.StartsWith('#')))
        {
            if (line.StartsWith('*'))
            {
                current = [];
                tables[line] = current;
            }

            current?.Add(Counters().Replace(line, "[0:0]"));
        }

        return string.Join('\n', tables.Values.SelectMany(t => t));
    }

    /// <summary>The rules of one chain as <c>iptables -S</c> lists them.</summary>
    public async Task<IReadOnlyList<string>> RulesAsync(string table, string chain, bool ipv6 = false)
    {
        var output = await ExecAsync(ipv6 ? Ip6tables : Iptables, "-t", table, "-S", chain);
        return output.Split('\n').Where(l => l.StartsWith("-A ", StringComparison.Ordinal)).ToList();
    }

    public async ValueTask DisposeAsync() =>
        await Runner.RunAsync(new CommandSpec("ip", ["netns", "delete", Name]), CancellationToken.None);

    private static async Task MustAsync(string program, string[] arguments)
    {
        var result = await Runner.RunAsync(new CommandSpec(program, arguments), TestContext.Current.CancellationToken);
        Assert.True(result.ExitCode == 0, $"{program} {string.Join(' ', arguments)} exited {result.ExitCode}: {result.StandardError}");
    }

    [GeneratedRegex(@"\[\d+:\d+\]")]
    private static partial Regex Counters();
}
