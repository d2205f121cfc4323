using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace NatMap.Iptables.Testing.Internal.Emulation;

/// <summary>
/// One emulated network namespace: the tables of both families, the sysctls the library reads and writes, and the
/// host's addresses and on-link routes.
/// </summary>
internal sealed class EmulatedHost(FakeIptablesBackend backend)
{
    private XtablesState _v4 = new(AddressFamily.InterNetwork, backend);
    private XtablesState _v6 = new(AddressFamily.InterNetworkV6, backend);

    public Dictionary<string, string> Sysctls { get; } = new(StringComparer.Ordinal)
    {
        ["net.ipv4.conf.all.route_localnet"] = "0",
        ["net.ipv4.ip_forward"] = "0",
        ["net.ipv6.conf.all.forwarding"] = "0",
    };

    /// <summary>The host's addresses with their prefix length and interface; each makes an on-link route, as Linux does.</summary>
    public List<(string Device, IPAddress Address, int PrefixLength)> Addresses { get; } = [];

    /// <summary>Routes beyond the on-link ones (a default route, a network behind a gateway): where the trace sends a packet.</summary>
    public List<(string Device, IPNetwork Network)> Routes { get; } = [];

    public XtablesState State(AddressFamily family) => family == AddressFamily.InterNetworkV6 ? _v6 : _v4;

    public CommandResult Iptables(AddressFamily family, IReadOnlyList<string> arguments)
    {
        var state = State(family);
        var work = state.Clone();
        try
        {
            var output = work.Execute(arguments);
            Commit(family, work);
            return new CommandResult(0, output, string.Empty);
        }
        catch (EmulatedFailure failure)
        {
            // The legacy backend loads the table before it runs the command, so even a failed command leaves it there.
            if (state.Backend == FakeIptablesBackend.Legacy && work.TableUsed is { } used && XtablesTable.Exists(used))
            {
                _ = state.Read(used);
            }

            return new CommandResult(failure.ExitCode, string.Empty, Messages.ForCommand(state.Backend, state.Program, failure));
        }
    }

    public CommandResult Save(AddressFamily family, IReadOnlyList<string> arguments)
    {
        var state = State(family);
        string? table = null;
        for (var i = 0; i < arguments.Count; i++)
        {
            if (arguments[i] is "-t" or "--table" && i + 1 < arguments.Count)
            {
                table = arguments[++i];
            }
        }

        if (table is not null && !XtablesTable.Exists(table))
        {
            return new CommandResult(1, string.Empty, $"{state.Program}-save: Table `{table}' does not exist\n");
        }

        if (table is not null)
        {
            _ = state.Read(table);
        }

        return new CommandResult(0, state.Save(table, decorated: true), string.Empty);
    }

    /// <summary>
    /// <c>iptables-restore</c>: each <c>*table … COMMIT</c> block applies whole or not at all, and blocks before a
    /// failing one stay applied. Without <c>--noflush</c> a block replaces its table. A chain declaration
    /// (<c>:NAME POLICY</c>) sets a built-in chain's policy, and makes or flushes a user chain.
    /// With <paramref name="committedTables"/>, only that many blocks commit: the next one fails as iptables fails
    /// when it cannot commit a table (see <see cref="CommandFault.FailAfterTables"/>).
    /// </summary>
    public CommandResult Restore(AddressFamily family, string program, IReadOnlyList<string> arguments, string? input, int? committedTables = null)
    {
        var state = State(family);
        var noflush = arguments.Any(static a => a is "--noflush" or "-n");
        var test = arguments.Any(static a => a is "--test" or "-t");
        var lines = (input ?? string.Empty).Split('\n');
        XtablesState? work = null;
        string? table = null;
        var committed = 0;
        for (var number = 1; number <= lines.Length; number++)
        {
            var line = lines[number - 1].TrimEnd('\r').Trim();
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }

            try
            {
                if (line[0] == '*')
                {
                    if (table is not null)
                    {
                        throw EmulatedFailure.Plain($"COMMIT expected at line {number}");
                    }

                    if (committed == committedTables)
                    {
                        return CannotCommit(state.Backend, program, arguments, lines, number);
                    }

                    table = line[1..].Trim();
                    if (!XtablesTable.Exists(table))
                    {
                        throw new EmulatedFailure(1, $"Table `{table}' does not exist", FailureShape.Plain);
                    }

                    // The legacy backend loads the table when the block opens it, whether or not the block commits.
                    _ = state.Backend == FakeIptablesBackend.Legacy ? state.Read(table) : null;
                    work = state.Clone();
                    if (!noflush)
                    {
                        work.Tables[table] = XtablesTable.Create(table);
                    }

                    _ = work.Table(table);
                    continue;
                }

                if (table is null || work is null)
                {
                    throw EmulatedFailure.Plain("no command specified");
                }

                if (line == "COMMIT")
                {
                    if (!test)
                    {
                        Commit(family, work);
                        state = work;
                    }

                    table = null;
                    work = null;
                    committed++;
                    continue;
                }

                if (line[0] == ':')
                {
                    Declare(work.Table(table), line);
                    continue;
                }

                _ = work.Execute(RuleText.Split(line), table);
            }
            catch (EmulatedFailure failure)
            {
                // The nft backend checks a block when it commits it, so it reports a parameter problem at the COMMIT line.
                var at = failure.Shape == FailureShape.Parameter && state.Backend == FakeIptablesBackend.Nft ? CommitLine(lines, number) : number;
                return new CommandResult(failure.ExitCode, string.Empty, Messages.ForRestore(state.Backend, program, failure, at));
            }
        }

