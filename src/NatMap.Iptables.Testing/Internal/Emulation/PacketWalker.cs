using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace NatMap.Iptables.Testing.Internal.Emulation;

/// <summary>
/// Walks the first packet of a connection through the emulated tables the way netfilter does: raw, then nat
/// (PREROUTING or OUTPUT), the routing decision, filter (INPUT, FORWARD or OUTPUT), then nat POSTROUTING. It knows the
/// matches and targets the library writes, and throws <see cref="NotSupportedException"/> on any other.
/// </summary>
internal sealed class PacketWalker
{
    private readonly EmulatedHost _host;
    private readonly XtablesState _tables;
    private readonly SimulatedPacket _packet;
    private readonly List<string> _steps = [];
    private readonly IPAddress _originalDestination;
    private readonly int _originalPort;
    private IPAddress _source;
    private IPAddress _destination;
    private int _port;
    private string? _in;
    private string? _out;
    private bool _dnat;
    private bool _masqueraded;

    public PacketWalker(EmulatedHost host, SimulatedPacket packet)
    {
        ArgumentNullException.ThrowIfNull(packet);
        if (packet.Source.AddressFamily != packet.Destination.AddressFamily)
        {
            throw new ArgumentException("The source and destination must be of the same address family.", nameof(packet));
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(packet.DestinationPort, 1, nameof(packet));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(packet.DestinationPort, 65535, nameof(packet));
        _host = host;
        _packet = packet;
        _tables = host.State(packet.Destination.AddressFamily);
        _source = packet.Source;
        _destination = packet.Destination;
        _originalDestination = packet.Destination;
        _originalPort = packet.DestinationPort;
        _port = packet.DestinationPort;
        _in = packet.LocallyGenerated ? null : packet.InInterface ?? throw new ArgumentException("A packet from the network needs its InInterface.", nameof(packet));
    }

    private enum Verdict
    {
        Continue,
        Accept,
        Drop,
        Return,
    }

    private bool IsV6 => _destination.AddressFamily == AddressFamily.InterNetworkV6;

    public PacketTrace Run()
    {
        if (_packet.LocallyGenerated)
        {
            (_out, _) = Route(_destination);
            if (Hook("raw", "OUTPUT") == Verdict.Drop || Hook("nat", "OUTPUT") == Verdict.Drop)
            {
                return Result(dropped: true, local: false);
            }

            var (device, local) = Route(_destination);
            _out = device;
            if (device is null || Hook("filter", "OUTPUT") == Verdict.Drop)
            {
                return Result(dropped: true, local: false);
            }

            if (local)
            {
                return Result(dropped: Hook("filter", "INPUT") == Verdict.Drop, local: true);
            }

            if (IsLoopback(_source) && (IsV6 || _host.Sysctls.GetValueOrDefault("net.ipv4.conf.all.route_localnet") != "1"))
            {
                _steps.Add($"route: loopback source {_source} may not leave by {device}");
                return Result(dropped: true, local: false);
            }

            return Leave();
        }

        if (Hook("raw", "PREROUTING") == Verdict.Drop || Hook("nat", "PREROUTING") == Verdict.Drop)
        {
            return Result(dropped: true, local: false);
        }

        if (IsLoopback(_destination) && _in != "lo" && (IsV6 || _host.Sysctls.GetValueOrDefault("net.ipv4.conf.all.route_localnet") != "1"))
        {
            _steps.Add($"route: martian destination {_destination} on {_in}");
            return Result(dropped: true, local: false);
        }

        var (outDevice, isLocal) = Route(_destination);
        if (outDevice is null)
        {
            return Result(dropped: true, local: false);
        }

        if (isLocal)
        {
            return Result(dropped: Hook("filter", "INPUT") == Verdict.Drop, local: true);
        }

        _out = outDevice;
        return Hook("filter", "FORWARD") == Verdict.Drop ? Result(dropped: true, local: false) : Leave();
    }

    private PacketTrace Leave()
    {
        if (Hook("nat", "POSTROUTING") == Verdict.Drop)
        {
            return Result(dropped: true, local: false);
        }

        if (IsLoopback(_source))
        {
            _steps.Add($"route: a packet from {_source} cannot leave by {_out}");
            return Result(dropped: true, local: false);
        }

        return Result(dropped: false, local: false);
    }

    private PacketTrace Result(bool dropped, bool local)
    {
        _steps.Add(dropped ? "verdict: dropped" : local ? "verdict: delivered to the host" : $"verdict: sent out {_out}");
        return new PacketTrace(_steps.ToArray(), new IPEndPoint(_destination, _port), _source, _masqueraded, dropped, !dropped && local, dropped || local ? null : _out);
    }

    /// <summary>The route to an address: <c>lo</c> for the host's own, else the longest on-link network's interface; <see langword="null"/> for none.</summary>
    private (string? Device, bool Local) Route(IPAddress address)
    {
        if (IsLocal(address))
        {
            return ("lo", true);
        }

        var best = _host.Addresses
            .Where(a => a.Address.AddressFamily == address.AddressFamily)
            .Select(static a => (a.Device, Network: new IPNetwork(EmulatedHost.Mask(a.Address, a.PrefixLength), a.PrefixLength)))
            .Concat(_host.Routes)
            .Where(r => r.Network.BaseAddress.AddressFamily == address.AddressFamily && r.Network.Contains(address))
            .OrderByDescending(static r => r.Network.PrefixLength)
            .Select(static r => r.Device)
            .FirstOrDefault();
        if (best is null)
        {
            _steps.Add($"route: no route to {address}");
        }

        return (best, false);
    }

    private bool IsLocal(IPAddress address) => IsLoopback(address) || _host.Addresses.Any(a => a.Address.Equals(address));

    private static bool IsLoopback(IPAddress address) => IPAddress.IsLoopback(address);

    private Verdict Hook(string table, string chain)
    {
        if (!_tables.Tables.TryGetValue(table, out var emulated))
        {
            return Verdict.Accept;
        }

        var verdict = Walk(emulated, chain, 0);
        if (verdict is Verdict.Continue or Verdict.Return)
        {
            verdict = emulated.Chains[chain].Policy == "DROP" ? Verdict.Drop : Verdict.Accept;
            if (verdict == Verdict.Drop)
            {
                _steps.Add($"{table} {chain}: policy DROP");
            }
        }

        return verdict;
    }

    private Verdict Walk(XtablesTable table, string chainName, int depth)
    {
        if (depth > 32)
        {
            throw new InvalidOperationException("FakeIptables.Trace: the chains loop.");
        }

        var chain = table.Chains[chainName];
        foreach (var rule in chain.Rules)
        {
            if (!Matches(rule))
            {
                continue;
            }

            _steps.Add($"{table.Name} {chainName}: {RuleText.Format("-A", chainName, rule)}");
            var target = RuleText.Target(rule);
            var verdict = target switch
            {
                null => Verdict.Continue,
                "ACCEPT" => Verdict.Accept,
                "DROP" or "REJECT" => Verdict.Drop,
                "RETURN" => Verdict.Return,
                "DNAT" => Dnat(rule),
                "SNAT" => Snat(rule),
                "MASQUERADE" => Masquerade(),
                _ when table.Chains.ContainsKey(target) => Jump(table, target, depth, rule),
                _ => throw new NotSupportedException($"FakeIptables.Trace does not know the target '{target}' in: {RuleText.Format("-A", chainName, rule)}"),
            };
            if (verdict != Verdict.Continue)
            {
                return verdict;
            }
        }

        return Verdict.Continue;
    }

    private Verdict Jump(XtablesTable table, string target, int depth, string[] rule)
    {
        var verdict = Walk(table, target, depth + 1);
        var gone = Array.IndexOf(rule, "-g") >= 0 || Array.IndexOf(rule, "--goto") >= 0;
        return verdict is Verdict.Accept or Verdict.Drop ? verdict : gone ? Verdict.Return : Verdict.Continue;
    }

    private Verdict Dnat(string[] rule)
    {
        var value = Value(rule, "--to-destination") ?? throw new NotSupportedException("FakeIptables.Trace: DNAT without --to-destination.");
        (_destination, var port) = ParseEndpoint(value);
        _port = port ?? _port;
        _dnat = true;
        return Verdict.Accept;
    }

    private Verdict Snat(string[] rule)
    {
        var value = Value(rule, "--to-source") ?? throw new NotSupportedException("FakeIptables.Trace: SNAT without --to-source.");
        (_source, _) = ParseEndpoint(value);
        _masqueraded = true;
        return Verdict.Accept;
    }

    private Verdict Masquerade()
    {
        var address = _host.Addresses.FirstOrDefault(a => a.Device == _out && a.Address.AddressFamily == _source.AddressFamily).Address;
        _source = address ?? _source;
        _masqueraded = true;
        return Verdict.Accept;
    }

    private static (IPAddress Address, int? Port) ParseEndpoint(string value)
    {
        var text = value.Split('-')[0];
        if (text.StartsWith('['))
        {
            var close = text.IndexOf(']', StringComparison.Ordinal);
            var port = close + 2 < text.Length ? int.Parse(text[(close + 2)..], CultureInfo.InvariantCulture) : (int?)null;
            return (IPAddress.Parse(text[1..close]), port);
        }

        var colon = text.LastIndexOf(':');
        if (colon > 0 && text.IndexOf(':', StringComparison.Ordinal) == colon)
        {
            return (IPAddress.Parse(text[..colon]), int.Parse(text[(colon + 1)..], CultureInfo.InvariantCulture));
        }

        return (IPAddress.Parse(text), null);
    }

    private static string? Value(string[] rule, string option)
    {
        var index = Array.IndexOf(rule, option);
        return index >= 0 && index + 1 < rule.Length ? rule[index + 1] : null;
    }

    private bool Matches(string[] rule)
    {
        var negate = false;
        for (var i = 0; i < rule.Length; i++)
        {
            var token = rule[i];
            if (token == "!")
            {
                negate = true;
                continue;
            }

            if (token is "-j" or "-g" or "--jump" or "--goto")
            {
                return true;
            }

            var argument = i + 1 < rule.Length ? rule[i + 1] : string.Empty;
            bool? matched = token switch
            {
                "-s" => InNetwork(_source, argument),
                "-d" => InNetwork(_destination, argument),
                "-i" => Interface(_in, argument),
                "-o" => Interface(_out, argument),
                "-p" => argument == (_packet.Protocol == TransportProtocol.Udp ? "udp" : "tcp"),
                "--dport" or "--destination-port" => InPorts(_port, argument),
                "--sport" or "--source-port" => InPorts(_packet.SourcePort, argument),
                "--dports" or "--destination-ports" => argument.Split(',').Any(p => InPorts(_port, p)),
                "--dst-type" => AddressType(_destination, argument),
                "--src-type" => AddressType(_source, argument),
                "--ctstate" => argument.Split(',').Any(s => s == "NEW" || (s == "DNAT" && _dnat) || (s == "SNAT" && _masqueraded)),
                "--ctorigdst" => InNetwork(_originalDestination, argument),
                "--ctorigdstport" => InPorts(_originalPort, argument),
                "--comment" => true,
                "-m" or "--match" when argument is "tcp" or "udp" or "multiport" or "addrtype" or "conntrack" or "comment" => true,
                _ => null,
            };
            if (matched is null)
            {
                throw new NotSupportedException($"FakeIptables.Trace does not know '{token} {argument}' in: {string.Join(' ', rule)}");
            }

            if (matched.Value == negate)
            {
                return false;
            }

            negate = false;
            i++;
        }

        return true;
    }

    private static bool InNetwork(IPAddress address, string network)
    {
        var slash = network.IndexOf('/', StringComparison.Ordinal);
        var baseAddress = IPAddress.Parse(slash < 0 ? network : network[..slash]);
        if (baseAddress.AddressFamily != address.AddressFamily)
        {
            return false;
        }

        var prefix = slash < 0 ? (address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128) : int.Parse(network[(slash + 1)..], CultureInfo.InvariantCulture);
        return new IPNetwork(EmulatedHost.Mask(baseAddress, prefix), prefix).Contains(address);
    }

    private static bool Interface(string? actual, string pattern) =>
        actual is not null && (pattern.EndsWith('+') ? actual.StartsWith(pattern[..^1], StringComparison.Ordinal) : actual == pattern);

    private static bool InPorts(int port, string range)
    {
        var parts = range.Split(':');
        var first = int.Parse(parts[0], CultureInfo.InvariantCulture);
        var last = parts.Length > 1 ? int.Parse(parts[1], CultureInfo.InvariantCulture) : first;
        return port >= first && port <= last;
    }

    private bool AddressType(IPAddress address, string type) => type switch
    {
        "LOCAL" => IsLocal(address),
        "UNICAST" => !IsLocal(address),
        _ => throw new NotSupportedException($"FakeIptables.Trace does not know the address type '{type}'."),
    };
}
