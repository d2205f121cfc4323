using System.Net;
using System.Net.Sockets;
using NatMap.Iptables.Testing.Internal.Emulation;

namespace NatMap.Iptables.Testing;

/// <summary>
/// An in-memory iptables: the <c>raw</c>, <c>nat</c>, <c>filter</c> and <c>mangle</c> tables of both families, changed
/// and read by the same commands the real programs take. Plug it in wherever an <see cref="ICommandRunner"/> goes, and
/// the library's operations (and anything else that lists, checks or removes rules) run against it as against a host.
/// </summary>
/// <remarks>
/// <para>
/// It runs <c>iptables</c>/<c>ip6tables</c> (plain, <c>-nft</c> or <c>-legacy</c>, by name or path) with <c>-t</c>,
/// <c>-w</c>, <c>-N -X -F -A -I -D -C -S -L -P -Z</c>; <c>iptables-save</c> (with <c>-t</c>); <c>iptables-restore</c>
/// with and without <c>--noflush</c>, including chain declarations; <c>sysctl</c> (<c>-n</c>, <c>-w</c>); <c>conntrack -D</c> (a host that tracks no flows); and
/// <c>ip route show</c>. Behind <c>ip netns exec NAME</c> each namespace has its own state, made on first use.
/// </para>
/// <para>
/// It fails as iptables 1.8.9 fails, with the same exit codes and messages: a missing chain, deleting a referenced or
/// non-empty chain, deleting a rule that does not exist, a jump to a missing chain, a bad restore line (its table is
/// left unchanged, earlier tables stay committed). Rules are kept in the form <c>iptables -S</c> prints them
/// (<c>-m tcp</c>, <c>/32</c>, header options first). The <c>-L</c> listing shows each rule in that form rather than in
/// columns.
/// </para>
/// <para>Scripts (<see cref="Script"/>) take precedence: a command a script answers or fails changes nothing. A
/// <see cref="CommandFault"/> (<see cref="CommandScript.FaultAt"/>, <see cref="CommandScript.FaultWhen"/>) instead
/// lets part of a process take effect, as a restore whose first tables committed before it failed, timed out or was
/// cancelled. The instance is thread-safe.</para>
/// </remarks>
public sealed class FakeIptables : ICommandRunner
{
    private readonly object _lock = new();
    private readonly Dictionary<string, EmulatedHost> _hosts = new(StringComparer.Ordinal);
    private readonly List<CommandSpec> _processes = [];

    /// <summary>Gets which backend's messages, exit codes and table creation to imitate; <see cref="FakeIptablesBackend.Nft"/> by default.</summary>
    public FakeIptablesBackend Backend { get; init; } = FakeIptablesBackend.Nft;

    /// <summary>Gets the scripted responses, failures, faults and delays that take precedence over the emulation.</summary>
    public CommandScript Script { get; } = new(nameof(FakeIptables));

    /// <summary>Gets every process run so far, in order, as it was run (a restore batch is one process).</summary>
    public IReadOnlyList<CommandSpec> Processes
    {
        get
        {
            lock (_lock)
            {
                return _processes.ToArray();
            }
        }
    }

    /// <summary>Returns what <c>iptables-save</c> would print for the host's own IPv4 tables, less its comment lines and counters.</summary>
    /// <returns>One <c>*table … COMMIT</c> block per table in use, by table name; empty when no table is.</returns>
    public string Save() => Save(AddressFamily.InterNetwork);

