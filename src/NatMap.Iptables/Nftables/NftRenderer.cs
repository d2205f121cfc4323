using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using NatMap.Iptables.Internal;
using NatMap.Iptables.Rules;

namespace NatMap.Iptables.Nftables;

/// <summary>
/// Turns the model into <c>nft -f -</c> scripts. Pure: no I/O, the same text for the same input, every value validated
/// before it is written (names and comments are quoted and hold only characters the model's guards admit).
/// </summary>
/// <remarks>
/// <para>A Docker mapping is one map element whose comment is the container id; no rule is written per mapping.
/// Static DNAT, SNAT and hairpin objects are rules with a kind comment; the parser reads their identity back from
/// the rule's expressions.</para>
/// <para>Port sets are written sorted and merged (<c>443,80,81</c> as <c>{ 80-81, 443 }</c>), because nftables keeps
/// an interval set in that order: what <see cref="NftListing"/> reads back equals <see cref="Normalize(PortSet)"/>.</para>
/// </remarks>
internal sealed class NftRenderer
{
    private static readonly string Mark = Hex(NftSchema.TranslatedMark);
    private static readonly string HairpinMark = Hex(NftSchema.HairpinMark);

    /// <summary>
    /// The translated bit as iptables lists a connmark match (<c>0x1000000/0x1000000</c>, no leading zeros), so the rule
    /// as built is the rule as listed and a read-back after a lost result finds it.
    /// </summary>
    private static readonly string IptablesMark = string.Create(CultureInfo.InvariantCulture, $"0x{NftSchema.TranslatedMark:x}/0x{NftSchema.TranslatedMark:x}");

    public NftRenderer(string table = NftSchema.DefaultTable) => Table = NftSchema.CheckTableName(table, nameof(table));

    public static NftRenderer Default { get; } = new();

    public string Table { get; }

    /// <summary>Gets the name of the second table, which holds the static DNAT, SNAT and hairpin rules.</summary>
    public string StaticTable => Table + NftSchema.StaticTableSuffix;

    private string Qualified => $"{NftSchema.Family} {Table}";

    private string QualifiedStatic => $"{NftSchema.Family} {StaticTable}";

    /// <summary>
    /// The whole table in one transaction: created if missing, deleted, and written again, so the kernel swaps the old
    /// table for the new one atomically, IPv4 and IPv6 together. Setup is <see cref="NftDesiredState.Empty"/>.
    /// </summary>
    public string RenderFull(NftDesiredState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        var script = new StringBuilder();
        foreach (var table in new[] { Qualified, QualifiedStatic })
        {
            script.Append(CultureInfo.InvariantCulture, $"add table {table}\n");
            script.Append(CultureInfo.InvariantCulture, $"delete table {table}\n");
        }

        script.Append(RenderTable(state));
        return script.ToString();
    }

