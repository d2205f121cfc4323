using System.Text.RegularExpressions;

namespace NatMap.Iptables.IntegrationTests.Infrastructure;

/// <summary>
/// The xtables lock, as the tests' own iptables commands meet it. iptables-legacy (and its -restore) takes
/// <c>/run/xtables.lock</c>, one file for every network namespace, so a test's own legacy command can find it held by
/// another test running in parallel. The library passes <c>-w</c>; this says the same for the commands the tests run.
/// Debian's iptables 1.8.9 already waits without <c>-w</c> (a plain blocking <c>flock</c>: measured, a command waited
/// 2.5 s for a lock held 3 s and succeeded), but other releases can fail at once ("Another app is currently holding the
/// xtables lock", exit 4), and a test must not depend on which. iptables-nft and the save programs take no lock.
/// </summary>
internal static partial class Xtables
{
    /// <summary>
    /// The arguments with <c>-w</c> (wait for the lock) first when <paramref name="program"/> is a legacy iptables,
    /// ip6tables or restore program that was not already told how long to wait; otherwise the arguments as they are.
    /// </summary>
    public static string[] Waiting(string program, string[] arguments) =>
        TakesLock().IsMatch(Path.GetFileName(program)) && !arguments.Any(a => a is "-w" or "--wait" || a.StartsWith("--wait=", StringComparison.Ordinal))
            ? ["-w", .. arguments]
            : arguments;

    /// <summary>The command line of <c>ip netns exec NS PROGRAM ARGS</c>, with <see cref="Waiting"/> applied to PROGRAM's arguments.</summary>
    public static string[] InNamespace(string ns, string program, string[] arguments) =>
        ["netns", "exec", ns, program, .. Waiting(program, arguments)];

    [GeneratedRegex(@"^ip6?tables-legacy(-restore)?$")]
    private static partial Regex TakesLock();
}
