using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;

namespace NatMap.Iptables.Nftables;

/// <summary>
/// Reads <c>nft -j list table inet NAME</c> back into the library's objects. Strict: an element or rule becomes a
/// model only when every part of it has exactly the shape <see cref="NftRenderer"/> writes; anything else is reported
/// as foreign, never guessed at.
/// </summary>
internal static class NftListing
{
    private static readonly Dictionary<string, int> SetupRules = new(StringComparer.Ordinal)
    {
        [NftSchema.GuardChain] = 1,
        [NftSchema.PreroutingChain] = 1,
        [NftSchema.OutputChain] = 1,
        [NftSchema.MappingsChain] = 4,
        [NftSchema.HairpinChain] = 1,
        [NftSchema.PostroutingChain] = 2,
    };

    private static readonly string[] Maps = [NftSchema.Bound4, NftSchema.Unbound4, NftSchema.Bound6, NftSchema.Unbound6];

    /// <summary>Gets how many fixed chains, maps and Setup rules both tables hold: what is missing when they do not exist.</summary>
    public static int SetupItems { get; } = Maps.Length + SetupRules.Count + SetupRules.Values.Sum() + 3;

    /// <summary>
    /// Parses listings of the mappings table and the static table (<c>nft -j list table inet NAME</c> and
    /// <c>… NAME-static</c>, one string each or both in one array). A missing static table reads as empty.
    /// </summary>
    /// <exception cref="FormatException">A text is not nft's JSON, or none holds the mappings table.</exception>
    public static NftTableState Parse(IEnumerable<string> listings, string table = NftSchema.DefaultTable) => Parse(listings, table, staticOnly: false);

    /// <summary>
    /// Parses a listing of the static table alone (<c>nft -j list table inet NAME-static</c>): what an install or
    /// remove of a static object reads, without listing every map element of the mappings table. Its
    /// <see cref="NftTableState.Mappings"/> are empty, and Setup counts as complete when both static chains exist.
    /// </summary>
    /// <exception cref="FormatException">The text is not nft's JSON, or holds no static table.</exception>
    public static NftTableState ParseStatic(string json, string table = NftSchema.DefaultTable) => Parse([json], table, staticOnly: true);

    private static NftTableState Parse(IEnumerable<string> listings, string table, bool staticOnly)
    {
        ArgumentNullException.ThrowIfNull(listings);
        var documents = new List<JsonDocument>();
        try
        {
            var items = new List<JsonElement>();
            foreach (var json in listings)
            {
                JsonDocument document;
                try
                {
                    document = JsonDocument.Parse(json);
                }
                catch (JsonException e)
                {
                    throw new FormatException($"The nft listing is not JSON: {e.Message}", e);
                }

                documents.Add(document);
                if (!document.RootElement.TryGetProperty("nftables", out var array) || array.ValueKind != JsonValueKind.Array)
                {
                    throw new FormatException("The nft listing has no 'nftables' array.");
                }

                items.AddRange(array.EnumerateArray());
            }

            return Read(items, table, staticOnly);
        }
        finally
        {
            documents.ForEach(d => d.Dispose());
        }
    }

    /// <summary>Parses one listing.</summary>
    /// <exception cref="FormatException">The text is not nft's JSON, or holds no mappings table.</exception>
    public static NftTableState Parse(string json, string table = NftSchema.DefaultTable) => Parse([json], table);

