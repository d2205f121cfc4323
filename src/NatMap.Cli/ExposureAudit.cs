using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using NatMap.Iptables;
using NatMap.Iptables.Testing;

namespace NatMap.Cli;

/// <summary>
/// <c>natmap audit</c>: loads the host's live ruleset (both families), addresses, routes and the sysctls that decide
/// routing into <see cref="FakeIptables"/>, the emulator checked against the kernel, and traces for every owned mapping
/// the first packet of each path that matters, on every port of the mapping (one trace per run of ports no rule tells
/// apart, see <see cref="AuditPorts"/>). A rule the emulator cannot evaluate makes that path "unknown", naming
/// the rule; a path is "not reachable" only when the trace, on rules it fully understood, says so.
/// </summary>
internal static class ExposureAudit
{
    private static readonly string[] WalkedTables = ["raw", "nat", "filter"];

    public static async Task<AuditReport> RunAsync(ICommandRunner runner, NatMapOptions options, CancellationToken ct)
    {
        var families = options.EnableIpv6 ? new[] { AddressFamily.InterNetwork, AddressFamily.InterNetworkV6 } : [AddressFamily.InterNetwork];
        var emulator = new FakeIptables();
        var blockers = new List<string>();
        var saves = new List<string>();
        foreach (var family in families)
        {
            var v6 = family == AddressFamily.InterNetworkV6;
            var save = await ReadAsync(runner, options, (v6 ? options.Ip6tablesPath : options.IptablesPath) + "-save", [], ct).ConfigureAwait(false);
            var load = await emulator.RunAsync(new CommandSpec(v6 ? "ip6tables-restore" : "iptables-restore", [], save), ct).ConfigureAwait(false);
            if (!load.IsSuccess)
            {
                throw new InvalidOperationException($"The audit could not load the {(v6 ? "IPv6" : "IPv4")} ruleset into the emulator:{Environment.NewLine}{load.StandardError.Trim()}");
            }

            blockers.AddRange(UnwalkedRules(save, v6));
            saves.Add(save);
        }

        var addresses = ParseAddresses(await ReadAsync(runner, options, options.IpPath, ["-j", "addr", "show"], ct).ConfigureAwait(false));
        foreach (var a in addresses)
        {
            _ = emulator.AddAddress(a.Device, a.Address, a.PrefixLength);
        }

        var routes = new List<(string Device, IPNetwork Network)>();
        foreach (var family in families)
        {
            var text = await ReadAsync(runner, options, options.IpPath, ["-j", family == AddressFamily.InterNetworkV6 ? "-6" : "-4", "route", "show"], ct).ConfigureAwait(false);
            routes.AddRange(ParseRoutes(text, family));
        }

        foreach (var (device, network) in routes)
        {
            _ = emulator.AddRoute(device, network);
        }

        var sysctls = new Sysctls(runner, options);
        var lanDevices = addresses.Where(static a => a.Device != "lo").Select(static a => a.Device).Distinct().ToList();
        var localnet = await sysctls.ReadAsync("net.ipv4.conf.all.route_localnet", ct).ConfigureAwait(false) == "1";
        foreach (var device in lanDevices)
        {
            // The kernel honours route_localnet per interface too; the emulator has one switch, so either turns it on.
            localnet |= await sysctls.ReadAsync($"net.ipv4.conf.{device}.route_localnet", ct).ConfigureAwait(false) == "1";
        }

        _ = emulator.SetSysctl("net.ipv4.conf.all.route_localnet", localnet ? "1" : "0");
        var forwardingOff = new HashSet<string>(StringComparer.Ordinal);
        foreach (var device in lanDevices)
        {
            if (await sysctls.ReadAsync($"net.ipv4.conf.{device}.forwarding", ct).ConfigureAwait(false) == "0")
            {
                _ = forwardingOff.Add($"4:{device}");
            }
        }

        if (await sysctls.ReadAsync("net.ipv6.conf.all.forwarding", ct).ConfigureAwait(false) == "0")
        {
            _ = forwardingOff.Add("6");
        }

        var listOptions = new NatMapOptions { ChainName = options.ChainName, CommentPrefix = options.CommentPrefix, EnableIpv6 = options.EnableIpv6 };
        var state = await new IptablesManager(emulator, listOptions).ListAsync(ct).ConfigureAwait(false);
        var tracer = new Tracer(emulator, addresses, routes, blockers, forwardingOff, AuditPorts.Bounds(saves));
        var mappings = state.DockerMaps.Select(tracer.Audit).Concat(state.Dnats.Select(tracer.Audit)).ToList();
        return new AuditReport(mappings, blockers);
    }