    /// <summary>Returns what <c>iptables-save</c> (or <c>ip6tables-save</c>) would print, less its comment lines and counters.</summary>
    /// <param name="family"><see cref="AddressFamily.InterNetwork"/> for the IPv4 tables, <see cref="AddressFamily.InterNetworkV6"/> for the IPv6 ones.</param>
    /// <param name="networkNamespace">The namespace, as given to <c>ip netns exec</c>; <see langword="null"/> for the host's own.</param>
    /// <returns>One <c>*table … COMMIT</c> block per table in use, by table name; empty when no table is.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="family"/> is neither IPv4 nor IPv6.</exception>
    public string Save(AddressFamily family, string? networkNamespace = null)
    {
        if (family is not (AddressFamily.InterNetwork or AddressFamily.InterNetworkV6))
        {
            throw new ArgumentOutOfRangeException(nameof(family), family, "Only InterNetwork (IPv4) and InterNetworkV6 (IPv6) have tables.");
        }

        lock (_lock)
        {
            return Host(networkNamespace).State(family).Save(null, decorated: false);
        }
    }

    /// <summary>Gives the emulated host an address, which also makes its on-link route (as <c>ip addr add</c> does).</summary>
    /// <param name="device">The interface, for example <c>docker0</c>.</param>
    /// <param name="address">The address.</param>
    /// <param name="prefixLength">The on-link network's prefix length, for example 16.</param>
    /// <param name="networkNamespace">The namespace; <see langword="null"/> for the host's own.</param>
    /// <returns>This instance, for chaining.</returns>
    public FakeIptables AddAddress(string device, IPAddress address, int prefixLength, string? networkNamespace = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(device);
        ArgumentNullException.ThrowIfNull(address);
        ArgumentOutOfRangeException.ThrowIfNegative(prefixLength);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(prefixLength, address.AddressFamily == AddressFamily.InterNetworkV6 ? 128 : 32);
        lock (_lock)
        {
            Host(networkNamespace).Addresses.Add((device, address, prefixLength));
        }

        return this;
    }

    /// <summary>
    /// Gives the emulated host a route beyond its on-link networks, such as a default route or a network behind a
    /// gateway, as <c>ip route add NETWORK via GATEWAY dev DEVICE</c> does. <see cref="Trace"/> follows it (the longest
    /// prefix wins); <c>ip route show</c> keeps listing the on-link routes only.
    /// </summary>
    /// <param name="device">The interface the route leaves by.</param>
    /// <param name="destination">The network, for example <c>0.0.0.0/0</c>.</param>
    /// <param name="networkNamespace">The namespace; <see langword="null"/> for the host's own.</param>
    /// <returns>This instance, for chaining.</returns>
    public FakeIptables AddRoute(string device, IPNetwork destination, string? networkNamespace = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(device);
        lock (_lock)
        {
            Host(networkNamespace).Routes.Add((device, destination));
        }

        return this;
    }

    /// <summary>Returns a sysctl's value, as <c>sysctl -n</c> would.</summary>
    /// <param name="name">For example <c>net.ipv4.conf.all.route_localnet</c> (<c>0</c> until set).</param>
    /// <param name="networkNamespace">The namespace; <see langword="null"/> for the host's own.</param>
    /// <returns>The value, or <see langword="null"/> when the emulated host does not have the setting.</returns>
    public string? GetSysctl(string name, string? networkNamespace = null)
    {
        lock (_lock)
        {
            return Host(networkNamespace).Sysctls.GetValueOrDefault(name);
        }
    }

    /// <summary>Sets (or adds) a sysctl, as <c>sysctl -w</c> would.</summary>
    /// <param name="name">The setting.</param>
    /// <param name="value">Its value.</param>
    /// <param name="networkNamespace">The namespace; <see langword="null"/> for the host's own.</param>
    /// <returns>This instance, for chaining.</returns>
    public FakeIptables SetSysctl(string name, string value, string? networkNamespace = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(value);
        lock (_lock)
        {
            Host(networkNamespace).Sysctls[name] = value;
        }

        return this;
    }

