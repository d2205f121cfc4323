namespace NatMap.Iptables;

/// <summary>
/// A desired-state document was rejected as a whole: it is not valid JSON, or one or more of its values fail validation.
/// Nothing of it may be applied.
/// </summary>
/// <remarks>The message lists every error on its own line, as <c>path: message</c>.</remarks>
public sealed class NatMapStateException : FormatException
{
    /// <summary>Creates the exception from the errors found.</summary>
    /// <param name="errors">The errors; at least one.</param>
    /// <exception cref="ArgumentNullException"><paramref name="errors"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="errors"/> is empty.</exception>
    public NatMapStateException(IReadOnlyList<NatMapStateError> errors)
        : base(BuildMessage(errors))
    {
        Errors = [.. errors];
    }

    /// <summary>Gets every error found, in document order.</summary>
    public IReadOnlyList<NatMapStateError> Errors { get; }

    private static string BuildMessage(IReadOnlyList<NatMapStateError> errors)
    {
        ArgumentNullException.ThrowIfNull(errors);
        if (errors.Count == 0)
        {
            throw new ArgumentException("A rejected state needs at least one error.", nameof(errors));
        }

        var noun = errors.Count == 1 ? "error" : "errors";
        return $"The desired state is not valid ({errors.Count} {noun}):{Environment.NewLine}"
            + string.Join(Environment.NewLine, errors.Select(static e => $"  {e}"));
    }
}