    private static async Task<string> ReadAsync(ICommandRunner runner, NatMapOptions options, string program, string[] arguments, CancellationToken ct)
    {
        var command = SetupCheck.Wrap(options, new CommandSpec(program, arguments));
        var result = await runner.RunAsync(command, ct).ConfigureAwait(false);
        return result.IsSuccess ? result.StandardOutput : throw new IptablesCommandException(command, result);
    }

    /// <summary>Rules in tables the trace does not walk (mangle, security): each could change a verdict, so it blocks every one.</summary>
    private static IEnumerable<string> UnwalkedRules(string save, bool v6)
    {
        string? table = null;
        foreach (var line in save.Split('\n'))
        {
            if (line.StartsWith('*'))
            {
                table = line[1..].Trim();
            }
            else if (line.StartsWith("-A ", StringComparison.Ordinal) && table is not null && !WalkedTables.Contains(table))
            {
                yield return $"{(v6 ? "ip6tables" : "iptables")} {table} table (not traced): {line.Trim()}";
            }
        }
    }

    internal static List<(string Device, IPAddress Address, int PrefixLength)> ParseAddresses(string json)
    {
        var result = new List<(string, IPAddress, int)>();
        using var document = JsonDocument.Parse(json);
        foreach (var link in document.RootElement.EnumerateArray())
        {
            if (!link.TryGetProperty("ifname", out var name) || !link.TryGetProperty("addr_info", out var infos))
            {
                continue;
            }

            foreach (var info in infos.EnumerateArray())
            {
                if (info.TryGetProperty("local", out var local) && IPAddress.TryParse(local.GetString(), out var address)
                    && info.TryGetProperty("prefixlen", out var prefix))
                {
                    result.Add((name.GetString()!, address, prefix.GetInt32()));
                }
            }
        }

        return result;
    }

    internal static List<(string Device, IPNetwork Network)> ParseRoutes(string json, AddressFamily family)
    {
        var result = new List<(string, IPNetwork)>();
        using var document = JsonDocument.Parse(string.IsNullOrWhiteSpace(json) ? "[]" : json);
        foreach (var route in document.RootElement.EnumerateArray())
        {
            if (!route.TryGetProperty("dst", out var dst) || !route.TryGetProperty("dev", out var dev)
                || (route.TryGetProperty("type", out var type) && type.GetString() is not (null or "unicast")))
            {
                continue;
            }

            var text = dst.GetString() ?? string.Empty;
            text = text == "default" ? (family == AddressFamily.InterNetworkV6 ? "::/0" : "0.0.0.0/0") : text;
            if (!text.Contains('/', StringComparison.Ordinal))
            {
                text += family == AddressFamily.InterNetworkV6 ? "/128" : "/32";
            }

            if (IPNetwork.TryParse(text, out var network) && network.BaseAddress.AddressFamily == family)
            {
                result.Add((dev.GetString()!, network));
            }
        }

        return result;
    }

    /// <summary>Reads sysctls in the options' namespace; a setting that cannot be read is <see langword="null"/> and constrains nothing.</summary>
    private sealed class Sysctls(ICommandRunner runner, NatMapOptions options)
    {
        public async Task<string?> ReadAsync(string name, CancellationToken ct)
        {
            var result = await runner.RunAsync(SetupCheck.Wrap(options, new CommandSpec(options.SysctlPath, ["-n", name])), ct).ConfigureAwait(false);
            return result.IsSuccess ? result.StandardOutput.Trim() : null;
        }
    }

