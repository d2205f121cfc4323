using System.Globalization;
using System.Net;
using System.Net.Sockets;
using NatMap.Iptables.Internal;

namespace NatMap.Iptables.Rules;

/// <summary>
/// Turns the model into iptables rules. Pure: no I/O, no state beyond the chain name and comment prefix, the same
/// output for the same input. Public so that consumers can assert exactly what will be installed.
/// </summary>
/// <remarks>
/// <para>Every rule carries <c>-m comment --comment</c> with a comment that starts with <see cref="CommentPrefix"/> and
/// a colon, and identifies its object uniquely (protocol, addresses and ports included). Rules are written in the
/// form <c>iptables -S</c> prints them (<c>/32</c> host masks, an explicit <c>-m tcp</c>), so a listing can be
/// compared with them token by token.</para>
/// <para>Each build method validates its model first and throws an <see cref="ArgumentException"/> naming the field;
/// that includes rules between fields that a <see langword="with"/> expression may have broken, and the
/// <see cref="NatMapLimits.MaxCommentLength"/> limit on the resulting comment.</para>
/// </remarks>
public sealed class NatRuleBuilder
{
    /// <summary>Initializes a new instance.</summary>
    /// <param name="chainName">The library's chain in the nat and filter tables.</param>
    /// <param name="commentPrefix">The prefix of every rule comment.</param>
    /// <exception cref="ArgumentException">A name is empty, too long, or has a character outside letters, digits, <c>_</c>, <c>.</c>, <c>-</c>.</exception>
    public NatRuleBuilder(string chainName = NatMapDefaults.ChainName, string commentPrefix = NatMapDefaults.CommentPrefix)
    {
        var error = Names.ChainNameError(chainName);
        if (error is not null)
        {
            throw new ArgumentException(error, nameof(chainName));
        }

        error = Names.CommentPrefixError(commentPrefix);
        if (error is not null)
        {
            throw new ArgumentException(error, nameof(commentPrefix));
        }

        ChainName = chainName;
        CommentPrefix = commentPrefix;
        SetupComment = commentPrefix + ":setup";
        RouteLocalnetComment = commentPrefix + ":setup:route_localnet";
        BucketComment = commentPrefix + ":setup:bucket";
        PostroutingChainName = chainName + "-P";
    }

    /// <summary>Gets a builder with the default chain name (<c>NATMAP</c>) and comment prefix (<c>natmap</c>).</summary>
    public static NatRuleBuilder Default { get; } = new();

    /// <summary>Gets the library's chain name.</summary>
    public string ChainName { get; }

    /// <summary>Gets the comment prefix; every comment the builder writes starts with it and a colon.</summary>
    public string CommentPrefix { get; }

    /// <summary>Gets the comment of the jump rules <see cref="BuildSetupJumps"/> returns: the prefix and <c>:setup</c>.</summary>
    public string SetupComment { get; }

    /// <summary>
    /// Gets the library's chain in nat <c>POSTROUTING</c>, which Setup reaches only for translated connections
    /// (<c>--ctstate DNAT</c>): the chain name and <c>-P</c>. The hairpin rules of Docker mappings hang from it.
    /// </summary>
    public string PostroutingChainName { get; }

    /// <summary>
    /// Gets the comment of the jumps that dispatch a packet by protocol and destination port to the chain that holds
    /// the rules of its port (see <see cref="BuildDispatchJumps"/>): the prefix and <c>:setup:bucket</c>.
    /// </summary>
    public string BucketComment { get; }

    /// <summary>
    /// Gets the comment of the loopback guard when Setup also turned <c>route_localnet</c> on, so that FlushAll knows to
    /// turn it off again: the prefix and <c>:setup:route_localnet</c>.
    /// </summary>
    public string RouteLocalnetComment { get; }

    /// <summary>
    /// The one decision on ownership: whether a rule's comment says the library made it (it starts with the prefix and
    /// a colon). Setup's rules, objects' rules and the marked loopback guard alike.
    /// </summary>
    internal bool IsOwned(string? comment) =>
        comment is not null && comment.StartsWith(CommentPrefix, StringComparison.Ordinal) && comment.Length > CommentPrefix.Length && comment[CommentPrefix.Length] == ':';

    /// <summary>Whether a comment marks a rule of an object the library owns (owned, and not one of Setup's rules).</summary>
    internal bool IsObjectComment(string? comment) =>
        IsOwned(comment)
        && comment != SetupComment
        && !comment!.StartsWith(SetupComment + ":", StringComparison.Ordinal);

