using System.Globalization;
using System.Net.Sockets;
using System.Text;

namespace NatMap.Iptables.Testing.Internal.Emulation;

/// <summary>The emulated tables of one address family, and the iptables commands that read and change them.</summary>
internal sealed class XtablesState(AddressFamily family, FakeIptablesBackend backend)
{
    private static readonly HashSet<string> StandardTargets = new(StringComparer.Ordinal) { "ACCEPT", "DROP", "RETURN", "QUEUE" };

    private static readonly HashSet<string> ExtensionTargets = new(StringComparer.Ordinal)
    {
        "DNAT", "SNAT", "MASQUERADE", "REDIRECT", "NETMAP", "REJECT", "LOG", "NFLOG", "NFQUEUE", "MARK", "CONNMARK", "CT",
        "NOTRACK", "TCPMSS", "TPROXY", "TRACE", "AUDIT", "CHECKSUM", "CLASSIFY", "DSCP", "TOS", "TTL", "HL", "SET",
    };

    /// <summary>The tables that exist, by name: a table comes into being when a command first uses it.</summary>
    public Dictionary<string, XtablesTable> Tables { get; private set; } = new(StringComparer.Ordinal);

    public AddressFamily Family { get; } = family;

    /// <summary>Gets the table the last command named, whether or not it succeeded.</summary>
    public string? TableUsed { get; private set; }

    public FakeIptablesBackend Backend { get; } = backend;

    public XtablesState Clone() => new(Family, Backend)
    {
        Tables = Tables.ToDictionary(static t => t.Key, static t => t.Value.Clone(), StringComparer.Ordinal),
    };

    /// <summary>
    /// Runs one command's arguments (after the program name, or one restore line with <paramref name="table"/> given)
    /// and returns what it prints. Throws <see cref="EmulatedFailure"/> as iptables fails, changing nothing.
    /// </summary>
    public string Execute(IReadOnlyList<string> arguments, string? table = null)
    {
        var tableName = table ?? "filter";
        string? command = null;
        var operands = new List<string>();
        for (var i = 0; i < arguments.Count; i++)
        {
            var token = arguments[i];
            if (command is null && token is "-t" or "--table")
            {
                tableName = i + 1 < arguments.Count ? arguments[++i] : throw new EmulatedFailure(2, "option \"-t\" requires an argument");
            }
            else if (command is null && token is "-w" or "--wait" or "-W" or "--wait-interval")
            {
                if (i + 1 < arguments.Count && int.TryParse(arguments[i + 1], NumberStyles.None, CultureInfo.InvariantCulture, out _))
                {
                    i++;
                }
            }
            else if (command is null && token is "-n" or "--numeric" or "-v" or "--verbose" or "-x" or "--exact" or "--line-numbers")
            {
                continue;
            }
            else if (command is null && Verb(token) is { } verb)
            {
                command = verb;
            }
            else
            {
                operands.Add(token);
            }
        }

        if (command is null)
        {
            throw new EmulatedFailure(2, "no command specified");
        }

        // Checked while the arguments are parsed, before the table is opened (so the legacy backend loads nothing).
        if (command is "-A" or "-I" or "-D" or "-C" && operands.Count > 1)
        {
            CheckInterfaces(operands[0], operands);
        }

        TableUsed = tableName;
        if (!XtablesTable.Exists(tableName))
        {
            throw new EmulatedFailure(3, $"can't initialize {Program} table `{tableName}': Table does not exist (do you need to insmod?)", FailureShape.Versioned);
        }

        return Run(command, tableName, operands);
    }

    /// <summary>iptables refuses an input interface on the output hooks and an output interface on the input hooks, by chain name.</summary>
    private static void CheckInterfaces(string chain, List<string> operands)
    {
        foreach (var (option, chains) in new[] { ("-i", new[] { "OUTPUT", "POSTROUTING" }), ("-o", new[] { "PREROUTING", "INPUT" }) })
        {
            if (Array.IndexOf(chains, chain) >= 0 && operands.Skip(1).Any(t => t == option || t == (option == "-i" ? "--in-interface" : "--out-interface")))
            {
                throw new EmulatedFailure(2, $"Can't use {option} with {chain}\n");
            }
        }
    }

    /// <summary>Whether reading <paramref name="table"/> brings it into being: the legacy backend loads its module.</summary>
    public XtablesTable? Read(string table) =>
        Tables.GetValueOrDefault(table) ?? (Backend == FakeIptablesBackend.Legacy ? Table(table) : null);

    /// <summary>The table, made with its built-in chains when it does not exist yet.</summary>
    public XtablesTable Table(string name)
    {
        if (!Tables.TryGetValue(name, out var table))
        {
            table = XtablesTable.Create(name);
            Tables[name] = table;
        }

        return table;
    }

    public string Program => Family == AddressFamily.InterNetworkV6 ? "ip6tables" : "iptables";