    private static NftTableState Read(List<JsonElement> items, string table, bool staticOnly)
    {
        var staticTable = table + NftSchema.StaticTableSuffix;
        var foreign = new List<string>();
        var mappings = new List<DockerPortMap>();
        var dnats = new List<NftOwnedRule<DnatConfig>>();
        var snats = new List<NftOwnedRule<SnatConfig>>();
        var hairpinDnats = new List<(HairpinConfig Config, long Handle)>();
        var hairpinMasquerades = new List<(HairpinConfig Config, long Handle)>();
        var chains = new HashSet<string>(StringComparer.Ordinal);
        var maps = new HashSet<string>(StringComparer.Ordinal);
        var setupCounts = new Dictionary<string, int>(StringComparer.Ordinal);
        var tableSeen = false;
        var staticSeen = false;
        var routeLocalnetOwned = false;
        string? digest = null;
        string? tableComment = null;

        foreach (var item in items)
        {
            var kind = item.EnumerateObject().FirstOrDefault();
            var body = kind.Value;
            if (kind.Name == "metainfo")
            {
                continue;
            }

            var tableName = body.ValueKind == JsonValueKind.Object && Str(body, "family") == NftSchema.Family ? Str(body, kind.Name == "table" ? "name" : "table") : null;
            var isStatic = tableName == staticTable;
            if (tableName != table && !isStatic)
            {
                foreign.Add($"{kind.Name} outside tables {NftSchema.Family} {table} and {staticTable}");
                continue;
            }

            switch (kind.Name)
            {
                case "table" when isStatic:
                    staticSeen = true;
                    break;
                case "table":
                    tableSeen = true;
                    tableComment = Str(body, "comment");
                    break;
                case "chain":
                    var chainName = Str(body, "name") ?? string.Empty;
                    if (!isStatic && SetupRules.ContainsKey(chainName))
                    {
                        chains.Add(chainName);
                    }
                    else if (isStatic && chainName is NftSchema.PreroutingChain or NftSchema.PostroutingChain or NftSchema.StateChain)
                    {
                        chains.Add(staticTable + " " + chainName);
                    }
                    else
                    {
                        foreign.Add($"chain {tableName} {chainName}");
                    }

                    break;
                case "map" when !isStatic && Maps.Contains(Str(body, "name")):
                    var mapName = Str(body, "name")!;
                    maps.Add(mapName);
                    ReadElements(body, mapName, mappings, foreign);
                    break;
                case "rule":
                    var chain = Str(body, "chain") ?? string.Empty;
                    var handle = body.TryGetProperty("handle", out var h) && h.TryGetInt64(out var value) ? value : -1;
                    var comment = Str(body, "comment");
                    var expressions = body.TryGetProperty("expr", out var expr) && expr.ValueKind == JsonValueKind.Array ? expr.EnumerateArray().ToList() : [];
                    var recognised = (isStatic, comment, chain) switch
                    {
                        (false, NftSchema.SetupComment, _) when SetupRules.ContainsKey(chain) => Count(setupCounts, chain),
                        (false, NftSchema.RouteLocalnetComment, NftSchema.GuardChain) => routeLocalnetOwned = Count(setupCounts, chain),
                        (true, { } text, NftSchema.StateChain) when text.StartsWith(NftSchema.DigestCommentPrefix, StringComparison.Ordinal) && digest is null
                            => (digest = text[NftSchema.DigestCommentPrefix.Length..]) is not null,
                        (true, NftSchema.DnatComment, NftSchema.PreroutingChain) => Add(ReadDnat(expressions), c => dnats.Add(new(c, chain, handle))),
                        (true, NftSchema.SnatComment, NftSchema.PostroutingChain) => Add(ReadSnat(expressions), c => snats.Add(new(c, chain, handle))),
                        (true, NftSchema.HairpinComment, NftSchema.PreroutingChain) => Add(ReadHairpin(expressions, masquerade: false), c => hairpinDnats.Add((c, handle))),
                        (true, NftSchema.HairpinComment, NftSchema.PostroutingChain) => Add(ReadHairpin(expressions, masquerade: true), c => hairpinMasquerades.Add((c, handle))),
                        _ => false,
                    };
                    if (!recognised)
                    {
                        foreign.Add(string.Create(CultureInfo.InvariantCulture, $"rule {tableName} {chain} handle {handle}{(comment is null ? string.Empty : $" comment \"{comment}\"")}"));
                    }

                    break;
                default:
                    foreign.Add($"{kind.Name} {tableName} {Str(body, "name")}");
                    break;
            }
        }

        var staticChains = StaticChains(staticTable);
        if (staticOnly)
        {
            // The static table's name is derived from the prefix; whatever in it is not an object's rule is foreign.
            return staticSeen
                ? new NftTableState(true, staticChains.All(chains.Contains), [], dnats, snats, PairHairpins(hairpinDnats, hairpinMasquerades, staticTable, foreign), foreign)
                {
                    MissingSetup = staticChains.Count(c => !chains.Contains(c)),
                    Digest = digest,
                }
                : throw new FormatException($"The nft listing holds no table {NftSchema.Family} {staticTable}.");
        }

        if (!tableSeen)
        {
            throw new FormatException($"The nft listing holds no table {NftSchema.Family} {table}.");
        }

        // nft 1.0.6 leaves the table's comment out of its JSON (later versions print it): without it, the table is
        // ours when it holds at least one rule with the Setup comment. A table of that name with neither is someone
        // else's, and nothing in it is read.
        var isOurs = tableComment is null ? setupCounts.Count > 0 : tableComment == NftSchema.TableComment;
        if (!isOurs)
        {
            return new NftTableState(false, false, [], [], [], [], [$"table {NftSchema.Family} {table} without the library's comment"]);
        }

        var hairpins = PairHairpins(hairpinDnats, hairpinMasquerades, staticTable, foreign);
        var missing = Maps.Count(m => !maps.Contains(m))
            + SetupRules.Sum(r => (chains.Contains(r.Key) ? 0 : 1) + Math.Max(0, r.Value - setupCounts.GetValueOrDefault(r.Key)))
            + staticChains.Count(c => !chains.Contains(c));
        return new NftTableState(true, missing == 0, mappings, dnats, snats, hairpins, foreign)
        {
            MissingSetup = missing,
            RouteLocalnetOwned = routeLocalnetOwned,
            Digest = digest,
        };
    }