    /// <summary>
    /// Whether a listed rule is a loopback guard, whoever made it: a raw <c>PREROUTING</c> rule that drops packets to
    /// 127.0.0.0/8 arriving on any interface but <c>lo</c>, whatever its comment.
    /// </summary>
    internal bool IsLoopbackGuard(ListedRule rule) =>
        rule.Chain == "PREROUTING"
        && rule.JumpTarget == "DROP"
        && WithoutComment(rule.Specification).SequenceEqual(WithoutComment(BuildLoopbackGuard().Specification), StringComparer.Ordinal);

    /// <summary>
    /// Returns the IPv4 loopback guard: raw <c>PREROUTING</c> drops packets to 127.0.0.0/8 that arrive on any interface
    /// but <c>lo</c>, before any DNAT could forward them. With it, a mapping bound to 127.0.0.1 stays local even when
    /// <c>route_localnet</c> is on, and so do the host's own loopback services.
    /// </summary>
    /// <param name="restoresRouteLocalnet"><see langword="true"/> to mark that Setup turned <c>route_localnet</c> on, so FlushAll turns it off.</param>
    /// <returns>The guard rule.</returns>
    public IptablesRule BuildLoopbackGuard(bool restoresRouteLocalnet = false) =>
        new(AddressFamily.InterNetwork, "raw", "PREROUTING",
            ["-d", "127.0.0.0/8", "!", "-i", "lo", .. CommentArgs(restoresRouteLocalnet ? RouteLocalnetComment : SetupComment), "-j", "DROP"],
            RulePosition.Top);

    /// <summary>
    /// Returns the IPv4 rule that lets host connections to 127.0.0.1 reach containers: nat <c>POSTROUTING</c>
    /// masquerades translated connections (<c>--ctstate DNAT</c>) whose source is on 127.0.0.0/8 and that leave
    /// through any interface but <c>lo</c>, so the container answers the host address instead of a loopback address
    /// it would keep to itself. One shared rule serves every mapping that admits 127.0.0.1 (with
    /// <c>route_localnet</c>, see <see cref="BuildLoopbackGuard"/>). It goes to the top of the chain.
    /// </summary>
    /// <returns>The rule.</returns>
    public IptablesRule BuildLoopbackMasquerade() =>
        new(AddressFamily.InterNetwork, "nat", "POSTROUTING",
            ["-s", "127.0.0.0/8", "!", "-o", "lo", "-m", "conntrack", "--ctstate", "DNAT", .. CommentArgs(SetupComment), "-j", "MASQUERADE"],
            RulePosition.Top);

    /// <summary>
    /// Returns the jumps into the library's chains: nat <c>PREROUTING</c> and <c>OUTPUT</c> for packets addressed to a
    /// local address (<c>-m addrtype --dst-type LOCAL</c>, so traffic passing through is never redirected), and
    /// filter <c>DOCKER-USER</c>. Each goes to the top of its chain.
    /// </summary>
    /// <param name="family">The address family.</param>
    /// <returns>The three jump rules.</returns>
    public IReadOnlyList<IptablesRule> BuildSetupJumps(AddressFamily family) =>
    [
        new(family, "nat", "PREROUTING", ["-m", "addrtype", "--dst-type", "LOCAL", .. CommentArgs(SetupComment), "-j", ChainName], RulePosition.Top),
        new(family, "nat", "OUTPUT", ["-m", "addrtype", "--dst-type", "LOCAL", .. CommentArgs(SetupComment), "-j", ChainName], RulePosition.Top),
        new(family, "filter", NatMapDefaults.DockerUserChain, [.. CommentArgs(SetupComment), "-j", ChainName], RulePosition.Top),
    ];

    /// <summary>
    /// Returns the jump from nat <c>POSTROUTING</c> to <see cref="PostroutingChainName"/> for translated connections only
    /// (<c>--ctstate DNAT</c>), so every other connection on the host passes with one rule. It goes to the end of the chain.
    /// </summary>
    /// <param name="family">The address family.</param>
    /// <returns>The jump rule.</returns>
    public IptablesRule BuildPostroutingJump(AddressFamily family) =>
        new(family, "nat", "POSTROUTING", ["-m", "conntrack", "--ctstate", "DNAT", .. CommentArgs(SetupComment), "-j", PostroutingChainName]);