    /// <summary>
    /// Both table blocks, as <c>nft list table</c> prints them (tabs, one blank line between objects): the mappings
    /// table, then the static table.
    /// </summary>
    public string RenderTable(NftDesiredState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        var elements = state.Mappings
            .Select(m => (Map: MapOf(m), Element: Element(m, withValue: true)))
            .ToLookup(e => e.Map, e => e.Element, StringComparer.Ordinal);
        var blocks = new List<string>();
        foreach (var (name, key, value) in new[]
        {
            (NftSchema.Bound4, "ipv4_addr . inet_proto . inet_service", "ipv4_addr . inet_service"),
            (NftSchema.Unbound4, "inet_proto . inet_service", "ipv4_addr . inet_service"),
            (NftSchema.Bound6, "ipv6_addr . inet_proto . inet_service", "ipv6_addr . inet_service"),
            (NftSchema.Unbound6, "inet_proto . inet_service", "ipv6_addr . inet_service"),
        })
        {
            var block = new StringBuilder();
            block.Append(CultureInfo.InvariantCulture, $"\tmap {name} {{\n\t\ttype {key} : {value}\n");
            var items = elements[name].Order(StringComparer.Ordinal).ToList();
            if (items.Count > 0)
            {
                block.Append("\t\telements = { ");
                block.AppendJoin(",\n\t\t\t     ", items);
                block.Append(" }\n");
            }

            block.Append("\t}\n");
            blocks.Add(block.ToString());
        }

        var setup = $" comment \"{NftSchema.SetupComment}\"";
        var guardComment = state.RouteLocalnetOwned ? NftSchema.RouteLocalnetComment : NftSchema.SetupComment;
        blocks.Add(Chain(NftSchema.GuardChain, "type filter hook prerouting priority raw; policy accept;",
            [$"iifname != \"lo\" ip daddr 127.0.0.0/8 drop comment \"{guardComment}\""]));
        blocks.Add(Chain(NftSchema.PreroutingChain, "type nat hook prerouting priority dstnat; policy accept;",
        [
            $"fib daddr type local jump {NftSchema.MappingsChain}{setup}",
        ]));
        blocks.Add(Chain(NftSchema.OutputChain, "type nat hook output priority -100; policy accept;",
            [$"fib daddr type local jump {NftSchema.MappingsChain}{setup}"]));
        blocks.Add(Chain(NftSchema.MappingsChain, null,
        [
            $"ip daddr . meta l4proto . th dport @{NftSchema.Bound4} ct mark set ct mark | {Mark} dnat ip to ip daddr . meta l4proto . th dport map @{NftSchema.Bound4}{setup}",
            $"meta l4proto . th dport @{NftSchema.Unbound4} ct mark set ct mark | {Mark} dnat ip to meta l4proto . th dport map @{NftSchema.Unbound4}{setup}",
            $"ip6 daddr . meta l4proto . th dport @{NftSchema.Bound6} ct mark set ct mark | {Mark} dnat ip6 to ip6 daddr . meta l4proto . th dport map @{NftSchema.Bound6}{setup}",
            $"meta l4proto . th dport @{NftSchema.Unbound6} ct mark set ct mark | {Mark} dnat ip6 to meta l4proto . th dport map @{NftSchema.Unbound6}{setup}",
        ]));
        blocks.Add(Chain(NftSchema.HairpinChain, "type filter hook prerouting priority dstnat + 10; policy accept;",
            [$"ct state new ct status dnat ct mark & {Mark} == {Mark} fib daddr . iif oif exists ct mark set ct mark | {HairpinMark}{setup}"]));
        blocks.Add(Chain(NftSchema.PostroutingChain, "type nat hook postrouting priority srcnat; policy accept;",
        [
            $"ct mark & {Mark} == {Mark} ct status dnat ip saddr 127.0.0.0/8 oifname != \"lo\" masquerade{setup}",
            $"ct mark & {HairpinMark} == {HairpinMark} masquerade{setup}",
        ]));

        // The static rules sit in a table of their own, so that finding one rule's handle lists a few rules and
        // not every map element: nft fills its cache with the whole table it lists. Their chains run one step after
        // the mappings' (dstnat + 1, srcnat + 1), so a mapping wins as it does with iptables, where its jump comes first.
        return $"table {Qualified} {{\n\tcomment \"{NftSchema.TableComment}\"\n{string.Join("\n", blocks)}}}\n" + RenderStaticTable(state);
    }

    /// <summary>
    /// The static table alone, written again in one swap with exactly the static objects of <paramref name="state"/>:
    /// the undo of a static object's change, which leaves the mappings table and its elements untouched.
    /// </summary>
    public string RenderStaticFull(NftDesiredState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        return $"add table {QualifiedStatic}\ndelete table {QualifiedStatic}\n{RenderStaticTable(state)}";
    }

    private string RenderStaticTable(NftDesiredState state)
    {
        var staticBlocks = new List<string>
        {
            Chain(NftSchema.PreroutingChain, "type nat hook prerouting priority dstnat + 1; policy accept;",
                [.. state.Dnats.Select(DnatRule), .. state.Hairpins.Select(HairpinDnatRule)]),
            Chain(NftSchema.PostroutingChain, "type nat hook postrouting priority srcnat + 1; policy accept;",
                [.. state.Snats.Select(SnatRule), .. state.Hairpins.Select(HairpinMasqueradeRule)]),
            Chain(NftSchema.StateChain, null, state.Digest is { } digest ? [DigestRule(digest)] : []),
        };

        return $"table {QualifiedStatic} {{\n\tcomment \"{NftSchema.TableComment}\"\n{string.Join("\n", staticBlocks)}}}\n";
    }