    /// <summary>
    /// Whether <c>nft -j list chains inet</c> shows every fixed chain of both tables: the cheap check (a few
    /// milliseconds whatever the number of map elements) that lets a Sync to an unchanged state skip listing the maps.
    /// </summary>
    /// <exception cref="FormatException">The text is not nft's JSON.</exception>
    public static bool ChainsComplete(string json, string table = NftSchema.DefaultTable)
    {
        var staticTable = table + NftSchema.StaticTableSuffix;
        var found = new HashSet<string>(StringComparer.Ordinal);
        try
        {
            using var document = JsonDocument.Parse(json);
            if (!document.RootElement.TryGetProperty("nftables", out var array) || array.ValueKind != JsonValueKind.Array)
            {
                throw new FormatException("The nft listing has no 'nftables' array.");
            }

            foreach (var item in array.EnumerateArray())
            {
                if (item.TryGetProperty("chain", out var chain) && Str(chain, "family") == NftSchema.Family
                    && Str(chain, "table") is { } owner && (owner == table || owner == staticTable))
                {
                    found.Add($"{owner} {Str(chain, "name")}");
                }
            }
        }
        catch (JsonException e)
        {
            throw new FormatException($"The nft listing is not JSON: {e.Message}", e);
        }

        return SetupRules.Keys.All(c => found.Contains($"{table} {c}")) && StaticChains(staticTable).All(found.Contains);
    }

    private static string[] StaticChains(string staticTable) =>
        [$"{staticTable} {NftSchema.PreroutingChain}", $"{staticTable} {NftSchema.PostroutingChain}", $"{staticTable} {NftSchema.StateChain}"];

    /// <summary>Pairs each hairpin DNAT with its masquerade; a rule without its partner is foreign.</summary>
    private static List<NftOwnedHairpin> PairHairpins(List<(HairpinConfig Config, long Handle)> hairpinDnats, List<(HairpinConfig Config, long Handle)> hairpinMasquerades, string staticTable, List<string> foreign)
    {
        var hairpins = new List<NftOwnedHairpin>();
        hairpinMasquerades = [.. hairpinMasquerades];
        foreach (var (config, handle) in hairpinDnats)
        {
            // The masquerade rule names the internal address and not the external one: it pairs with the DNAT whose
            // other fields it repeats.
            var index = hairpinMasquerades.FindIndex(m => m.Config with { ExternalIp = config.ExternalIp } == config);
            if (index < 0)
            {
                foreign.Add(string.Create(CultureInfo.InvariantCulture, $"rule {staticTable} {NftSchema.PreroutingChain} handle {handle}: a hairpin DNAT without its masquerade"));
                continue;
            }

            hairpins.Add(new(config, handle, hairpinMasquerades[index].Handle));
            hairpinMasquerades.RemoveAt(index);
        }

        foreign.AddRange(hairpinMasquerades.Select(m => string.Create(CultureInfo.InvariantCulture, $"rule {staticTable} {NftSchema.PostroutingChain} handle {m.Handle}: a hairpin masquerade without its DNAT")));
        return hairpins;
    }

    private static bool Count(Dictionary<string, int> counts, string chain)
    {
        counts[chain] = counts.GetValueOrDefault(chain) + 1;
        return true;
    }

    private static bool Add<T>(T? config, Action<T> add)
        where T : class
    {
        if (config is null)
        {
            return false;
        }

        add(config);
        return true;
    }