    /// <summary>
    /// Returns the jumps that lead a packet to the chain of <paramref name="rule"/> when that chain is one of the
    /// library's port buckets (as the rules of <see cref="BuildDockerMap(DockerPortMap)"/> are), top-down: from the
    /// root chain to the port group's chain, then from there to the bucket's. Empty for any other chain.
    /// </summary>
    /// <remarks>
    /// <para>A mapping's rules are not in one long chain that every new connection walks. Each goes to the chain of its
    /// protocol and port: ports are grouped by 2,048 (<c>NATMAP-T4</c> holds tcp 8192–10239) and bucketed by 64 within a
    /// group (<c>NATMAP-T4-3</c> holds tcp 8384–8447). A packet walks at most 32 group jumps, 32 bucket jumps and the
    /// rules of its own 64 ports, whatever the number of mappings. All three rules of a mapping go by its host port: the
    /// DNAT under <see cref="ChainName"/> in nat (<c>--dport</c>); the filter ACCEPT under <see cref="ChainName"/> in
    /// filter and the hairpin MASQUERADE under <see cref="PostroutingChainName"/> (chains <c>NATMAP-PT4-3</c>), both by
    /// the translated connection's original port (<c>-m conntrack --ctorigdstport</c>), since many mappings share a
    /// container port.</para>
    /// <para>The library makes a group or bucket chain, with its jump, with the first rule that needs it, and deletes
    /// both with the last.</para>
    /// </remarks>
    /// <param name="rule">A rule, such as one of <see cref="BuildDockerMap(DockerPortMap)"/>.</param>
    /// <returns>No jumps, or two.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="rule"/> is <see langword="null"/>.</exception>
    public IReadOnlyList<IptablesRule> BuildDispatchJumps(IptablesRule rule)
    {
        ArgumentNullException.ThrowIfNull(rule);
        if (!TryParseBucket(rule.Chain, out var node) || node.Bucket < 0)
        {
            return [];
        }

        var group = node with { Bucket = -1 };
        return [DispatchJump(rule.Family, rule.Table, group), DispatchJump(rule.Family, rule.Table, node)];
    }

    /// <summary>
    /// The jump to <paramref name="node"/>'s chain from its parent: its protocol and host port range, then the chain. In
    /// nat before the DNAT the host port is the packet's (<c>--dport</c>); after it, in filter and under
    /// <see cref="PostroutingChainName"/>, it is the connection's original one (<c>-m conntrack --ctorigdstport</c>),
    /// so mappings that share a container port (many containers listen on 80) still spread over the buckets.
    /// </summary>
    internal IptablesRule DispatchJump(AddressFamily family, string table, PortBucket node)
    {
        var protocol = node.Protocol;
        var (first, last) = node.Ports;
        var range = string.Create(CultureInfo.InvariantCulture, $"{first}:{last}");
        string[] match = table == "nat" && !node.Postrouting ? ["-m", protocol, "--dport", range] : ["-m", "conntrack", "--ctorigdstport", range];
        return new(family, table, ParentChain(node), ["-p", protocol, .. match, .. CommentArgs(BucketComment), "-j", BucketChain(node)]);
    }

    /// <summary>The name of a group or bucket chain.</summary>
    internal string BucketChain(PortBucket node) => string.Create(CultureInfo.InvariantCulture,
        $"{(node.Postrouting ? PostroutingChainName : ChainName + "-")}{node.Letter}{node.Group}{(node.Bucket < 0 ? string.Empty : "-" + node.Bucket.ToString(CultureInfo.InvariantCulture))}");

    /// <summary>The chain a group's or bucket's jump is in: the tree's root for a group, the group's chain for a bucket.</summary>
    internal string ParentChain(PortBucket node) =>
        node.Bucket >= 0 ? BucketChain(node with { Bucket = -1 }) : node.Postrouting ? PostroutingChainName : ChainName;

    /// <summary>The root of the tree a chain of the library belongs to (<see cref="ChainName"/> or <see cref="PostroutingChainName"/>); <see langword="null"/> for any other chain.</summary>
    internal string? RootOf(string chain) =>
        chain == ChainName || chain == PostroutingChainName ? chain
        : TryParseBucket(chain, out var node) ? (node.Postrouting ? PostroutingChainName : ChainName)
        : null;