    private static string Chain(string name, string? hook, IEnumerable<string> rules)
    {
        var block = new StringBuilder();
        block.Append(CultureInfo.InvariantCulture, $"\tchain {name} {{\n");
        if (hook is not null)
        {
            block.Append(CultureInfo.InvariantCulture, $"\t\t{hook}\n");
        }

        foreach (var rule in rules)
        {
            block.Append(CultureInfo.InvariantCulture, $"\t\t{rule}\n");
        }

        block.Append("\t}\n");
        return block.ToString();
    }

    /// <summary>The state chain emptied and given the digest of what a Sync just wrote (see <see cref="NftSchema.StateChain"/>).</summary>
    public string RenderDigest(string digest) => $"{RenderForgetDigest()}add rule {QualifiedStatic} {NftSchema.StateChain} {DigestRule(digest)}\n";

    /// <summary>The state chain emptied: part of every transaction that changes a mapping, so the next Sync reads the maps.</summary>
    public string RenderForgetDigest() => $"flush chain {QualifiedStatic} {NftSchema.StateChain}\n";

    /// <summary>
    /// The digest of a set of mappings and of the guard's marking: SHA-256 over the elements as written, sorted, in
    /// lowercase hex. Equal digests mean the maps hold exactly these elements (as far as the library wrote them).
    /// </summary>
    public static string Digest(IEnumerable<DockerPortMap> maps, bool routeLocalnetOwned)
    {
        var (unmarked, marked) = Digests(maps);
        return routeLocalnetOwned ? marked : unmarked;
    }

    /// <summary>Both digests of <paramref name="maps"/>, the guard unmarked and marked, from one pass over the elements (see <see cref="NftElementSet"/>).</summary>
    public static (string Unmarked, string Marked) Digests(IEnumerable<DockerPortMap> maps)
    {
        var set = NftElementSet.Of(maps);
        return (set.UnmarkedDigest, set.MarkedDigest);
    }

    /// <summary>One <c>add element</c> command per map (in name order) with every element of <paramref name="set"/>, then <paramref name="then"/>, in one string made at its length.</summary>
    public string RenderAddElements(NftElementSet set, string then)
    {
        ArgumentNullException.ThrowIfNull(set);
        return set.RenderCommands("add", Qualified, then);
    }

    /// <summary>One <c>add element</c> command per map (in name order) with the elements of <paramref name="set"/> that <paramref name="include"/> admits (by index in <see cref="NftElementSet.Mappings"/>), or all of them.</summary>
    public void AppendAddElements(StringBuilder script, NftElementSet set, Func<int, bool>? include = null)
    {
        ArgumentNullException.ThrowIfNull(set);
        set.AppendCommands(script, "add", Qualified, include);
    }

    private static string DigestRule(string digest)
    {
        if (digest.Length != 64 || !digest.All(char.IsAsciiHexDigitLower))
        {
            throw new ArgumentException("A digest is 64 lowercase hex digits.", nameof(digest));
        }

        return $"return comment \"{NftSchema.DigestCommentPrefix}{digest}\"";
    }

    /// <summary>One transaction that adds the mappings' elements. An element whose key is taken by another value fails the whole transaction (EEXIST).</summary>
    public string RenderAddMappings(IEnumerable<DockerPortMap> maps) => ElementCommands("add", maps, withValue: true);

    /// <summary>One transaction that creates the mappings' elements: it fails (EEXIST) when a key exists, whatever its value.</summary>
    public string RenderCreateMappings(IEnumerable<DockerPortMap> maps) => ElementCommands("create", maps, withValue: true);

    /// <summary>One transaction that deletes the mappings' elements, by key. A missing element fails the whole transaction (ENOENT).</summary>
    public string RenderDeleteMappings(IEnumerable<DockerPortMap> maps) => ElementCommands("delete", maps, withValue: false);

    /// <summary>The command that adds a static DNAT rule at the end of nat prerouting.</summary>
    public string RenderAddDnat(DnatConfig config) => $"add rule {QualifiedStatic} {NftSchema.PreroutingChain} {DnatRule(config)}\n";