    private static void ReadElements(JsonElement map, string mapName, List<DockerPortMap> mappings, List<string> foreign)
    {
        if (!map.TryGetProperty("elem", out var elements))
        {
            return;
        }

        var v6 = mapName is NftSchema.Bound6 or NftSchema.Unbound6;
        var bound = mapName is NftSchema.Bound4 or NftSchema.Bound6;
        foreach (var element in elements.EnumerateArray())
        {
            var mapping = ReadElement(element, v6, bound);
            if (mapping is null)
            {
                foreign.Add($"element of map {mapName}: {element.GetRawText()}");
            }
            else
            {
                mappings.Add(mapping);
            }
        }
    }

    /// <summary>An element is <c>[{"elem": {"val": {"concat": KEY}, "comment": ID}}, {"concat": [ADDR, PORT]}]</c>.</summary>
    private static DockerPortMap? ReadElement(JsonElement element, bool v6, bool bound)
    {
        if (element.ValueKind != JsonValueKind.Array || element.GetArrayLength() != 2
            || !element[0].TryGetProperty("elem", out var elem) || Str(elem, "comment") is not { } id
            || !elem.TryGetProperty("val", out var keyValue) || Concat(keyValue) is not { } key
            || Concat(element[1]) is not [var containerAddress, var containerPort]
            || key.Count != (bound ? 3 : 2))
        {
            return null;
        }

        var family = v6 ? AddressFamily.InterNetworkV6 : AddressFamily.InterNetwork;
        var hostAddress = bound ? Address(key[0], family) : v6 ? IPAddress.IPv6Any : IPAddress.Any;
        var protocol = Protocol(key[^2]);
        var hostPort = Port(key[^1]);
        var container = Address(containerAddress, family);
        var port = Port(containerPort);
        if (hostAddress is null || protocol is null || hostPort is null || container is null || port is null
            || (bound && (hostAddress.Equals(IPAddress.Any) || hostAddress.Equals(IPAddress.IPv6Any))))
        {
            return null;
        }

        try
        {
            return new DockerPortMap(id, new IPEndPoint(hostAddress, hostPort.Value), new IPEndPoint(container, port.Value), protocol.Value);
        }
        catch (ArgumentException)
        {
            return null;
        }
    }

    /// <summary><c>[iifname "eth0"] ip daddr EXT tcp dport PORTS ct mark set ct mark | MARK dnat ip to INT[:PORT]</c>.</summary>
    private static DnatConfig? ReadDnat(List<JsonElement> expressions)
    {
        var reader = new Reader(expressions);
        var inInterface = reader.Match("meta", "iifname") is { } name ? Interface(name) : null;
        if (reader.Payload("daddr", out var ipWord) is not { } externalText
            || reader.Ports(out var protocol) is not { } ports
            || !reader.MarkSet()
            || reader.Statement("dnat") is not { } dnat || !reader.AtEnd
            || Str(dnat, "family") != ipWord || dnat.EnumerateObject().Any(p => p.Name is not ("family" or "addr" or "port")))
        {
            return null;
        }

        var family = ipWord == "ip6" ? AddressFamily.InterNetworkV6 : AddressFamily.InterNetwork;
        int? internalPort = dnat.TryGetProperty("port", out var p) ? Port(p) ?? -1 : null;
        return Build(() => new DnatConfig(Address(externalText, family)!, Address(dnat.GetProperty("addr"), family)!, ports, protocol, inInterface) { InternalPort = internalPort });
    }

    /// <summary><c>ip saddr INT oifname "eth0" snat ip to EXT</c>.</summary>
    private static SnatConfig? ReadSnat(List<JsonElement> expressions)
    {
        var reader = new Reader(expressions);
        if (reader.Payload("saddr", out var ipWord) is not { } internalText
            || reader.Match("meta", "oifname") is not { } name
            || reader.Statement("snat") is not { } snat || !reader.AtEnd
            || Str(snat, "family") != ipWord || snat.EnumerateObject().Any(p => p.Name is not ("family" or "addr")))
        {
            return null;
        }

        var family = ipWord == "ip6" ? AddressFamily.InterNetworkV6 : AddressFamily.InterNetwork;
        return Build(() => new SnatConfig(Address(internalText, family)!, Address(snat.GetProperty("addr"), family)!, Interface(name)));
    }

