namespace NatMap.Iptables;

/// <summary>Settings of <see cref="IptablesManager"/>. Validated when the manager is created (and at host start-up under dependency injection).</summary>
public sealed class NatMapOptions
{
    /// <summary>Gets or sets the library's chain in the nat and filter tables.</summary>
    /// <value>The default is <c>NATMAP</c>. At most 28 characters: letters, digits, <c>_</c>, <c>.</c>, <c>-</c>; not a built-in chain or target name.</value>
    public string ChainName { get; set; } = NatMapDefaults.ChainName;

    /// <summary>Gets or sets the prefix of every rule comment; FlushAll removes every rule whose comment starts with it and a colon.</summary>
    /// <value>The default is <c>natmap</c>. At most 32 characters: letters, digits, <c>_</c>, <c>.</c>, <c>-</c>.</value>
    public string CommentPrefix { get; set; } = NatMapDefaults.CommentPrefix;

    /// <summary>Gets or sets the IPv4 program. Use <c>iptables-nft</c> or <c>iptables-legacy</c> to pick a backend.</summary>
    /// <value>The default is <c>iptables</c>.</value>
    public string IptablesPath { get; set; } = NatMapDefaults.IptablesPath;

    /// <summary>Gets or sets the IPv6 program. Use <c>ip6tables-nft</c> or <c>ip6tables-legacy</c> to pick a backend.</summary>
    /// <value>The default is <c>ip6tables</c>.</value>
    public string Ip6tablesPath { get; set; } = NatMapDefaults.Ip6tablesPath;

    /// <summary>Gets or sets a value indicating whether IPv6 is managed: Setup and FlushAll then also run ip6tables, and IPv6 objects are accepted.</summary>
    /// <value>The default is <see langword="true"/>.</value>
    public bool EnableIpv6 { get; set; } = true;

    /// <summary>
    /// Gets or sets how long each command waits for the xtables lock (<c>-w</c>, whole seconds, rounded up) before it
    /// fails with exit code 4. <see langword="null"/> passes no <c>-w</c>, and a held lock fails the command at once.
    /// </summary>
    /// <value>The default is 10 seconds. Between 1 second and 1 hour, and less than a third of <see cref="CommandTimeout"/>.</value>
    public TimeSpan? XtablesLockWait { get; set; } = NatMapDefaults.XtablesLockWait;

    /// <summary>Gets or sets a network namespace to run every command in, through <c>ip netns exec NAME</c>; <see langword="null"/> for the caller's namespace.</summary>
    /// <value>
    /// The default is <see langword="null"/>. A name of letters, digits, <c>_</c>, <c>.</c>, <c>-</c>, at most
    /// <see cref="NatMapLimits.MaxNetworkNamespaceLength"/> characters, not <c>.</c> or <c>..</c>.
    /// </value>
    public string? NetworkNamespace { get; set; }

    /// <summary>Gets or sets the iproute2 program used for <see cref="NetworkNamespace"/>.</summary>
    /// <value>The default is <c>ip</c>.</value>
    public string IpPath { get; set; } = NatMapDefaults.IpPath;

    /// <summary>
    /// Gets or sets a value indicating whether Setup manages the host settings the rules need: it sets
    /// <c>net.ipv4.conf.all.route_localnet=1</c> (so host traffic to 127.0.0.1 can be translated to a container) after
    /// adding the raw-table guard that drops packets to 127.0.0.0/8 arriving on any interface but <c>lo</c>. FlushAll turns
    /// the setting off (before it deletes the guard) when the guard's comment says Setup turned it on, or when it is on and
    /// no other loopback guard would remain: the library never leaves it on without a guard. When <see langword="false"/>,
    /// the host is left alone and installing a
    /// mapping that admits 127.0.0.1 fails with a clear error if the setting is off. <c>ip_forward</c> is never changed.
    /// </summary>
    /// <value>The default is <see langword="true"/>.</value>
    public bool ManageHostSettings { get; set; } = true;