    /// <summary>The command that adds a static SNAT rule at the end of nat postrouting.</summary>
    public string RenderAddSnat(SnatConfig config) => $"add rule {QualifiedStatic} {NftSchema.PostroutingChain} {SnatRule(config)}\n";

    /// <summary>The commands that add a hairpin NAT's two rules.</summary>
    public string RenderAddHairpin(HairpinConfig config) =>
        $"add rule {QualifiedStatic} {NftSchema.PreroutingChain} {HairpinDnatRule(config)}\nadd rule {QualifiedStatic} {NftSchema.PostroutingChain} {HairpinMasqueradeRule(config)}\n";

    /// <summary>The command that deletes one static rule by the handle a listing of the static table reported.</summary>
    public string RenderDeleteRule(string chain, long handle) =>
        string.Create(CultureInfo.InvariantCulture, $"delete rule {QualifiedStatic} {chain} handle {handle}\n");

    /// <summary>FlushAll: both tables go, and with them every chain, map and element; the host's other tables are untouched.</summary>
    public string RenderDeleteTable() => $"delete table {Qualified}\ndelete table {QualifiedStatic}\n";

    /// <summary>
    /// The one iptables rule that lets connections our DNATs translated through a host whose iptables FORWARD policy is
    /// DROP (Docker, ufw): an accept in our nftables table cannot override a drop in iptables' own base chain, so the
    /// accept is written where Docker expects users' rules. It admits only connections that carry our mark and that
    /// conntrack translated, never a packet routed straight to a container.
    /// </summary>
    /// <param name="family">The address family.</param>
    /// <param name="comment">The rule's comment: the comment prefix and <see cref="NftSchema.CoexistenceCommentSuffix"/>, so FlushAll owns it.</param>
    public static IptablesRule DockerUserAccept(AddressFamily family, string comment) =>
        new(family, "filter", NatMapDefaults.DockerUserChain,
        [
            "-m", "conntrack", "--ctstate", "DNAT",
            "-m", "connmark", "--mark", IptablesMark,
            "-m", "comment", "--comment", comment, "-j", "ACCEPT",
        ],
        RulePosition.Top);

    /// <summary>Sorts and merges a port set: the form an nftables interval set keeps, and so the form a listing reads back.</summary>
    public static PortSet Normalize(PortSet ports) => ports.Normalize();

    /// <summary>Whether a mapping is bound to one host address (not <c>0.0.0.0</c> or <c>::</c>).</summary>
    public static bool IsBound(DockerPortMap map) => Bound(map.HostEndpoint.Address);

    public static string MapOf(DockerPortMap map)
    {
        var host = map.HostEndpoint;
        return NftSchema.MapName(host.AddressFamily, Bound(host.Address));
    }

    private string ElementCommands(string verb, IEnumerable<DockerPortMap> maps, bool withValue)
    {
        ArgumentNullException.ThrowIfNull(maps);
        return RenderElementLines(verb, maps.Select(m => Line(m, withValue)));
    }

    /// <summary>One command per map (in name order) with the given element lines: <c>VERB element inet T MAP { … }</c>.</summary>
    internal string RenderElementLines(string verb, IEnumerable<(string Map, string Text)> lines)
    {
        var script = new StringBuilder();
        foreach (var group in lines.GroupBy(static l => l.Map, StringComparer.Ordinal).OrderBy(static g => g.Key, StringComparer.Ordinal))
        {
            script.Append(CultureInfo.InvariantCulture, $"{verb} element {Qualified} {group.Key} {{ ");
            script.AppendJoin(", ", group.Select(static l => l.Text));
            script.Append(" }\n");
        }

        return script.ToString();
    }

    /// <summary><c>10.0.0.1 . tcp . 8080 comment "web" : 172.17.0.2 . 80</c>, or the key alone.</summary>
    private static string Element(DockerPortMap map, bool withValue) => Line(map, withValue).Text;