    /// <summary>
    /// <c>[ip saddr LAN] ip daddr EXT tcp dport PORTS dnat ip to INT</c>, or, for the masquerade,
    /// <c>[ip saddr LAN] ip daddr INT tcp dport PORTS masquerade</c> (returned with <c>ExternalIp</c> set to INT).
    /// </summary>
    private static HairpinConfig? ReadHairpin(List<JsonElement> expressions, bool masquerade)
    {
        var reader = new Reader(expressions);
        var lan = reader.Network("saddr", out var lanWord);
        if (reader.Payload("daddr", out var ipWord) is not { } destinationText
            || (lan is not null && lanWord != ipWord)
            || reader.Ports(out var protocol) is not { } ports)
        {
            return null;
        }

        var family = ipWord == "ip6" ? AddressFamily.InterNetworkV6 : AddressFamily.InterNetwork;
        IPAddress? internalIp;
        if (masquerade)
        {
            if (!reader.Masquerade() || !reader.AtEnd)
            {
                return null;
            }

            internalIp = Address(destinationText, family);
        }
        else
        {
            if (reader.Statement("dnat") is not { } dnat || !reader.AtEnd || Str(dnat, "family") != ipWord
                || dnat.EnumerateObject().Any(p => p.Name is not ("family" or "addr")))
            {
                return null;
            }

            internalIp = Address(dnat.GetProperty("addr"), family);
        }

        var destination = Address(destinationText, family);
        return Build(() => new HairpinConfig(destination!, internalIp!, ports, protocol, lan));
    }

    private static T? Build<T>(Func<T> create)
        where T : class
    {
        try
        {
            return create();
        }
        catch (Exception e) when (e is ArgumentException or NullReferenceException or InvalidOperationException)
        {
            return null;
        }
    }