    /// <summary>Builds each mapping's paths and traces them.</summary>
    private sealed class Tracer(
        FakeIptables emulator,
        List<(string Device, IPAddress Address, int PrefixLength)> addresses,
        List<(string Device, IPNetwork Network)> routes,
        List<string> blockers,
        HashSet<string> forwardingOff,
        SortedSet<int> portBounds)
    {
        public AuditMapping Audit(DockerPortMap map)
        {
            var family = map.HostEndpoint.AddressFamily;
            var bound = map.HostEndpoint.Address;
            var loopbackBound = IPAddress.IsLoopback(bound);
            var specific = !bound.Equals(IPAddress.Any) && !bound.Equals(IPAddress.IPv6Any);
            var target = map.ContainerEndpoint;
            var containerDevice = RouteDevice(target.Address);
            var paths = new List<AuditPath>();
            foreach (var (device, client) in LanClients(family, containerDevice))
            {
                foreach (var address in HostAddresses(family))
                {
                    var excluded = loopbackBound || (specific && !address.Equals(bound));
                    paths.Add(Path("lan", $"{client} on {device}", $"{Ep(address, map.HostEndpoint.Port)}", Packet(client, address, map, device), target, excluded));
                }

                if (family == AddressFamily.InterNetwork)
                {
                    paths.Add(Path("lan-loopback", $"{client} on {device}", $"127.0.0.1:{map.HostEndpoint.Port}", Packet(client, IPAddress.Loopback, map, device), target, excluded: true));
                }

                paths.Add(Path("direct", $"{client} on {device}", $"{target} (routed straight to the container)",
                    new SimulatedPacket(client, target.Address, map.Protocol, target.Port) { InInterface = device }, target, excluded: true));
            }

            if (containerDevice is not null && Network(target.Address) is { } containerNetwork
                && FreeAddress(containerNetwork, target.Address) is { } neighbour)
            {
                var to = specific && !loopbackBound ? bound : HostAddresses(family).FirstOrDefault(a => RouteDevice(a) == containerDevice && Network(a) == containerNetwork)
                    ?? addresses.FirstOrDefault(a => a.Device == containerDevice && a.Address.AddressFamily == family).Address;
                if (to is not null)
                {
                    paths.Add(Path("container", $"{neighbour} on {containerDevice}", $"{Ep(to, map.HostEndpoint.Port)}", Packet(neighbour, to, map, containerDevice), target, excluded: loopbackBound));
                }
            }

            var self = specific ? bound : family == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Loopback : IPAddress.Loopback;
            paths.Add(Path("host", "the host itself", $"{Ep(self, map.HostEndpoint.Port)}",
                new SimulatedPacket(self, self, map.Protocol, map.HostEndpoint.Port) { LocallyGenerated = true }, target, excluded: false));
            return new AuditMapping(Describe.Object(map), map.HostEndpoint.ToString(), paths);
        }

        public AuditMapping Audit(DnatConfig dnat)
        {
            var paths = new List<AuditPath>();
            foreach (var ports in AuditPorts.Segments(dnat.Ports, portBounds))
            {
                AddPaths(paths, dnat, ports);
            }

            return new AuditMapping(Describe.Object(dnat), $"{dnat.ExternalIp}:{dnat.Ports}", paths);
        }

        /// <summary>The paths of one segment of a DNAT's ports, traced with its first port, which stands for them all.</summary>
        private void AddPaths(List<AuditPath> paths, DnatConfig dnat, PortRange ports)
        {
            var family = dnat.ExternalIp.AddressFamily;
            var port = ports.First;
            var stands = ports.IsSinglePort ? string.Empty : $" (for {ports}: no rule tells these ports apart)";
            var target = new IPEndPoint(dnat.InternalIp, dnat.InternalPort ?? port);
            var internalDevice = RouteDevice(dnat.InternalIp);
            var destinations = HostAddresses(family).Append(dnat.ExternalIp).Distinct().ToList();
            foreach (var (device, client) in LanClients(family, internalDevice))
            {
                foreach (var address in destinations)
                {
                    var packet = new SimulatedPacket(client, address, dnat.Protocol, port) { InInterface = device };
                    paths.Add(Path("lan", $"{client} on {device}", Ep(address, port) + stands, packet, target, excluded: !address.Equals(dnat.ExternalIp)));
                }

                if (family == AddressFamily.InterNetwork)
                {
                    paths.Add(Path("lan-loopback", $"{client} on {device}", $"127.0.0.1:{port}{stands}",
                        new SimulatedPacket(client, IPAddress.Loopback, dnat.Protocol, port) { InInterface = device }, target, excluded: true));
                }
            }

            paths.Add(Path("host", "the host itself", Ep(dnat.ExternalIp, port) + stands,
                new SimulatedPacket(dnat.ExternalIp, dnat.ExternalIp, dnat.Protocol, port) { LocallyGenerated = true }, target, excluded: false));
        }

        private static SimulatedPacket Packet(IPAddress source, IPAddress destination, DockerPortMap map, string device) =>
            new(source, destination, map.Protocol, map.HostEndpoint.Port) { InInterface = device };

        private static string Ep(IPAddress address, int port) => new IPEndPoint(address, port).ToString();

        private AuditPath Path(string kind, string from, string to, SimulatedPacket packet, IPEndPoint target, bool excluded)
        {
            var (verdict, reason) = Evaluate(packet, target);
            return new AuditPath(kind, from, to, verdict, excluded && verdict == AuditPath.Reachable, reason);
        }

        private (string Verdict, string? Reason) Evaluate(SimulatedPacket packet, IPEndPoint target)
        {
            if (blockers.Count > 0)
            {
                return (AuditPath.Unknown, blockers[0]);
            }

            PacketTrace trace;
            try
            {
                trace = emulator.Trace(packet);
            }
            catch (NotSupportedException exception)
            {
                return (AuditPath.Unknown, exception.Message);
            }

            var last = trace.Steps.Count > 1 ? trace.Steps[^2] : null;
            if (trace.Dropped)
            {
                return (AuditPath.NotReachable, $"dropped: {last}");
            }

            if (trace.DeliveredLocally || !trace.FinalDestination.Equals(target))
            {
                return (AuditPath.NotReachable, trace.DeliveredLocally ? "delivered to the host itself, untranslated" : $"ends at {trace.FinalDestination}");
            }

            if (!packet.LocallyGenerated && packet.InInterface is { } device
                && forwardingOff.Contains(packet.Destination.AddressFamily == AddressFamily.InterNetworkV6 ? "6" : $"4:{device}"))
            {
                return (AuditPath.NotReachable, $"forwarding is off for packets arriving on {device}");
            }

            if (!trace.Masqueraded && Network(trace.FinalSource) is { } sourceNetwork && sourceNetwork.Contains(target.Address)
                && !packet.LocallyGenerated && packet.InInterface == trace.OutInterface)
            {
                return (AuditPath.NotReachable, "the reply would go straight back, past the translation (not masqueraded)");
            }

            return (AuditPath.Reachable, null);
        }

        private IEnumerable<IPAddress> HostAddresses(AddressFamily family) => addresses
            .Where(a => a.Address.AddressFamily == family && !IPAddress.IsLoopback(a.Address) && !a.Address.IsIPv6LinkLocal)
            .Select(static a => a.Address)
            .Distinct();

        /// <summary>One client per interface with an address of the family, other than the mapping's own network: the first free address there.</summary>
        private IEnumerable<(string Device, IPAddress Client)> LanClients(AddressFamily family, string? exceptDevice)
        {
            foreach (var group in addresses.Where(a => a.Address.AddressFamily == family && a.Device != "lo" && a.Device != exceptDevice
                && !a.Address.IsIPv6LinkLocal && !IPAddress.IsLoopback(a.Address)).GroupBy(static a => a.Device))
            {
                var first = group.First();
                if (FreeAddress(new IPNetwork(Mask(first.Address, first.PrefixLength), first.PrefixLength), null) is { } client)
                {
                    yield return (group.Key, client);
                }
            }
        }

        private IPAddress? FreeAddress(IPNetwork network, IPAddress? besides)
        {
            var bytes = network.BaseAddress.GetAddressBytes();
            for (var i = 1; i < 64; i++)
            {
                var candidate = (byte[])bytes.Clone();
                var carry = i;
                for (var b = candidate.Length - 1; b >= 0 && carry > 0; b--)
                {
                    var sum = candidate[b] + carry;
                    candidate[b] = (byte)(sum & 0xff);
                    carry = sum >> 8;
                }

                var address = new IPAddress(candidate);
                if (network.Contains(address) && !addresses.Any(a => a.Address.Equals(address)) && !address.Equals(besides))
                {
                    return address;
                }
            }

            return null;
        }

        private IPNetwork? Network(IPAddress address) => addresses
            .Where(a => a.Address.AddressFamily == address.AddressFamily)
            .Select(static a => new IPNetwork(Mask(a.Address, a.PrefixLength), a.PrefixLength))
            .Where(n => n.Contains(address))
            .OrderByDescending(static n => n.PrefixLength)
            .Select(static n => (IPNetwork?)n)
            .FirstOrDefault();

        private string? RouteDevice(IPAddress address) => addresses
            .Where(a => a.Address.AddressFamily == address.AddressFamily)
            .Select(static a => (a.Device, Network: new IPNetwork(Mask(a.Address, a.PrefixLength), a.PrefixLength)))
            .Concat(routes)
            .Where(r => r.Network.BaseAddress.AddressFamily == address.AddressFamily && r.Network.Contains(address))
            .OrderByDescending(static r => r.Network.PrefixLength)
            .Select(static r => r.Device)
            .FirstOrDefault();

        private static IPAddress Mask(IPAddress address, int prefix)
        {
            var bytes = address.GetAddressBytes();
            for (var i = 0; i < bytes.Length; i++)
            {
                var bits = Math.Clamp(prefix - (i * 8), 0, 8);
                bytes[i] &= (byte)(0xff << (8 - bits));
            }

            return new IPAddress(bytes);
        }
    }
}