    /// <summary>
    /// A mapping's map and element text, its endpoints read once (each read of a model's endpoint is a copy): the one
    /// formatting of an element, for scripts, digests and full tables alike.
    /// </summary>
    internal static (string Map, string Text) Line(DockerPortMap map, bool withValue = true)
    {
        ArgumentNullException.ThrowIfNull(map);
        var host = map.HostEndpoint;
        var bound = Bound(host.Address);
        var key = bound
            ? string.Create(CultureInfo.InvariantCulture, $"{host.Address} . {Tokens.Protocol(map.Protocol)} . {host.Port}")
            : string.Create(CultureInfo.InvariantCulture, $"{Tokens.Protocol(map.Protocol)} . {host.Port}");
        var mapName = NftSchema.MapName(host.AddressFamily, bound);
        if (!withValue)
        {
            return (mapName, key);
        }

        var container = map.ContainerEndpoint;
        Guard.SameFamily(host.Address, nameof(DockerPortMap.HostEndpoint), container.Address, nameof(DockerPortMap.ContainerEndpoint));
        return (mapName, string.Create(CultureInfo.InvariantCulture, $"{key} comment \"{map.ContainerId}\" : {container.Address} . {container.Port}"));
    }

    private static bool Bound(IPAddress address) => !address.Equals(IPAddress.Any) && !address.Equals(IPAddress.IPv6Any);

    private static string DnatRule(DnatConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        var ip = IpWord(config.ExternalIp);
        var inInterface = config.ExternalInterface is { } name ? $"iifname {Interface(name)} " : string.Empty;
        var target = config.InternalPort is { } port
            ? string.Create(CultureInfo.InvariantCulture, $"{Tokens.Bracketed(config.InternalIp)}:{port}")
            : config.InternalIp.ToString();
        return $"{inInterface}{ip} daddr {config.ExternalIp} {Tokens.Protocol(config.Protocol)} dport {Ports(config.Ports)} ct mark set ct mark | {Mark} dnat {ip} to {target} comment \"{NftSchema.DnatComment}\"";
    }

    private static string SnatRule(SnatConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        var ip = IpWord(config.InternalIp);
        return $"{ip} saddr {config.InternalIp} oifname {Interface(config.ExternalInterface)} snat {ip} to {config.ExternalIp} comment \"{NftSchema.SnatComment}\"";
    }

    private static string HairpinDnatRule(HairpinConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        var ip = IpWord(config.ExternalIp);
        return $"{HairpinSource(config)}{ip} daddr {config.ExternalIp} {Tokens.Protocol(config.Protocol)} dport {Ports(config.Ports)} dnat {ip} to {config.InternalIp} comment \"{NftSchema.HairpinComment}\"";
    }

    private static string HairpinMasqueradeRule(HairpinConfig config)
    {
        config.Validate();
        var ip = IpWord(config.ExternalIp);
        return $"{HairpinSource(config)}{ip} daddr {config.InternalIp} {Tokens.Protocol(config.Protocol)} dport {Ports(config.Ports)} masquerade comment \"{NftSchema.HairpinComment}\"";
    }

    private static string HairpinSource(HairpinConfig config) =>
        config.LanCidr is { } lan ? $"{IpWord(config.ExternalIp)} saddr {Network(lan)} " : string.Empty;

    /// <summary>A network as nft prints it: a host prefix as the bare address.</summary>
    private static string Network(IPNetwork network) =>
        network.PrefixLength == (network.BaseAddress.AddressFamily == AddressFamily.InterNetwork ? 32 : 128)
            ? network.BaseAddress.ToString()
            : Tokens.Network(network);

    private static string IpWord(IPAddress address) => address.AddressFamily == AddressFamily.InterNetworkV6 ? "ip6" : "ip";

    /// <summary>An interface name in quotes; iptables' trailing <c>+</c> wildcard is nft's <c>*</c>.</summary>
    private static string Interface(string name) => $"\"{(name.EndsWith('+') ? name[..^1] + "*" : name)}\"";

    private static string Ports(PortSet ports)
    {
        var normalized = Normalize(ports);
        var items = normalized.Ranges.Select(r => r.IsSinglePort
            ? r.First.ToString(CultureInfo.InvariantCulture)
            : string.Create(CultureInfo.InvariantCulture, $"{r.First}-{r.Last}")).ToList();
        return items.Count == 1 ? items[0] : $"{{ {string.Join(", ", items)} }}";
    }

    private static string Hex(uint value) => string.Create(CultureInfo.InvariantCulture, $"0x{value:x8}");
}