    private static string? Str(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static List<JsonElement>? Concat(JsonElement element) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty("concat", out var items) && items.ValueKind == JsonValueKind.Array
            ? items.EnumerateArray().ToList()
            : null;

    private static IPAddress? Address(JsonElement element, AddressFamily family) =>
        element.ValueKind == JsonValueKind.String ? Address(element.GetString()!, family) : null;

    private static IPAddress? Address(string text, AddressFamily family) =>
        IPAddress.TryParse(text, out var address) && address.AddressFamily == family && address.ToString() == text ? address : null;

    private static int? Port(JsonElement element) =>
        element.ValueKind == JsonValueKind.Number && element.TryGetInt32(out var port) && port is >= NatMapLimits.MinPort and <= NatMapLimits.MaxPort ? port : null;

    private static TransportProtocol? Protocol(JsonElement element) => element.ValueKind == JsonValueKind.String
        ? element.GetString() switch { "tcp" => TransportProtocol.Tcp, "udp" => TransportProtocol.Udp, _ => null }
        : null;

    /// <summary>nft's <c>*</c> wildcard is iptables' trailing <c>+</c>, the form the model holds.</summary>
    private static string Interface(string name) => name.EndsWith('*') ? name[..^1] + "+" : name;

    /// <summary>Walks a rule's expressions front to back; each method consumes one expression when it has the expected shape.</summary>
    private sealed class Reader(List<JsonElement> expressions)
    {
        private int _next;

        public bool AtEnd => _next == expressions.Count;

        /// <summary><c>{"match": {"op": "==", "left": {"meta": {"key": KEY}}, "right": "VALUE"}}</c>.</summary>
        public string? Match(string kind, string key)
        {
            if (Peek("match") is { } match && Str(match, "op") == "=="
                && match.TryGetProperty("left", out var left) && left.TryGetProperty(kind, out var inner) && Str(inner, "key") == key
                && Str(match, "right") is { } right)
            {
                _next++;
                return right;
            }

            return null;
        }

        /// <summary><c>ip daddr 10.0.0.1</c> or <c>ip6 daddr fd00::1</c>: the address text, and <c>ip</c> or <c>ip6</c>.</summary>
        public string? Payload(string field, out string? ipWord)
        {
            ipWord = null;
            if (Left(field, out var word) is { } match && Str(match, "right") is { } right)
            {
                ipWord = word;
                _next++;
                return right;
            }

            return null;
        }

        /// <summary>An optional <c>ip saddr 192.168.1.0/24</c> (or a bare address, a host prefix).</summary>
        public IPNetwork? Network(string field, out string? ipWord)
        {
            ipWord = null;
            if (Left(field, out var word) is not { } match || !match.TryGetProperty("right", out var right))
            {
                return null;
            }

            var family = word == "ip6" ? AddressFamily.InterNetworkV6 : AddressFamily.InterNetwork;
            IPNetwork? network = null;
            if (right.ValueKind == JsonValueKind.String && Address(right, family) is { } host)
            {
                network = new IPNetwork(host, family == AddressFamily.InterNetwork ? 32 : 128);
            }
            else if (right.ValueKind == JsonValueKind.Object && right.TryGetProperty("prefix", out var prefix)
                && prefix.TryGetProperty("addr", out var addr) && Address(addr, family) is { } baseAddress
                && prefix.TryGetProperty("len", out var len) && len.TryGetInt32(out var length))
            {
                try
                {
                    network = new IPNetwork(baseAddress, length);
                }
                catch (ArgumentException)
                {
                    return null;
                }
            }

            if (network is not null)
            {
                ipWord = word;
                _next++;
            }

            return network;
        }

        /// <summary><c>tcp dport 80</c>, <c>tcp dport 6000-6010</c> or <c>tcp dport { 80, 443 }</c>.</summary>
        public PortSet? Ports(out TransportProtocol protocol)
        {
            protocol = TransportProtocol.Tcp;
            if (Peek("match") is not { } match || Str(match, "op") != "=="
                || !match.TryGetProperty("left", out var left) || !left.TryGetProperty("payload", out var payload)
                || Str(payload, "field") != "dport" || Str(payload, "protocol") is not ("tcp" or "udp")
                || !match.TryGetProperty("right", out var right))
            {
                return null;
            }

            protocol = Str(payload, "protocol") == "udp" ? TransportProtocol.Udp : TransportProtocol.Tcp;
            var items = right.ValueKind == JsonValueKind.Object && right.TryGetProperty("set", out var set) && set.ValueKind == JsonValueKind.Array
                ? set.EnumerateArray().ToList()
                : [right];
            var ranges = new List<PortRange>();
            foreach (var item in items)
            {
                if (Port(item) is { } single)
                {
                    ranges.Add(new PortRange(single));
                }
                else if (item.ValueKind == JsonValueKind.Object && item.TryGetProperty("range", out var range)
                    && range.ValueKind == JsonValueKind.Array && range.GetArrayLength() == 2
                    && Port(range[0]) is { } first && Port(range[1]) is { } last && first <= last)
                {
                    ranges.Add(new PortRange(first, last));
                }
                else
                {
                    return null;
                }
            }

            try
            {
                var ports = new PortSet(ranges);
                _next++;
                return ports;
            }
            catch (ArgumentException)
            {
                return null;
            }
        }

        /// <summary><c>ct mark set ct mark | 0x01000000</c>.</summary>
        public bool MarkSet()
        {
            if (Peek("mangle") is { } mangle
                && mangle.TryGetProperty("key", out var key) && key.TryGetProperty("ct", out var ct) && Str(ct, "key") == "mark"
                && mangle.TryGetProperty("value", out var value) && value.TryGetProperty("|", out var or)
                && or.ValueKind == JsonValueKind.Array && or.GetArrayLength() == 2
                && or[0].TryGetProperty("ct", out var ct2) && Str(ct2, "key") == "mark"
                && or[1].ValueKind == JsonValueKind.Number && or[1].TryGetUInt32(out var bits) && bits == NftSchema.TranslatedMark)
            {
                _next++;
                return true;
            }

            return false;
        }

        public JsonElement? Statement(string name)
        {
            if (Peek(name) is { } statement && statement.ValueKind == JsonValueKind.Object)
            {
                _next++;
                return statement;
            }

            return null;
        }

        public bool Masquerade()
        {
            if (_next < expressions.Count && expressions[_next].ValueKind == JsonValueKind.Object
                && expressions[_next].TryGetProperty("masquerade", out var value) && value.ValueKind == JsonValueKind.Null)
            {
                _next++;
                return true;
            }

            return false;
        }

        private JsonElement? Left(string field, out string? ipWord)
        {
            ipWord = null;
            if (Peek("match") is { } match && Str(match, "op") == "=="
                && match.TryGetProperty("left", out var left) && left.TryGetProperty("payload", out var payload)
                && Str(payload, "field") == field && Str(payload, "protocol") is ("ip" or "ip6") and var word)
            {
                ipWord = word;
                return match;
            }

            return null;
        }

        private JsonElement? Peek(string name) =>
            _next < expressions.Count && expressions[_next].ValueKind == JsonValueKind.Object
            && expressions[_next].TryGetProperty(name, out var value) && expressions[_next].EnumerateObject().Count() == 1
                ? value
                : null;
    }
}
