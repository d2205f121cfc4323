using System.Globalization;
using System.Text;

namespace NatMap.Iptables;

/// <summary>A command that had to succeed exited with a non-zero code.</summary>
/// <remarks>
/// The message names what failed, then gives the command and its standard error, each on its own line. The
/// properties carry the same facts for code that wants to react to them (exit code 4 is the xtables lock, for example):
/// <see cref="Command"/> is the <see cref="CommandSpec"/> that ran, and the rest is what it returned.
/// </remarks>
public class IptablesCommandException : Exception
{
    /// <summary>Initializes a new instance from a command and its result.</summary>
    /// <param name="command">The command that failed.</param>
    /// <param name="result">What it returned.</param>
    /// <param name="innerException">An optional cause.</param>
    /// <exception cref="ArgumentNullException"><paramref name="command"/> or <paramref name="result"/> is <see langword="null"/>.</exception>
    public IptablesCommandException(CommandSpec command, CommandResult result, Exception? innerException = null)
        : this(command, result, FindFailedLine(command?.StandardInput, result?.StandardError ?? string.Empty), innerException)
    {
    }

    // The failed input line is found once, for both the message and the property.
    private IptablesCommandException(CommandSpec command, CommandResult result, string? failedInputLine, Exception? innerException)
        : base(BuildMessage(command, result, failedInputLine), innerException)
    {
        Command = command;
        ExitCode = result.ExitCode;
        StandardError = result.StandardError;
        StandardOutput = result.StandardOutput;
        FailedInputLine = failedInputLine;
    }

    /// <summary>
    /// Gets the command that failed, exactly as it was run: its program, its arguments and, for an
    /// <c>iptables-restore</c> batch, the whole batch in <see cref="CommandSpec.StandardInput"/>.
    /// </summary>
    public CommandSpec Command { get; }

    /// <summary>Gets its exit code.</summary>
    public int ExitCode { get; }

    /// <summary>Gets what it wrote to standard error.</summary>
    public string StandardError { get; }

    /// <summary>Gets what it wrote to standard output.</summary>
    public string StandardOutput { get; }

    /// <summary>
    /// Gets, for a failed <c>iptables-restore</c> batch, the input line the program reported as failing
    /// (<c>line N failed</c> or <c>Error occurred at line: N</c>); otherwise <see langword="null"/>.
    /// </summary>
    public string? FailedInputLine { get; }

    private static string? FindFailedLine(string? input, string standardError)
    {
        if (input is null)
        {
            return null;
        }

        foreach (var marker in new[] { "line ", "Error occurred at line: " })
        {
            var at = standardError.IndexOf(marker, StringComparison.Ordinal);
            while (at >= 0)
            {
                var digits = standardError.AsSpan(at + marker.Length);
                var length = digits.IndexOfAnyExceptInRange('0', '9');
                if (length != 0 && int.TryParse(length < 0 ? digits : digits[..length], NumberStyles.None, CultureInfo.InvariantCulture, out var number))
                {
                    var lines = input.Split('\n');
                    return number >= 1 && number <= lines.Length ? lines[number - 1] : null;
                }

                at = standardError.IndexOf(marker, at + marker.Length, StringComparison.Ordinal);
            }
        }

        return null;
    }

    /// <summary>iptables exits with 4 and names the lock when its bounded wait for the xtables lock ran out.</summary>
    private static bool IsLockTimeout(CommandResult result) =>
        result.ExitCode == 4 && result.StandardError.Contains("xtables lock", StringComparison.Ordinal);

    private static string BuildMessage(CommandSpec command, CommandResult result, string? failedInputLine)
    {
        ArgumentNullException.ThrowIfNull(command);
        ArgumentNullException.ThrowIfNull(result);
        var stderr = result.StandardError.Trim();
        var message = new StringBuilder()
            .Append(CultureInfo.InvariantCulture, $"{command.FileName} exited with code {result.ExitCode}.")
            .AppendLine()
            .Append("Command: ").Append(command)
            .AppendLine()
            .Append("Standard error: ").Append(stderr.Length == 0 ? "(empty)" : stderr);
        if (failedInputLine is { } line)
        {
            _ = message.AppendLine().Append("Failed input line: ").Append(line);
        }

        if (IsLockTimeout(result))
        {
            _ = message.AppendLine().Append(
                "Another program held the xtables lock for longer than the lock wait (-w, NatMapOptions.XtablesLockWait); " +
                "nothing was changed. Retry, or raise the wait if the other program is known to hold the lock this long.");
        }

        return message.ToString();
    }
}
