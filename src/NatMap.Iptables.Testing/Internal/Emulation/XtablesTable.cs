namespace NatMap.Iptables.Testing.Internal.Emulation;

/// <summary>One emulated table of one family: its chains (built-in ones with a policy) and their rules.</summary>
internal sealed class XtablesTable
{
    private static readonly Dictionary<string, string[]> BuiltIns = new(StringComparer.Ordinal)
    {
        ["filter"] = ["INPUT", "FORWARD", "OUTPUT"],
        ["nat"] = ["PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"],
        ["raw"] = ["PREROUTING", "OUTPUT"],
        ["mangle"] = ["PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"],
        ["security"] = ["INPUT", "FORWARD", "OUTPUT"],
    };

    private XtablesTable(string name, Dictionary<string, XtablesChain> chains)
    {
        Name = name;
        Chains = chains;
    }

    public string Name { get; }

    /// <summary>Chains by name.</summary>
    public Dictionary<string, XtablesChain> Chains { get; }

    public static bool Exists(string table) => BuiltIns.ContainsKey(table);

    /// <summary>The table's names, in the order <c>iptables-save</c> output is compared in (by name).</summary>
    public static IEnumerable<string> Names => BuiltIns.Keys.Order(StringComparer.Ordinal);

    public static XtablesTable Create(string name)
    {
        var chains = new Dictionary<string, XtablesChain>(StringComparer.Ordinal);
        foreach (var chain in BuiltIns[name])
        {
            chains[chain] = new XtablesChain(chain, "ACCEPT");
        }

        return new XtablesTable(name, chains);
    }

    public XtablesTable Clone() =>
        new(Name, Chains.ToDictionary(static c => c.Key, static c => c.Value.Clone(), StringComparer.Ordinal));

    /// <summary>Built-in chains in their fixed order, then user chains by name: the order iptables lists them in.</summary>
    public IEnumerable<XtablesChain> Ordered =>
        BuiltIns[Name].Select(c => Chains[c]).Concat(Chains.Values.Where(static c => !c.IsBuiltIn).OrderBy(static c => c.Name, StringComparer.Ordinal));

    /// <summary>Whether any rule of the table jumps or goes to <paramref name="chain"/>.</summary>
    public bool IsReferenced(string chain) =>
        Chains.Values.Any(c => c.Rules.Any(r => RuleText.Target(r) == chain));
}

/// <summary>A chain: built-in chains have a policy, user chains none.</summary>
internal sealed class XtablesChain(string name, string? policy)
{
    public string Name { get; } = name;

    public string? Policy { get; set; } = policy;

    public bool IsBuiltIn => Policy is not null;

    /// <summary>The rules, each the normalised arguments after <c>-A CHAIN</c>.</summary>
    public List<string[]> Rules { get; private init; } = [];

    public XtablesChain Clone() => new(Name, Policy) { Rules = [.. Rules] };
}