    /// <summary>Whether <paramref name="chain"/> is one of the library's chains: a root, a group or a bucket.</summary>
    internal bool IsOwnChain(string chain) => RootOf(chain) is not null;

    /// <summary>Whether <paramref name="chain"/> is where nat DNAT rules of mappings live: <see cref="ChainName"/> or one of its groups or buckets.</summary>
    internal bool IsDnatChain(string chain) => RootOf(chain) == ChainName;

    /// <summary>Reads a group or bucket chain's name back (<c>NATMAP-T4</c>, <c>NATMAP-PU31-0</c>); exactly the names <see cref="BucketChain"/> writes.</summary>
    internal bool TryParseBucket(string chain, out PortBucket node)
    {
        node = default;
        if (chain.Length <= ChainName.Length + 1 || !chain.StartsWith(ChainName, StringComparison.Ordinal) || chain[ChainName.Length] != '-')
        {
            return false;
        }

        var rest = chain.AsSpan(ChainName.Length + 1);
        var postrouting = rest[0] == 'P';
        rest = postrouting ? rest[1..] : rest;
        if (rest.Length < 2 || rest[0] is not ('T' or 'U'))
        {
            return false;
        }

        var letter = rest[0];
        rest = rest[1..];
        var dash = rest.IndexOf('-');
        var bucket = -1;
        if (!TryIndex(dash < 0 ? rest : rest[..dash], out var group) || (dash >= 0 && !TryIndex(rest[(dash + 1)..], out bucket)))
        {
            return false;
        }

        node = new PortBucket(postrouting, letter, group, bucket);
        return true;

        static bool TryIndex(ReadOnlySpan<char> text, out int value)
        {
            value = 0;
            if (text.Length is 0 or > 2 || (text.Length == 2 && text[0] == '0'))
            {
                return false;
            }

            foreach (var c in text)
            {
                if (c is < '0' or > '9')
                {
                    return false;
                }

                value = (value * 10) + (c - '0');
            }

            return value < PortBucket.Count;
        }
    }

    /// <summary>
    /// Returns the rule at the top of the library's filter chain that lets replies through: established or related
    /// packets. Hosts whose <c>FORWARD</c> policy is DROP (Docker, ufw, firewalld) need it for the replies of mapped
    /// connections. A connection only becomes established once its first packet was accepted, so it admits nothing new.
    /// </summary>
    /// <param name="family">The address family.</param>
    /// <returns>The rule.</returns>
    public IptablesRule BuildForwardReturnRule(AddressFamily family) =>
        new(family, "filter", ChainName,
            ["-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", .. CommentArgs(SetupComment), "-j", "ACCEPT"],
            RulePosition.Top);

    /// <summary>
    /// Returns the jump from filter <c>FORWARD</c> to <c>DOCKER-USER</c> that Setup adds when Docker has not made
    /// that chain (Docker adds its own jump when it does).
    /// </summary>
    /// <param name="family">The address family.</param>
    /// <returns>The jump rule.</returns>
    public IptablesRule BuildDockerUserJump(AddressFamily family) =>
        new(family, "filter", "FORWARD", [.. CommentArgs(SetupComment), "-j", NatMapDefaults.DockerUserChain], RulePosition.Top);

    /// <summary>Returns the rules of a Docker-style port mapping.</summary>
    /// <param name="map">The mapping.</param>
    /// <returns>
    /// In order: the DNAT in the nat chain (reached only for local destinations); the ACCEPT in the filter chain, which
    /// admits only connections that this DNAT translated (<c>--ctstate DNAT</c> with the original host port, and the
    /// original host address when the mapping is bound), so a neighbour that routes straight to the container address is
    /// not let in; the MASQUERADE in nat <c>POSTROUTING</c> of translated connections (<c>! --ctorigdst CONTAINER</c>) from the
    /// container itself (hairpin). Host connections to 127.0.0.1 are carried by Setup's shared
    /// <see cref="BuildLoopbackMasquerade"/> rule for IPv4 bindings that admit 127.0.0.1. IPv6 has no equivalent: the
    /// kernel never routes <c>::1</c> to another interface, so host traffic to <c>[::1]:port</c> cannot reach a container.
    /// </returns>
    /// <exception cref="ArgumentNullException"><paramref name="map"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">The map is invalid, or its comment would exceed <see cref="NatMapLimits.MaxCommentLength"/>.</exception>
    public IReadOnlyList<IptablesRule> BuildDockerMap(DockerPortMap map) => BuildDockerMap(map, null);

