namespace NatMap.Iptables.Internal;

/// <summary>Validation of the configurable names: the chain name and the comment prefix.</summary>
internal static class Names
{
    private static readonly HashSet<string> Reserved = new(StringComparer.OrdinalIgnoreCase)
    {
        "PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING",
        "ACCEPT", "DROP", "REJECT", "RETURN", "QUEUE", "DNAT", "SNAT", "MASQUERADE", "REDIRECT", "LOG",
        NatMapDefaults.DockerUserChain, "DOCKER",
    };

    public static string? ChainNameError(string? value)
    {
        if (string.IsNullOrEmpty(value))
        {
            return "The chain name must not be empty.";
        }

        if (value.Length > NatMapLimits.MaxChainNameOptionLength)
        {
            return $"The chain name '{Guard.Printable(value)}' is {value.Length} characters long; at most {NatMapLimits.MaxChainNameOptionLength} are allowed (iptables allows {NatMapLimits.MaxChainNameLength}, and the library's port-bucket chains add up to {NatMapLimits.MaxChainNameLength - NatMapLimits.MaxChainNameOptionLength}).";
        }

        if (!Guard.IsNameToken(value))
        {
            return $"The chain name '{Guard.Printable(value)}' may contain only ASCII letters, digits, '_', '.' and '-', and must not start with '-'.";
        }

        return Reserved.Contains(value)
            ? $"The chain name '{value}' is reserved for a built-in chain, a target or Docker."
            : null;
    }

    public static string? CommentPrefixError(string? value)
    {
        if (string.IsNullOrEmpty(value))
        {
            return "The comment prefix must not be empty.";
        }

        if (value.Length > NatMapLimits.MaxCommentPrefixLength)
        {
            return $"The comment prefix '{Guard.Printable(value)}' is {value.Length} characters long; at most {NatMapLimits.MaxCommentPrefixLength} are allowed.";
        }

        return Guard.IsNameToken(value)
            ? null
            : $"The comment prefix '{Guard.Printable(value)}' may contain only ASCII letters, digits, '_', '.' and '-', and must not start with '-'.";
    }
}