/// <summary>One traced path of one mapping.</summary>
internal sealed record AuditPath(string Kind, string From, string To, string Verdict, bool Exposure, string? Reason)
{
    public const string Reachable = "reachable";
    public const string NotReachable = "not reachable";
    public const string Unknown = "unknown";
}

/// <summary>One owned mapping and its paths.</summary>
internal sealed record AuditMapping(string Mapping, string Binding, IReadOnlyList<AuditPath> Paths);

/// <summary>The audit's result: every mapping's paths, and the rules that kept it from a verdict.</summary>
internal sealed record AuditReport(IReadOnlyList<AuditMapping> Mappings, IReadOnlyList<string> Blockers)
{
    /// <summary>Whether some mapping is reachable in a way its binding excludes (exit code 3).</summary>
    public bool Exposed => Mappings.Any(static m => m.Paths.Any(static p => p.Exposure));

    public string ToTable()
    {
        var lines = new List<string>();
        if (Mappings.Count == 0)
        {
            lines.Add("# no mappings owned by natmap");
        }

        foreach (var mapping in Mappings)
        {
            lines.Add(mapping.Mapping);
            foreach (var path in mapping.Paths)
            {
                var verdict = path.Exposure ? "EXPOSED" : path.Verdict;
                var line = string.Create(CultureInfo.InvariantCulture, $"  {verdict,-14} {path.Kind,-13} {path.From} -> {path.To}");
                lines.Add(path.Reason is null || path.Verdict == AuditPath.NotReachable && !path.Reason.StartsWith("forwarding", StringComparison.Ordinal) ? line : $"{line}{Environment.NewLine}                 {path.Reason}");
            }
        }

        var exposed = Mappings.Sum(static m => m.Paths.Count(static p => p.Exposure));
        var unknown = Mappings.Sum(static m => m.Paths.Count(static p => p.Verdict == AuditPath.Unknown));
        lines.Add(string.Create(CultureInfo.InvariantCulture, $"# {Mappings.Count} mappings, {exposed} exposed paths, {unknown} unknown paths"));
        return string.Join(Environment.NewLine, lines);
    }

    public string ToJson()
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            writer.WriteStartObject();
            writer.WriteBoolean("exposed", Exposed);
            writer.WriteStartArray("mappings");
            foreach (var mapping in Mappings)
            {
                writer.WriteStartObject();
                writer.WriteString("mapping", mapping.Mapping);
                writer.WriteString("binding", mapping.Binding);
                writer.WriteStartArray("paths");
                foreach (var path in mapping.Paths)
                {
                    writer.WriteStartObject();
                    writer.WriteString("kind", path.Kind);
                    writer.WriteString("from", path.From);
                    writer.WriteString("to", path.To);
                    writer.WriteString("verdict", path.Verdict);
                    writer.WriteBoolean("exposure", path.Exposure);
                    if (path.Reason is { } reason)
                    {
                        writer.WriteString("reason", reason);
                    }

                    writer.WriteEndObject();
                }

                writer.WriteEndArray();
                writer.WriteEndObject();
            }

            writer.WriteEndArray();
            writer.WriteStartArray("blockers");
            foreach (var blocker in Blockers)
            {
                writer.WriteStringValue(blocker);
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
        }

        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }
}