    /// <summary>
    /// Returns the rules of a Docker-style port mapping whose container sits on <paramref name="containerNetwork"/>
    /// (its bridge's subnet). The hairpin MASQUERADE then covers every source on that network, so a container can
    /// reach a sibling through the host address: without it the sibling would answer directly, past the translation.
    /// </summary>
    /// <param name="map">The mapping.</param>
    /// <param name="containerNetwork">The container's on-link network, or <see langword="null"/> to cover the container itself only.</param>
    /// <returns>The rules, as <see cref="BuildDockerMap(DockerPortMap)"/> describes.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="map"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">The map is invalid, or <paramref name="containerNetwork"/> does not contain the container address or has prefix length 0.</exception>
    public IReadOnlyList<IptablesRule> BuildDockerMap(DockerPortMap map, IPNetwork? containerNetwork)
    {
        ArgumentNullException.ThrowIfNull(map);
        var host = map.HostEndpoint;
        var container = map.ContainerEndpoint;
        Guard.SameFamily(host.Address, nameof(DockerPortMap.HostEndpoint), container.Address, nameof(DockerPortMap.ContainerEndpoint));
        var comment = DockerMapComment(map.ContainerId, map.Protocol, host, container);
        var family = host.AddressFamily;
        var protocol = Tokens.Protocol(map.Protocol);
        var containerHost = Tokens.Host(container.Address);
        var hostPort = host.Port.ToString(CultureInfo.InvariantCulture);
        var containerPort = container.Port.ToString(CultureInfo.InvariantCulture);
        var bound = !host.Address.Equals(IPAddress.Any) && !host.Address.Equals(IPAddress.IPv6Any);
        if (containerNetwork is { } network && !network.Contains(container.Address))
        {
            throw new ArgumentException($"The container network {network} does not contain the container address {container.Address}.", nameof(containerNetwork));
        }

        if (containerNetwork is { PrefixLength: 0 } everything)
        {
            // iptables lists "-s 0.0.0.0/0" without -s: the rule would never read back as built, and every install would add a copy.
            throw new ArgumentException($"The container network {everything} matches every source, which iptables cannot tell from no match at all.", nameof(containerNetwork));
        }

        var hairpinSources = containerNetwork is { } lan && lan.PrefixLength < (family == AddressFamily.InterNetwork ? 32 : 128)
            ? Tokens.Network(lan)
            : containerHost;

        return
        [
            new(family, "nat", BucketChain(PortBucket.Of(map.Protocol, host.Port, postrouting: false)),
            [
                .. bound ? (string[])["-d", Tokens.Host(host.Address)] : [],
                "-p", protocol, "-m", protocol, "--dport", hostPort,
                .. CommentArgs(comment),
                "-j", "DNAT", "--to-destination", Tokens.Endpoint(container),
            ]),
            new(family, "filter", BucketChain(PortBucket.Of(map.Protocol, host.Port, postrouting: false)),
            [
                "-d", containerHost, "-p", protocol, "-m", protocol, "--dport", containerPort,
                "-m", "conntrack", "--ctstate", "DNAT", .. bound ? (string[])["--ctorigdst", host.Address.ToString()] : [], "--ctorigdstport", hostPort,
                .. CommentArgs(comment), "-j", "ACCEPT",
            ]),
            new(family, "nat", BucketChain(PortBucket.Of(map.Protocol, host.Port, postrouting: true)),
                ["-s", hairpinSources, "-d", containerHost, "-p", protocol, "-m", protocol, "--dport", containerPort, "-m", "conntrack", "!", "--ctorigdst", container.Address.ToString(), .. CommentArgs(comment), "-j", "MASQUERADE"]),
        ];
    }