        return table is null
            ? CommandResult.Success
            : new CommandResult(1, string.Empty, $"{program}: COMMIT expected at line {lines.Length + (lines[^1].Length == 0 ? 0 : 1)}\n");
    }

    /// <summary>
    /// How iptables 1.8.9 fails when it cannot commit the block that opens at line <paramref name="number"/>: the
    /// legacy restore takes the xtables lock for each table and gives up when its wait runs out; the nft restore
    /// reports the block's COMMIT line with the kernel's error.
    /// </summary>
    private static CommandResult CannotCommit(FakeIptablesBackend backend, string program, IReadOnlyList<string> arguments, string[] lines, int number) =>
        backend == FakeIptablesBackend.Legacy
            ? new CommandResult(4, string.Empty, CommandScript.LockMessage(new CommandSpec(program, arguments)))
            : new CommandResult(1, string.Empty, $"{program}: line {CommitLine(lines, number)} failed: No buffer space available.\n");

    private static int CommitLine(string[] lines, int from)
    {
        for (var i = from; i <= lines.Length; i++)
        {
            if (lines[i - 1].Trim() == "COMMIT")
            {
                return i;
            }
        }

        return from;
    }

    private static void Declare(XtablesTable table, string line)
    {
        var fields = line[1..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var name = fields[0];
        var policy = fields.Length > 1 ? fields[1] : "-";
        if (table.Chains.TryGetValue(name, out var chain))
        {
            if (chain.IsBuiltIn)
            {
                chain.Policy = policy == "-" ? chain.Policy : policy;
            }
            else
            {
                chain.Rules.Clear();
            }

            return;
        }

        table.Chains[name] = new XtablesChain(name, policy: null);
    }

    private void Commit(AddressFamily family, XtablesState work)
    {
        if (family == AddressFamily.InterNetworkV6)
        {
            _v6 = work;
        }
        else
        {
            _v4 = work;
        }
    }

    /// <summary>
    /// <c>conntrack -D …</c> on a host that tracks no flows (the emulator sends no packets): conntrack-tools 1.4.7 then
    /// exits with 1 and says so. Anything but a delete is not modelled.
    /// </summary>
    public static CommandResult Conntrack(IReadOnlyList<string> arguments) => arguments is ["-D", ..]
        ? new CommandResult(1, string.Empty, "conntrack v1.4.7 (conntrack-tools): 0 flow entries have been deleted.\n")
        : throw new NotSupportedException($"FakeIptables does not model 'conntrack {string.Join(' ', arguments)}'.");

    public CommandResult Sysctl(IReadOnlyList<string> arguments)
    {
        var output = new StringBuilder();
        var quiet = arguments.Contains("-q");
        var valueOnly = arguments.Contains("-n");
        foreach (var argument in arguments.Where(static a => !a.StartsWith('-')))
        {
            var equals = argument.IndexOf('=', StringComparison.Ordinal);
            var key = equals < 0 ? argument : argument[..equals];
            if (!Sysctls.ContainsKey(key))
            {
                return new CommandResult(255, output.ToString(), $"sysctl: cannot stat /proc/sys/{key.Replace('.', '/')}: No such file or directory\n");
            }

            if (equals >= 0)
            {
                Sysctls[key] = argument[(equals + 1)..];
            }

            if (!quiet || equals < 0)
            {
                _ = output.Append(valueOnly ? Sysctls[key] : $"{key} = {Sysctls[key]}").Append('\n');
            }
        }

        return new CommandResult(0, output.ToString(), string.Empty);
    }

    /// <summary><c>ip [-o] -4|-6 route show [match ADDRESS]</c>: the on-link routes of the host's addresses.</summary>
    public CommandResult Ip(IReadOnlyList<string> arguments)
    {
        var routeIndex = arguments.ToList().IndexOf("route");
        if (routeIndex < 0 || routeIndex + 1 >= arguments.Count || arguments[routeIndex + 1] is not ("show" or "list"))
        {
            return new CommandResult(1, string.Empty, $"FakeIptables: ip {string.Join(' ', arguments)} is not emulated\n");
        }

        var family = arguments.Contains("-6") ? AddressFamily.InterNetworkV6 : AddressFamily.InterNetwork;
        IPAddress? match = null;
        var matchIndex = arguments.ToList().IndexOf("match");
        if (matchIndex >= 0 && matchIndex + 1 < arguments.Count && IPAddress.TryParse(arguments[matchIndex + 1], out var parsed))
        {
            match = parsed;
        }

        var output = new StringBuilder();
        foreach (var (device, address, prefix) in Addresses.Where(a => a.Address.AddressFamily == family))
        {
            var network = new IPNetwork(Mask(address, prefix), prefix);
            if (match is null || network.Contains(match))
            {
                _ = output.Append(CultureInfo.InvariantCulture, $"{network} dev {device} proto kernel scope link src {address}\n");
            }
        }

        return new CommandResult(0, output.ToString(), string.Empty);
    }

    public static IPAddress Mask(IPAddress address, int prefix)
    {
        var bytes = address.GetAddressBytes();
        for (var i = 0; i < bytes.Length; i++)
        {
            var keep = Math.Clamp(prefix - (i * 8), 0, 8);
            bytes[i] &= (byte)(0xFF << (8 - keep));
        }

        return new IPAddress(bytes);
    }
}