    private static string? Verb(string token) => token switch
    {
        "-A" or "--append" => "-A",
        "-I" or "--insert" => "-I",
        "-D" or "--delete" => "-D",
        "-C" or "--check" => "-C",
        "-N" or "--new-chain" => "-N",
        "-X" or "--delete-chain" => "-X",
        "-F" or "--flush" => "-F",
        "-S" or "--list-rules" => "-S",
        "-L" or "--list" => "-L",
        "-P" or "--policy" => "-P",
        "-Z" or "--zero" => "-Z",
        _ => null,
    };

    private string Run(string command, string tableName, List<string> operands)
    {
        var chainName = operands.Count > 0 ? operands[0] : null;
        switch (command)
        {
            case "-S":
            case "-L":
                return List(command, tableName, chainName);
            case "-N":
                NewChain(Table(tableName), Required(chainName, command));
                return string.Empty;
            case "-X":
                DeleteChains(Table(tableName), chainName);
                return string.Empty;
            case "-F":
                Flush(Table(tableName), chainName);
                return string.Empty;
            case "-Z":
                // Counters are not emulated: zeroing only checks that the chain exists.
                if (chainName is not null)
                {
                    _ = Chain(Table(tableName), chainName);
                }

                return string.Empty;
            case "-P":
                SetPolicy(Table(tableName), Required(chainName, command), operands.Count > 1 ? operands[1] : throw new EmulatedFailure(2, "-P requires a chain and a policy"));
                return string.Empty;
        }

        // Checking or deleting a rule reads the table; only the legacy backend brings it into being by reading.
        var table = command is "-C" or "-D" ? Read(tableName) ?? XtablesTable.Create(tableName) : (XtablesTable)Table(tableName);
        var name = Required(chainName, command);
        var rest = operands.Skip(1).ToList();
        int? number = rest.Count > 0 && int.TryParse(rest[0], NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : null;
        if (command == "-D" && number is { } index && rest.Count == 1)
        {
            var numbered = Chain(table, name);
            if (index < 1 || index > numbered.Rules.Count)
            {
                throw EmulatedFailure.Plain(Messages.DeletionIndex);
            }

            numbered.Rules.RemoveAt(index - 1);
            return string.Empty;
        }

        // iptables parses the rule, target included, before it looks for the chain. Deleting or checking a rule by its
        // specification in a chain that does not exist reads as a rule that does not exist, on both backends.
        var rule = CheckedRule(table, command == "-I" && number is not null ? rest.Skip(1).ToList() : rest);
        var chain = command is "-D" or "-C"
            ? table.Chains.GetValueOrDefault(name) ?? throw EmulatedFailure.Plain(Messages.BadRule)
            : Chain(table, name);
        switch (command)
        {
            case "-A":
                chain.Rules.Add(rule);
                break;
            case "-I":
                var position = number ?? 1;
                if (position < 1 || position > chain.Rules.Count + 1)
                {
                    throw EmulatedFailure.Plain(Messages.InsertionIndex);
                }

                chain.Rules.Insert(position - 1, rule);
                break;
            case "-D":
                chain.Rules.RemoveAt(IndexOf(chain, rule));
                break;
            case "-C":
                _ = IndexOf(chain, rule);
                break;
        }

        return string.Empty;
    }

    private static string Required(string? chain, string command) =>
        chain ?? throw new EmulatedFailure(2, $"option \"{command}\" requires an argument");

    private static XtablesChain Chain(XtablesTable table, string name) =>
        table.Chains.GetValueOrDefault(name) ?? throw EmulatedFailure.Plain(Messages.NoSuchChain);

    private static void NewChain(XtablesTable table, string name)
    {
        if (table.Chains.ContainsKey(name))
        {
            throw EmulatedFailure.Plain(Messages.ChainExists);
        }

        if (name.Length > 28 || name.StartsWith('-') || name.StartsWith('!'))
        {
            throw new EmulatedFailure(2, $"Invalid chain name `{name}'");
        }

        table.Chains[name] = new XtablesChain(name, policy: null);
    }

    private void DeleteChains(XtablesTable table, string? name)
    {
        var victims = name is null
            ? table.Chains.Values.Where(static c => !c.IsBuiltIn).ToList()
            : [Chain(table, name)];
        foreach (var chain in victims)
        {
            if (chain.IsBuiltIn)
            {
                throw new EmulatedFailure(2, "Cannot delete built-in chain");
            }

            var referenced = table.IsReferenced(chain.Name);
            if (referenced || chain.Rules.Count > 0)
            {
                throw Messages.ChainBusy(Backend, chain.Name, referenced);
            }
        }

        foreach (var chain in victims)
        {
            _ = table.Chains.Remove(chain.Name);
        }
    }

    private static void Flush(XtablesTable table, string? name)
    {
        foreach (var chain in name is null ? [.. table.Chains.Values] : (XtablesChain[])[Chain(table, name)])
        {
            chain.Rules.Clear();
        }
    }

    private void SetPolicy(XtablesTable table, string name, string policy)
    {
        var chain = Chain(table, name);
        if (!chain.IsBuiltIn || policy is not ("ACCEPT" or "DROP"))
        {
            throw new EmulatedFailure(2, $"Bad policy name. Run `{Program} --help' for more information.");
        }

        if (table.Name == "nat" && policy == "DROP")
        {
            throw new EmulatedFailure(2, "\nThe \"nat\" table is not intended for filtering, the use of DROP is therefore inhibited.\n\n");
        }

        chain.Policy = policy;
    }

    private string[] CheckedRule(XtablesTable table, IReadOnlyList<string> specification)
    {
        var rule = RuleText.Normalize(specification, Family);
        if (RuleText.Target(rule) is { } target && !StandardTargets.Contains(target) && !ExtensionTargets.Contains(target) && !table.Chains.ContainsKey(target))
        {
            throw Messages.MissingTarget(Backend, target);
        }

        return rule;
    }

    /// <summary>
    /// Where <paramref name="rule"/> is in <paramref name="chain"/>. When it is not there, iptables says "Bad rule", except
    /// the legacy backend (libiptc) for a rule whose target is a user chain or an extension (<c>-j A</c>, <c>-j DNAT</c>):
    /// "No chain/target/match by that name", although the chain and target exist.
    /// </summary>
    private int IndexOf(XtablesChain chain, string[] rule)
    {
        var index = chain.Rules.FindIndex(r => r.AsSpan().SequenceEqual(rule));
        return index >= 0 ? index
            : Backend == FakeIptablesBackend.Legacy && RuleText.Target(rule) is { } target && !StandardTargets.Contains(target)
                ? throw EmulatedFailure.Plain(Messages.NoSuchChain)
                : throw EmulatedFailure.Plain(Messages.BadRule);
    }

    private string List(string command, string tableName, string? chainName)
    {
        var table = Read(tableName) ?? XtablesTable.Create(tableName);
        var chains = chainName is null
            ? table.Ordered.ToList()
            : [table.Chains.GetValueOrDefault(chainName) ?? throw Messages.ListMissing(Backend, tableName, chainName)];
        var output = new StringBuilder();
        if (command == "-S")
        {
            foreach (var chain in chains)
            {
                _ = output.Append(chain.IsBuiltIn ? $"-P {chain.Name} {chain.Policy}" : $"-N {chain.Name}").Append('\n');
            }

            foreach (var chain in chains)
            {
                foreach (var rule in chain.Rules)
                {
                    _ = output.Append(RuleText.Format("-A", chain.Name, rule)).Append('\n');
                }
            }

            return output.ToString();
        }

        // -L: the chain headers and each rule in its -S form; the column layout of the real listing is not emulated.
        foreach (var chain in chains)
        {
            _ = output.Append(chain.IsBuiltIn ? $"Chain {chain.Name} (policy {chain.Policy})" : $"Chain {chain.Name} ({CountReferences(table, chain.Name)} references)").Append('\n');
            foreach (var rule in chain.Rules)
            {
                _ = output.Append(RuleText.Format("-A", chain.Name, rule)).Append('\n');
            }

            _ = output.Append('\n');
        }

        return output.ToString();
    }

    private static int CountReferences(XtablesTable table, string chain) =>
        table.Chains.Values.Sum(c => c.Rules.Count(r => RuleText.Target(r) == chain));

    /// <summary>The family's state as <c>iptables-save</c> prints it: tables by name, optionally with counters and the comment lines.</summary>
    public string Save(string? onlyTable, bool decorated)
    {
        var output = new StringBuilder();
        var names = onlyTable is null ? Tables.Keys.Order(StringComparer.Ordinal).ToList() : [onlyTable];
        foreach (var name in names)
        {
            var table = onlyTable is null ? Tables[name] : Read(name) ?? XtablesTable.Create(name);
            if (decorated)
            {
                _ = output.Append(CultureInfo.InvariantCulture, $"# Generated by {Program}-save v1.8.9\n");
            }

            _ = output.Append('*').Append(name).Append('\n');
            foreach (var chain in table.Ordered)
            {
                _ = output.Append(':').Append(chain.Name).Append(' ').Append(chain.Policy ?? "-").Append(decorated ? " [0:0]\n" : "\n");
            }

            foreach (var chain in table.Ordered)
            {
                foreach (var rule in chain.Rules)
                {
                    _ = output.Append(RuleText.Format("-A", chain.Name, rule)).Append('\n');
                }
            }

            _ = output.Append("COMMIT\n");
            if (decorated)
            {
                _ = output.Append("# Completed\n");
            }
        }

        return output.ToString();
    }
}