    /// <summary>
    /// Returns the rules of a static DNAT: the DNAT in nat <c>PREROUTING</c>, then the ACCEPT in the library's filter
    /// chain, which admits only connections translated from the external address (<c>--ctstate DNAT --ctorigdst</c>),
    /// never a packet routed straight to the internal address. Setup reaches that chain from the top of <c>FORWARD</c>
    /// (through <c>DOCKER-USER</c>): appended to <c>FORWARD</c> itself the ACCEPT would sit after a final
    /// <c>-j REJECT</c> (RHEL's iptables-services) and never match. Installing it therefore needs Setup, as a Docker
    /// mapping does.
    /// </summary>
    /// <param name="config">The DNAT.</param>
    /// <returns>The two rules.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="config"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">The configuration is invalid, or its comment would exceed <see cref="NatMapLimits.MaxCommentLength"/>.</exception>
    public IReadOnlyList<IptablesRule> BuildDnat(DnatConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        var comment = DnatComment(config);
        var family = config.ExternalIp.AddressFamily;
        var protocol = Tokens.Protocol(config.Protocol);
        string[] inInterface = config.ExternalInterface is { } name ? ["-i", name] : [];
        int? targetPort = config.InternalPort ?? (config.Ports.IsSinglePort ? config.Ports.Ranges[0].First : null);
        var forwardPorts = config.InternalPort is { } internalPort ? new PortSet(internalPort) : config.Ports;

        return
        [
            new(family, "nat", "PREROUTING",
            [
                "-d", Tokens.Host(config.ExternalIp), .. inInterface, "-p", protocol, .. PortArgs(protocol, config.Ports),
                .. CommentArgs(comment), "-j", "DNAT", "--to-destination", Tokens.NatTarget(config.InternalIp, targetPort),
            ]),
            new(family, "filter", ChainName,
            [
                "-d", Tokens.Host(config.InternalIp), "-p", protocol, .. PortArgs(protocol, forwardPorts),
                "-m", "conntrack", "--ctstate", "DNAT", "--ctorigdst", config.ExternalIp.ToString(),
                .. CommentArgs(comment), "-j", "ACCEPT",
            ]),
        ];
    }

    /// <summary>Returns the rule of a static SNAT: the SNAT in nat <c>POSTROUTING</c>.</summary>
    /// <param name="config">The SNAT.</param>
    /// <returns>The one rule.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="config"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">The configuration is invalid.</exception>
    public IReadOnlyList<IptablesRule> BuildSnat(SnatConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        var comment = SnatComment(config);
        return
        [
            new(config.InternalIp.AddressFamily, "nat", "POSTROUTING",
            [
                "-s", Tokens.Host(config.InternalIp), "-o", config.ExternalInterface,
                .. CommentArgs(comment), "-j", "SNAT", "--to-source", config.ExternalIp.ToString(),
            ]),
        ];
    }

    /// <summary>Returns the rules of a hairpin NAT: the DNAT in nat <c>PREROUTING</c>, then the MASQUERADE in nat <c>POSTROUTING</c>.</summary>
    /// <param name="config">The hairpin NAT.</param>
    /// <returns>The two rules.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="config"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">The configuration is invalid, or its comment would exceed <see cref="NatMapLimits.MaxCommentLength"/>.</exception>
    public IReadOnlyList<IptablesRule> BuildHairpin(HairpinConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        var comment = HairpinComment(config);
        var family = config.ExternalIp.AddressFamily;
        var protocol = Tokens.Protocol(config.Protocol);
        string[] source = config.LanCidr is { } lan ? ["-s", Tokens.Network(lan)] : [];
        var ports = PortArgs(protocol, config.Ports);
        return
        [
            new(family, "nat", "PREROUTING",
                [.. source, "-d", Tokens.Host(config.ExternalIp), "-p", protocol, .. ports, .. CommentArgs(comment), "-j", "DNAT", "--to-destination", config.InternalIp.ToString()]),
            new(family, "nat", "POSTROUTING",
                [.. source, "-d", Tokens.Host(config.InternalIp), "-p", protocol, .. ports, .. CommentArgs(comment), "-j", "MASQUERADE"]),
        ];
    }

    /// <summary>Returns the comment that identifies a Docker mapping's rules.</summary>
    /// <param name="map">The mapping.</param>
    /// <returns>For example <c>natmap:docker:web:tcp:0.0.0.0:8080:172.17.0.2:80</c>; IPv6 addresses are bracketed.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="map"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">The comment would exceed <see cref="NatMapLimits.MaxCommentLength"/>.</exception>
    public string DockerMapComment(DockerPortMap map)
    {
        ArgumentNullException.ThrowIfNull(map);
        return DockerMapComment(map.ContainerId, map.Protocol, map.HostEndpoint, map.ContainerEndpoint);
    }

