namespace NatMap.Iptables.IntegrationTests.Infrastructure;

/// <summary>Preconditions of the kernel tests: root, and the tools of Debian's iptables and iproute2 packages.</summary>
internal static class Kernel
{
    private static readonly Lazy<string?> Missing = new(FindMissing);

    /// <summary>Gets the two iptables backends of Debian's iptables package.</summary>
    public static TheoryData<string> Backends => new() { "nft", "legacy" };

    /// <summary>Gets both backends with both transports: the default batches and one process per rule.</summary>
    public static TheoryData<string, IptablesTransport> BackendsAndTransports => new()
    {
        { "nft", IptablesTransport.Batch },
        { "legacy", IptablesTransport.Batch },
        { "nft", IptablesTransport.PerRule },
        { "legacy", IptablesTransport.PerRule },
    };

    /// <summary>
    /// Skips the test when it cannot run here (not root, tools missing). Under CI=true, which runs as root, a test
    /// that cannot run fails instead: a skipped kernel test in CI is a failure, not a pass.
    /// </summary>
    public static void RequireRoot()
    {
        var reason = Missing.Value;
        if (reason is null)
        {
            return;
        }

        if (string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase))
        {
            Assert.Fail($"Kernel test cannot run in CI: {reason}");
        }

        Assert.Skip($"Requires root and the iptables, iproute2 packages: {reason}");
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
