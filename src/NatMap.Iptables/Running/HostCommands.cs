using System.Globalization;
using System.Net.Sockets;
using NatMap.Iptables.Rules;

namespace NatMap.Iptables.Internal;

/// <summary>
/// Builds every command the library runs on the host, as a <see cref="CommandSpec"/>: iptables (the family's program and
/// the lock wait), ip, sysctl and conntrack, each inside the configured network namespace.
/// </summary>
internal sealed class HostCommands(NatMapOptions options)
{
    private readonly string[] _lockWait = options.XtablesLockWait is { } wait
        ? ["-w", ((int)Math.Ceiling(wait.TotalSeconds)).ToString(CultureInfo.InvariantCulture)]
        : [];

    public string Program(AddressFamily family) =>
        family == AddressFamily.InterNetworkV6 ? options.Ip6tablesPath : options.IptablesPath;

    public CommandSpec Create(AddressFamily family, IReadOnlyList<string> arguments) =>
        Wrap(Program(family), [.. _lockWait, .. arguments]);

    public CommandSpec RoutesMatching(System.Net.IPAddress address) =>
        Wrap(options.IpPath, ["-o", address.AddressFamily == AddressFamily.InterNetworkV6 ? "-6" : "-4", "route", "show", "match", address.ToString()]);

    /// <summary>
    /// <c>iptables-save [-t TABLE]</c> for the family's program (<c>iptables-nft</c> gives <c>iptables-nft-save</c>);
    /// without a table, every table the kernel has.
    /// </summary>
    public CommandSpec Save(AddressFamily family, string? table = null) => Wrap(Program(family) + "-save", table is null ? [] : ["-t", table]);

    /// <summary><c>iptables-restore --noflush [-w N]</c> for the family's program, fed <paramref name="input"/> on standard input.</summary>
    public CommandSpec Restore(AddressFamily family, string input) =>
        Wrap(Program(family) + "-restore", ["--noflush", .. _lockWait]) with { StandardInput = input };

    /// <summary>One change as a per-rule command: <c>iptables [-w N] -t TABLE ARGUMENTS</c>.</summary>
    public CommandSpec ForChange(RuleChange change) => Create(change.Family, ["-t", change.Table, .. change.Arguments]);

    /// <summary>Every route of the family's main table, one per line.</summary>
    public CommandSpec Routes(AddressFamily family) =>
        Wrap(options.IpPath, ["-o", family == AddressFamily.InterNetworkV6 ? "-6" : "-4", "route", "show"]);

    /// <summary><c>conntrack -D …</c>: deletes the tracked flows of <paramref name="reset"/>.</summary>
    public CommandSpec DeleteFlows(FlowReset reset) => Wrap(options.ConntrackPath, reset.ToArguments());

    /// <summary><c>nft -f -</c>, fed <paramref name="script"/> on standard input: one atomic transaction.</summary>
    public CommandSpec Nft(string script) => Wrap(options.NftPath, ["-f", "-"]) with { StandardInput = script };

    /// <summary><c>nft -j list table inet TABLE</c>: one table, as JSON.</summary>
    public CommandSpec NftList(string table) => Wrap(options.NftPath, ["-j", "list", "table", Nftables.NftSchema.Family, table]);

    /// <summary><c>nft -j list chains inet</c>: the chains of every inet table, without their rules or any map element.</summary>
    public CommandSpec NftListChains() => Wrap(options.NftPath, ["-j", "list", "chains", Nftables.NftSchema.Family]);

    public CommandSpec ReadSysctl(string setting) => Wrap(options.SysctlPath, ["-n", setting]);

    public CommandSpec WriteSysctl(string setting, string value) => Wrap(options.SysctlPath, ["-q", "-w", $"{setting}={value}"]);

    private CommandSpec Wrap(string program, string[] arguments) => Shared.NetnsExec.Wrap(options.IpPath, options.NetworkNamespace, program, arguments);
}