    /// <summary>
    /// Simulates the first packet of a connection through the emulated tables: raw <c>PREROUTING</c> (or
    /// <c>OUTPUT</c> for a locally generated packet), nat <c>PREROUTING</c> (or <c>OUTPUT</c>), the routing decision
    /// (the host's own addresses, added with <see cref="AddAddress"/>, and their on-link networks), filter
    /// <c>INPUT</c>, <c>FORWARD</c> or <c>OUTPUT</c>, then nat <c>POSTROUTING</c>. It also applies the kernel's own
    /// rules for loopback addresses: <c>127.0.0.0/8</c> from another interface only with <c>route_localnet</c>, and
    /// never <c>::1</c>.
    /// </summary>
    /// <param name="packet">The packet.</param>
    /// <param name="networkNamespace">The namespace; <see langword="null"/> for the host's own.</param>
    /// <returns>The rules that matched, where the packet ends up and whether its source was rewritten.</returns>
    /// <exception cref="ArgumentException">The packet's addresses are of different families, or a packet from the network has no interface.</exception>
    /// <exception cref="NotSupportedException">A rule the packet meets uses a match or target the trace does not know; the message names it.</exception>
    public PacketTrace Trace(SimulatedPacket packet, string? networkNamespace = null)
    {
        ArgumentNullException.ThrowIfNull(packet);
        lock (_lock)
        {
            return new PacketWalker(Host(networkNamespace), packet).Run();
        }
    }

    /// <summary>Forgets the recorded processes and numbers processes from 1 again (for <see cref="CommandScript.FailAt"/>). The tables and scripts stay.</summary>
    public void Clear()
    {
        lock (_lock)
        {
            _processes.Clear();
        }

        // Outside this lock: a responder runs under the script's lock and may read this instance.
        Script.ResetCount();
    }

    /// <inheritdoc/>
    public Task<CommandResult> RunAsync(CommandSpec command, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(command);
        cancellationToken.ThrowIfCancellationRequested();
        lock (_lock)
        {
            _processes.Add(command);
        }

        return Script.RunAsync(command, command.ToPerRuleCommands(), Emulate, cancellationToken);
    }

    private CommandResult Emulate(CommandSpec command, int? committedTables)
    {
        lock (_lock)
        {
            return EmulateLocked(command, committedTables);
        }
    }

    private CommandResult EmulateLocked(CommandSpec command, int? committedTables)
    {
        if (committedTables == 0 && !CommandScript.IsRestore(command))
        {
            return CommandScript.InjectedFailure(command);
        }

        var (networkNamespace, unwrapped, unwrappedArguments) = Shared.NetnsExec.Unwrap(command);
        var host = Host(networkNamespace);
        var program = Path.GetFileName(unwrapped);
        string[] rest = [.. unwrappedArguments];
        var family = program.StartsWith("ip6tables", StringComparison.Ordinal) ? AddressFamily.InterNetworkV6 : AddressFamily.InterNetwork;
        var baseName = program.Replace("-nft", string.Empty, StringComparison.Ordinal).Replace("-legacy", string.Empty, StringComparison.Ordinal);
        return baseName switch
        {
            "iptables" or "ip6tables" => host.Iptables(family, rest),
            "iptables-save" or "ip6tables-save" => host.Save(family, rest),
            "iptables-restore" or "ip6tables-restore" => host.Restore(family, RestoreName(family), rest, command.StandardInput, committedTables),
            "sysctl" => host.Sysctl(rest),
            "ip" => host.Ip(rest),
            "conntrack" => EmulatedHost.Conntrack(rest),
            _ => new CommandResult(127, string.Empty, $"FakeIptables: {program}: command not found\n"),
        };
    }

    /// <summary>How the restore program names itself in its messages: the nft one with its backend, the legacy one plainly.</summary>
    private string RestoreName(AddressFamily family) =>
        (family == AddressFamily.InterNetworkV6 ? "ip6tables" : "iptables") + (Backend == FakeIptablesBackend.Nft ? "-nft-restore" : "-restore");

    private EmulatedHost Host(string? networkNamespace)
    {
        var key = networkNamespace ?? string.Empty;
        if (!_hosts.TryGetValue(key, out var host))
        {
            host = new EmulatedHost(Backend);
            _hosts[key] = host;
        }

        return host;
    }
}
