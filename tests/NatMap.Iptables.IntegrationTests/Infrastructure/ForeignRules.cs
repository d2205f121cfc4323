namespace NatMap.Iptables.IntegrationTests.Infrastructure;

/// <summary>Rules a real host already has, in every table the library touches; the library must leave them exactly as they are.</summary>
internal static class ForeignRules
{
    /// <param name="exec">Runs one command (program, arguments) in the namespace under test and fails the test on error.</param>
    public static async Task AddAsync(Func<string[], Task> exec, string backend)
    {
        foreach (var program in new[] { $"iptables-{backend}", $"ip6tables-{backend}" })
        {
            await exec([program, "-t", "raw", "-A", "PREROUTING", "-p", "udp", "--dport", "9999", "-j", "CT", "--notrack"]);
            await exec([program, "-t", "nat", "-A", "POSTROUTING", "-o", "eth9", "-j", "MASQUERADE"]);
            await exec([program, "-t", "nat", "-A", "PREROUTING", "-p", "tcp", "--dport", "8080", "-m", "comment", "--comment", "natmapper:not ours", "-j", "RETURN"]);
            await exec([program, "-t", "filter", "-N", "FOREIGN"]);
            await exec([program, "-t", "filter", "-A", "FORWARD", "-j", "FOREIGN"]);
            await exec([program, "-t", "filter", "-A", "FOREIGN", "-m", "comment", "--comment", "natmap", "-j", "RETURN"]);
        }
    }
}
