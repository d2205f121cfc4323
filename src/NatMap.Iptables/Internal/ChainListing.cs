using System.Text;

namespace NatMap.Iptables.Internal;

/// <summary>
/// One table as <c>iptables -t TABLE -S</c> lists it (or as one <c>*table</c> block of <c>iptables-save</c>): its chains
/// and its rules, tokenized.
/// </summary>
internal sealed class ChainListing
{
    private Dictionary<RuleKey, int>? _index;
    private Dictionary<ListedRule, int>? _positions;

    private ChainListing(HashSet<string> chains, List<ListedRule> rules)
    {
        Chains = chains;
        Rules = rules;
    }

    /// <summary>A listing of a table that holds nothing, for a table the save output did not show.</summary>
    public static ChainListing Empty => new([], []);

    public IReadOnlySet<string> Chains { get; }

    public IReadOnlyList<ListedRule> Rules { get; }

    public static ChainListing Parse(string output) => Parse(output.Split('\n'));

    /// <summary>Reads <c>-P</c>/<c>-N</c> or save-format <c>:CHAIN POLICY [p:b]</c> declarations and <c>-A</c> rules.</summary>
    public static ChainListing Parse(IEnumerable<string> lines)
    {
        var chains = new HashSet<string>(StringComparer.Ordinal);
        var rules = new List<ListedRule>();
        foreach (var rawLine in lines)
        {
            var line = rawLine.TrimEnd('\r');
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }

            if (line[0] == ':')
            {
                _ = chains.Add(line[1..].Split(' ', 2)[0]);
                continue;
            }

            var tokens = Tokenize(line);
            if (tokens.Count >= 2 && tokens[0] is "-P" or "-N")
            {
                _ = chains.Add(tokens[1]);
            }
            else if (tokens.Count >= 2 && tokens[0] == "-A")
            {
                rules.Add(new ListedRule(tokens[1], tokens.Skip(2).ToArray()));
            }
        }

        return new ChainListing(chains, rules);
    }

    public IEnumerable<ListedRule> InChain(string chain) => Rules.Where(r => r.Chain == chain);

    /// <summary>
    /// Deletes of <paramref name="rules"/> (some of this listing's, in listing order) in that order, each undone by
    /// inserting it back where it stood when deleted: its listed position less the rules of its chain deleted before
    /// it. Deleting front to back keeps every delete cheap (iptables-nft finds a rule by scanning its chain from the
    /// start), and undoing back to front restores the exact order.
    /// </summary>
    public IEnumerable<RuleChange> DeletesInOrder(System.Net.Sockets.AddressFamily family, string table, IEnumerable<ListedRule> rules, bool tolerateMissing = false)
    {
        if (_positions is null)
        {
            var positions = new Dictionary<ListedRule, int>(Rules.Count, ReferenceEqualityComparer.Instance);
            var counts = new Dictionary<string, int>(StringComparer.Ordinal);
            foreach (var rule in Rules)
            {
                var position = counts.GetValueOrDefault(rule.Chain) + 1;
                counts[rule.Chain] = position;
                positions[rule] = position;
            }

            _positions = positions;
        }

        var deleted = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var rule in rules)
        {
            var before = deleted.GetValueOrDefault(rule.Chain);
            deleted[rule.Chain] = before + 1;
            yield return RuleChange.DeleteAt(family, table, rule.Chain, rule.Specification, _positions[rule] - before, tolerateMissing);
        }
    }

    /// <summary>Whether <paramref name="chain"/> holds a rule with exactly this specification.</summary>
    public bool Contains(string chain, IReadOnlyList<string> specification) => Count(chain, specification) > 0;

    /// <summary>How many rules of <paramref name="chain"/> have exactly this specification.</summary>
    public int Count(string chain, IReadOnlyList<string> specification)
    {
        if (_index is null)
        {
            var index = new Dictionary<RuleKey, int>(Rules.Count);
            foreach (var rule in Rules)
            {
                var key = new RuleKey(string.Empty, rule.Chain, rule.Specification);
                index[key] = index.GetValueOrDefault(key) + 1;
            }

            _index = index;
        }

        return _index.GetValueOrDefault(new RuleKey(string.Empty, chain, specification));
    }

    /// <summary>Splits a listed rule into arguments, undoing the double quotes and backslash escapes iptables adds.</summary>
    public static List<string> Tokenize(string line) => Shared.ArgumentLine.Split(line, out _);
}

/// <summary>A rule from a listing: its chain and the arguments after <c>-A CHAIN</c>.</summary>
internal sealed record ListedRule(string Chain, IReadOnlyList<string> Specification)
{
    public string? Comment => RuleSpecification.ValueOf(Specification, "--comment");

    public string? JumpTarget => RuleSpecification.ValueOf(Specification, "-j", "-g");

    public bool SameSpecification(IReadOnlyList<string> specification) =>
        Specification.SequenceEqual(specification, StringComparer.Ordinal);
}
