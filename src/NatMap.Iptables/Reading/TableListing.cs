using System.Text;

namespace NatMap.Iptables.Internal;

/// <summary>
/// One table as <c>iptables -t TABLE -S</c> lists it (or as one <c>*table</c> block of <c>iptables-save</c>): its chains
/// and its rules, tokenized.
/// </summary>
internal sealed class TableListing
{
    private Dictionary<RuleKey, int>? _index;
    private readonly Dictionary<ListedRule, int> _positions;

    private readonly Dictionary<string, int> _counts;

    private TableListing(HashSet<string> chains, List<ListedRule> rules, Dictionary<ListedRule, int> positions, Dictionary<string, int> counts)
    {
        Chains = chains;
        Rules = rules;
        _positions = positions;
        _counts = counts;
    }

    /// <summary>A listing of a table that holds nothing, for a table the save output did not show.</summary>
    public static TableListing Empty => new([], [], new(ReferenceEqualityComparer.Instance), new(StringComparer.Ordinal));

    public IReadOnlySet<string> Chains { get; }

    /// <summary>Gets the rules, in listing order; only those the filter kept when the listing was parsed with one.</summary>
    public IReadOnlyList<ListedRule> Rules { get; }

    public static TableListing Parse(string output, Func<string, bool>? keep = null) => Parse(LogicalLines(output), keep);

    /// <summary>
    /// The line filter that keeps the rules carrying <paramref name="comment"/>, and the lines that contain one of
    /// <paramref name="alsoKeeping"/>; none for a <see langword="null"/> comment.
    /// </summary>
    public static Func<string, bool>? KeepingComment(string? comment, IReadOnlyCollection<string>? alsoKeeping = null)
    {
        if (comment is null)
        {
            return null;
        }

        if (alsoKeeping is not { Count: > 0 })
        {
            return line => line.Contains(comment, StringComparison.Ordinal);
        }

        return line => line.Contains(comment, StringComparison.Ordinal) || alsoKeeping.Any(k => line.Contains(k, StringComparison.Ordinal));
    }

    /// <summary>
    /// Reads <c>-P</c>/<c>-N</c> or save-format <c>:CHAIN POLICY [p:b]</c> declarations and <c>-A</c> rules. Every chain
    /// is read; with <paramref name="keep"/>, only the rule lines it accepts are tokenized and kept (their positions in
    /// their chains still count every rule), so a caller that needs a few rules among thousands pays for those only.
    /// </summary>
    public static TableListing Parse(IEnumerable<string> lines, Func<string, bool>? keep = null)
    {
        var chains = new HashSet<string>(StringComparer.Ordinal);
        var rules = new List<ListedRule>();
        var positions = new Dictionary<ListedRule, int>(ReferenceEqualityComparer.Instance);
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
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

            if (line.StartsWith("-A ", StringComparison.Ordinal))
            {
                // Count the rule in its chain before deciding whether to read it, so positions stay exact.
                var end = line.IndexOf(' ', 3);
                var chainName = end < 0 ? line[3..] : line[3..end];
                ref var count = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(counts, chainName, out _);
                count++;
                if (keep is not null && !keep(line))
                {
                    continue;
                }

                var position = count;
                var ruleTokens = Tokenize(line);
                if (ruleTokens.Count >= 2)
                {
                    var rule = new ListedRule(ruleTokens[1], ruleTokens.Skip(2).ToArray());
                    rules.Add(rule);
                    positions[rule] = position;
                }

                continue;
            }

            var tokens = Tokenize(line);
            if (tokens.Count >= 2 && tokens[0] is "-P" or "-N")
            {
                _ = chains.Add(tokens[1]);
            }
        }

        return new TableListing(chains, rules, positions, counts);
    }

    /// <summary>
    /// The lines of a listing as iptables meant them: iptables-save and iptables -S print a newline inside a quoted
    /// comment as it is, so a line that ends inside quotes goes on with the next one. Without this, a foreign rule's
    /// comment could hold a line that reads as a rule of its own (a forged loopback guard, a forged owned rule) or as
    /// a table's <c>COMMIT</c>.
    /// </summary>
    public static IEnumerable<string> LogicalLines(string output)
    {
        var start = 0;
        var quoted = false;
        for (var i = 0; i < output.Length; i++)
        {
            var c = output[i];
            if (quoted)
            {
                if (c == '\\')
                {
                    i++; // the next character is literal, a quote or a newline included
                }
                else if (c == '"')
                {
                    quoted = false;
                }
            }
            else if (c == '"')
            {
                quoted = true;
            }
            else if (c == '\n')
            {
                yield return output[start..i];
                start = i + 1;
            }
        }

        if (start < output.Length)
        {
            yield return output[start..];
        }

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

    /// <summary>How many rules <paramref name="chain"/> holds, the rules a filter left out included.</summary>
    public int RuleCount(string chain) => _counts.GetValueOrDefault(chain);

    /// <summary>The position of one of this listing's rules in its chain, from 1.</summary>
    public int PositionOf(ListedRule rule) => _positions[rule];

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