    /// <summary>Gets or sets the procps program used to read and write kernel settings.</summary>
    /// <value>The default is <c>sysctl</c>.</value>
    public string SysctlPath { get; set; } = NatMapDefaults.SysctlPath;

    /// <summary>
    /// Gets or sets how long one command may run. The manager enforces it for every command it runs, rollback steps
    /// included, whatever the <see cref="ICommandRunner"/>: it cancels the command's token (the default runner then kills
    /// the process) and throws <see cref="TimeoutException"/> naming the command.
    /// </summary>
    /// <value>
    /// The default is 45 seconds. Greater than zero and, with <see cref="XtablesLockWait"/>, longer than three lock waits:
    /// the legacy <c>iptables-restore</c> waits for the lock once per table (raw, nat, filter).
    /// </value>
    public TimeSpan CommandTimeout { get; set; } = NatMapDefaults.CommandTimeout;

    /// <summary>
    /// Gets or sets how rule changes are applied. The default, <see cref="RuleApplyMode.Batch"/>, writes each
    /// operation's changes through one <c>iptables-restore --noflush</c> per address family and reads the tables with
    /// <c>iptables-save</c>; <see cref="RuleApplyMode.PerRule"/> runs one <c>iptables</c> process per change and
    /// reads with <c>iptables -S</c>.
    /// </summary>
    public RuleApplyMode ApplyMode { get; set; } = RuleApplyMode.Batch;

    /// <summary>
    /// Gets or sets which tracked flows are deleted when an operation installs or removes a Docker mapping or static
    /// DNAT, so that flows already in the kernel's conntrack table follow the change at once (see
    /// <see cref="Iptables.ConntrackReset"/>). It runs <see cref="ConntrackPath"/>; on a host without that program the
    /// rules still change, a warning is logged, and existing flows keep their old path until their entries time out.
    /// </summary>
    /// <value>The default is <see cref="ConntrackReset.Udp"/>.</value>
    public ConntrackReset ConntrackReset { get; set; } = ConntrackReset.Udp;

    /// <summary>Gets or sets the conntrack-tools program used for <see cref="ConntrackReset"/>.</summary>
    /// <value>The default is <c>conntrack</c>.</value>
    public string ConntrackPath { get; set; } = NatMapDefaults.ConntrackPath;

    /// <summary>
    /// Gets or sets which kernel interface the manager writes through: <see cref="NatMapBackend.Iptables"/> (the
    /// default) or <see cref="NatMapBackend.Nftables"/>, whose costs do not grow with the number of mappings.
    /// </summary>
    /// <value>The default is <see cref="NatMapBackend.Iptables"/>.</value>
    public NatMapBackend Backend { get; set; } = NatMapBackend.Iptables;

    /// <summary>Gets or sets the <c>nft</c> program the <see cref="NatMapBackend.Nftables"/> backend runs.</summary>
    /// <value>The default is <c>nft</c>.</value>
    public string NftPath { get; set; } = NatMapDefaults.NftPath;

    /// <summary>
    /// The one options snapshot: a copy of every setting, so later changes to this object have no effect on whoever
    /// took it. A unit test fails when a settable property is added and not copied here.
    /// </summary>
    internal NatMapOptions Snapshot() => new()
    {
        ChainName = ChainName,
        CommentPrefix = CommentPrefix,
        IptablesPath = IptablesPath,
        Ip6tablesPath = Ip6tablesPath,
        EnableIpv6 = EnableIpv6,
        XtablesLockWait = XtablesLockWait,
        NetworkNamespace = NetworkNamespace,
        IpPath = IpPath,
        CommandTimeout = CommandTimeout,
        ManageHostSettings = ManageHostSettings,
        SysctlPath = SysctlPath,
        ApplyMode = ApplyMode,
        ConntrackReset = ConntrackReset,
        ConntrackPath = ConntrackPath,
        Backend = Backend,
        NftPath = NftPath,
    };
}
