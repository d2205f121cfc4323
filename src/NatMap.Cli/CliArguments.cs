namespace NatMap.Cli;

/// <summary>Parsed command line: a verb, a kind, <c>--name value</c> options and flags.</summary>
internal sealed class CliArguments
{
    private static readonly HashSet<string> Flags = ["--apply", "--remove", "--udp", "--no-ipv6", "--per-rule", "--help", "-h", "--version"];

    private readonly Dictionary<string, string> _values = new(StringComparer.Ordinal);
    private readonly HashSet<string> _flags = new(StringComparer.Ordinal);
    private readonly HashSet<string> _used = new(StringComparer.Ordinal);

    public List<string> Positionals { get; } = [];

    public static CliArguments Parse(IReadOnlyList<string> args)
    {
        var parsed = new CliArguments();
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            if (Flags.Contains(arg))
            {
                _ = parsed._flags.Add(arg);
            }
            else if (arg.StartsWith("--", StringComparison.Ordinal))
            {
                var equals = arg.IndexOf('=', StringComparison.Ordinal);
                if (equals > 0)
                {
                    parsed._values[arg[..equals]] = arg[(equals + 1)..];
                }
                else if (i + 1 < args.Count && !args[i + 1].StartsWith("--", StringComparison.Ordinal))
                {
                    parsed._values[arg] = args[++i];
                }
                else
                {
                    throw new UsageException($"Option {arg} needs a value.");
                }
            }
            else
            {
                parsed.Positionals.Add(arg);
            }
        }

        return parsed;
    }

    public bool Has(string flag) => _flags.Contains(flag);

    public string Required(string name) => Optional(name) ?? throw new UsageException($"Missing {name}.");

    public string? Optional(string name)
    {
        _ = _used.Add(name);
        return _values.TryGetValue(name, out var value) ? value : null;
    }

    /// <summary>Rejects options the chosen kind does not take, so a typo is not silently ignored.</summary>
    public void RejectUnused()
    {
        var unknown = _values.Keys.Where(k => !_used.Contains(k)).ToList();
        if (unknown.Count > 0)
        {
            throw new UsageException($"Unknown option {string.Join(", ", unknown)} for this kind.");
        }
    }
}
