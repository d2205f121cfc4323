namespace NatMap.Iptables.Internal;

/// <summary>Reads a rule specification (the arguments after <c>-A CHAIN</c>).</summary>
internal static class RuleSpecification
{
    /// <summary>
    /// The argument after <paramref name="option"/> (or <paramref name="alternative"/>), or <see langword="null"/> when neither is present or
    /// the option is negated (<c>! -i lo</c>).
    /// </summary>
    public static string? ValueOf(IReadOnlyList<string> specification, string option, string? alternative = null)
    {
        for (var i = 0; i < specification.Count - 1; i++)
        {
            if (specification[i] == option || (alternative is not null && specification[i] == alternative))
            {
                return i > 0 && specification[i - 1] == "!" ? null : specification[i + 1];
            }
        }

        return null;
    }
}
