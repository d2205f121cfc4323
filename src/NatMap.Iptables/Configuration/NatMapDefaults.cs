namespace NatMap.Iptables;

/// <summary>The defaults of <see cref="NatMapOptions"/> and <see cref="Rules.NatRuleBuilder"/>.</summary>
public static class NatMapDefaults
{
    /// <summary>The name of the library's own chain in the nat and filter tables: <c>NATMAP</c>.</summary>
    public const string ChainName = "NATMAP";

    /// <summary>The prefix of every rule comment the library writes: <c>natmap</c>.</summary>
    public const string CommentPrefix = "natmap";

    /// <summary>The IPv4 program: <c>iptables</c> (Debian's alternative picks the nft or legacy backend).</summary>
    public const string IptablesPath = "iptables";

    /// <summary>The IPv6 program: <c>ip6tables</c>.</summary>
    public const string Ip6tablesPath = "ip6tables";

    /// <summary>The iproute2 program used for <c>ip netns exec</c>: <c>ip</c>.</summary>
    public const string IpPath = "ip";

    /// <summary>The procps program for kernel settings: <c>sysctl</c>.</summary>
    public const string SysctlPath = "sysctl";

    /// <summary>The conntrack-tools program that deletes tracked flows: <c>conntrack</c>.</summary>
    public const string ConntrackPath = "conntrack";

    /// <summary>The default <see cref="NatMapOptions.NftPath"/>: <c>nft</c>, found on the PATH.</summary>
    public const string NftPath = "nft";

    /// <summary>The kernel setting that lets traffic from 127.0.0.1 be routed to a container: <c>net.ipv4.conf.all.route_localnet</c>.</summary>
    public const string RouteLocalnetSetting = "net.ipv4.conf.all.route_localnet";

    /// <summary>The filter chain Docker reserves for user rules, which the library hooks into: <c>DOCKER-USER</c>.</summary>
    public const string DockerUserChain = "DOCKER-USER";

    /// <summary>How long a command waits for the xtables lock: 10 seconds (<c>-w 10</c>).</summary>
    public static readonly TimeSpan XtablesLockWait = TimeSpan.FromSeconds(10);

    /// <summary>How long a command may run before it is killed: 45 seconds, longer than three lock waits of 10 seconds (a restore waits once per table).</summary>
    public static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(45);
}
