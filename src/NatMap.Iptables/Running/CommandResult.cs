namespace NatMap.Iptables;

/// <summary>What a finished command returned. A non-zero <see cref="ExitCode"/> is a result, not an error, at this level.</summary>
/// <param name="ExitCode">The process exit code; 0 means success.</param>
/// <param name="StandardOutput">Everything the program wrote to standard output.</param>
/// <param name="StandardError">Everything the program wrote to standard error.</param>
public sealed record CommandResult(int ExitCode, string StandardOutput, string StandardError)
{
    /// <summary>Gets a successful result with no output.</summary>
    public static CommandResult Success { get; } = new(0, string.Empty, string.Empty);

    /// <summary>Gets a value indicating whether <see cref="ExitCode"/> is 0.</summary>
    public bool IsSuccess => ExitCode == 0;
}
