namespace NatMap.Iptables.IntegrationTests.Infrastructure;

/// <summary>Preconditions of the kernel tests: root, and the tools of Debian's iptables and iproute2 packages.</summary>
internal static class Kernel
{
    private static readonly Lazy<string?> Missing = new(FindMissing);

    /// <summary>Gets the two iptables backends of Debian's iptables package.</summary>
    public static TheoryData<string> Backends => new() { "nft", "legacy" };

    /// <summary>Gets both backends with both transports: the default batches and one process per rule.</summary>
    public static TheoryData<string, RuleApplyMode> BackendsAndTransports => new()
    {
        { "nft", RuleApplyMode.Batch },
        { "legacy", RuleApplyMode.Batch },
        { "nft", RuleApplyMode.PerRule },
        { "legacy", RuleApplyMode.PerRule },
    };

    /// <summary>
    /// The value of a test's backend parameter that selects the native nftables backend
    /// (<see cref="NatMapBackend.Nftables"/>); the host's own iptables rules, where a test writes any, are then iptables-nft's.
    /// </summary>
    public const string Nftables = "nftables";

    /// <summary>Gets the two iptables backends and the native nftables backend.</summary>
    public static TheoryData<string> AllBackends => new() { "nft", "legacy", Nftables };

    /// <summary>Gets both iptables backends with both transports, and the native nftables backend (which has one way to apply).</summary>
    public static TheoryData<string, RuleApplyMode> AllBackendsAndTransports => new()
    {
        { "nft", RuleApplyMode.Batch },
        { "legacy", RuleApplyMode.Batch },
        { "nft", RuleApplyMode.PerRule },
        { "legacy", RuleApplyMode.PerRule },
        { Nftables, RuleApplyMode.Batch },
    };

    /// <summary>The iptables variant (<c>nft</c> or <c>legacy</c>) of a test's backend parameter: <c>nft</c> for the native nftables backend.</summary>
    public static string IptablesOf(string backend) => backend == Nftables ? "nft" : backend;

    private static int _warned;

    /// <summary>
    /// Gets whether this is a CI run: <c>CI</c> set to anything but empty, <c>false</c> or <c>0</c> (CI systems set
    /// <c>true</c>, <c>1</c> or <c>yes</c>), so a kernel test can never skip there by a spelling.
    /// </summary>
    public static bool InCi =>
        Environment.GetEnvironmentVariable("CI") is { Length: > 0 } value
        && !string.Equals(value, "false", StringComparison.OrdinalIgnoreCase)
        && value != "0";

    /// <summary>
    /// Skips the test when it cannot run here (not root, tools missing), and says so on standard error once per run,
    /// so a green local run is not mistaken for one that tested the kernel. Under CI, which runs as root, a test that
    /// cannot run fails instead: a skipped kernel test in CI is a failure, not a pass.
    /// </summary>
    public static void RequireRoot()
    {
        var reason = Missing.Value;
        if (reason is null)
        {
            return;
        }

        CannotRun($"requires root and the iptables, iproute2 packages: {reason}");
    }

    /// <summary>
    /// Ends a test that cannot run here: under CI, which runs as root with every package installed, it fails (a
    /// skipped kernel test in CI is a failure, not a pass); elsewhere it is skipped, and standard error says once per
    /// run that the kernel tests tested nothing.
    /// </summary>
    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    public static void CannotRun(string reason)
    {
        if (InCi)
        {
            Assert.Fail($"Kernel test cannot run in CI (CI={Environment.GetEnvironmentVariable("CI")}): {reason}");
        }

        if (Interlocked.Exchange(ref _warned, 1) == 0)
        {
            Console.Error.WriteLine($"WARNING: NatMap.Iptables kernel tests are SKIPPED ({reason}). They test nothing here: run them as root, as CI does.");
        }

        Assert.Skip($"SKIPPED, kernel not tested: {reason}");
    }

    private static string? FindMissing()
    {
        if (Environment.UserName != "root" && !string.Equals(Environment.GetEnvironmentVariable("USER"), "root", StringComparison.Ordinal) && GetEuid() != 0)
        {
            return "not running as root";
        }

        foreach (var tool in new[] { "ip", "iptables-nft", "iptables-legacy", "ip6tables-nft", "ip6tables-legacy", "iptables-nft-save", "iptables-legacy-save" })
        {
            if (!OnPath(tool))
            {
                return $"'{tool}' is not installed";
            }
        }

        return null;
    }

    private static bool OnPath(string tool) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "/usr/sbin:/usr/bin:/sbin:/bin")
            .Split(':')
            .Concat(["/usr/sbin", "/sbin"])
            .Any(dir => File.Exists(Path.Combine(dir, tool)));

    private static uint GetEuid()
    {
        // /proc/self/status: "Uid:\treal\teffective\t..."
        var line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("Uid:", StringComparison.Ordinal));
        return line is null ? uint.MaxValue : uint.Parse(line.Split('\t', StringSplitOptions.RemoveEmptyEntries)[2], System.Globalization.CultureInfo.InvariantCulture);
    }
}