    private string DockerMapComment(string containerId, TransportProtocol protocol, IPEndPoint host, IPEndPoint container) => CheckComment(
        $"{CommentPrefix}:docker:{containerId}:{Tokens.Protocol(protocol)}:{Tokens.Endpoint(host)}:{Tokens.Endpoint(container)}",
        nameof(DockerPortMap.ContainerId));

    /// <summary>Returns the comment that identifies a static DNAT's rules.</summary>
    /// <param name="config">The DNAT.</param>
    /// <returns>For example <c>natmap:dnat:tcp:203.0.113.5:80,443:10.0.0.2</c> (ranges as <c>8000-8100</c>), with <c>:8080</c> for an internal port and <c>:if=eth0</c> for an interface.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="config"/> is <see langword="null"/>.</exception>
    public string DnatComment(DnatConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var port = config.InternalPort is { } p ? string.Create(CultureInfo.InvariantCulture, $":{p}") : string.Empty;
        var inInterface = config.ExternalInterface is { } name ? $":if={name}" : string.Empty;
        return CheckComment(
            $"{CommentPrefix}:dnat:{Tokens.Protocol(config.Protocol)}:{Tokens.Bracketed(config.ExternalIp)}:{CommentPorts(config.Ports)}:{Tokens.Bracketed(config.InternalIp)}{port}{inInterface}",
            nameof(DnatConfig.Ports));
    }

    /// <summary>Returns the comment that identifies a static SNAT's rule.</summary>
    /// <param name="config">The SNAT.</param>
    /// <returns>For example <c>natmap:snat:10.0.0.2:203.0.113.5:eth0</c>.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="config"/> is <see langword="null"/>.</exception>
    public string SnatComment(SnatConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        return CheckComment(
            $"{CommentPrefix}:snat:{Tokens.Bracketed(config.InternalIp)}:{Tokens.Bracketed(config.ExternalIp)}:{config.ExternalInterface}",
            nameof(SnatConfig.ExternalInterface));
    }

    /// <summary>Returns the comment that identifies a hairpin NAT's rules.</summary>
    /// <param name="config">The hairpin NAT.</param>
    /// <returns>For example <c>natmap:hairpin:tcp:203.0.113.5:80:10.0.0.2</c>, with <c>:lan=192.168.1.0/24</c> for a LAN.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="config"/> is <see langword="null"/>.</exception>
    public string HairpinComment(HairpinConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var lan = config.LanCidr is { } network ? $":lan={Tokens.Network(network)}" : string.Empty;
        return CheckComment(
            $"{CommentPrefix}:hairpin:{Tokens.Protocol(config.Protocol)}:{Tokens.Bracketed(config.ExternalIp)}:{CommentPorts(config.Ports)}:{Tokens.Bracketed(config.InternalIp)}{lan}",
            nameof(HairpinConfig.Ports));
    }

    /// <summary>Ports in a comment use '-' for ranges, so that ':' only separates fields.</summary>
    private static string CommentPorts(PortSet ports) => ports.ToString().Replace(':', '-');

    /// <summary>Whether host traffic to 127.0.0.1 should reach the mapping: IPv4, bound to nothing or to a loopback address.</summary>
    internal static bool AdmitsIpv4Loopback(IPEndPoint host) =>
        host.AddressFamily == AddressFamily.InterNetwork && (host.Address.Equals(IPAddress.Any) || IPAddress.IsLoopback(host.Address));

    private static string[] CommentArgs(string comment) => ["-m", "comment", "--comment", comment];

    private static string[] PortArgs(string protocol, PortSet ports) => ports.IsMultiport
        ? ["-m", "multiport", "--dports", ports.ToString()]
        : ["-m", protocol, "--dport", ports.ToString()];

    private static string CheckComment(string comment, string paramName) => comment.Length <= NatMapLimits.MaxCommentLength
        ? comment
        : throw new ArgumentException(
            $"The rule comment would be {comment.Length} characters long; iptables keeps at most {NatMapLimits.MaxCommentLength} and silently truncates the rest, which would break removal. Shorten {paramName} or the comment prefix.",
            paramName);

    private static IEnumerable<string> WithoutComment(IReadOnlyList<string> specification)
    {
        for (var i = 0; i < specification.Count; i++)
        {
            if (specification[i] == "-m" && i + 3 < specification.Count && specification[i + 1] == "comment" && specification[i + 2] == "--comment")
            {
                i += 3;
                continue;
            }

            yield return specification[i];
        }
    }
}
