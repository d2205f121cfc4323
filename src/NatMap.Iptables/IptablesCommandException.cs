using System.Globalization;
using System.Text;

namespace NatMap.Iptables;

/// <summary>A command that had to succeed exited with a non-zero code.</summary>
/// <remarks>
/// The message names what failed, then gives the command and its standard error, each on its own line. The
/// properties carry the same facts for code that wants to react to them (exit code 4 is the xtables lock, for example).
/// </remarks>
public class IptablesCommandException : Exception
{
    /// <summary>Initializes a new instance from a command and its result.</summary>
    /// <param name="command">The command that failed.</param>
    /// <param name="result">What it returned.</param>
    /// <param name="innerException">An optional cause.</param>
    /// <exception cref="ArgumentNullException"><paramref name="command"/> or <paramref name="result"/> is <see langword="null"/>.</exception>
    public IptablesCommandException(CommandSpec command, CommandResult result, Exception? innerException = null)
        : base(BuildMessage(command, result), innerException)
    {
        FileName = command.FileName;
        Arguments = command.Arguments;
        ExitCode = result.ExitCode;
        StandardError = result.StandardError;
        StandardOutput = result.StandardOutput;
    }

    /// <summary>Gets the program that was run.</summary>
    public string FileName { get; }

    /// <summary>Gets the arguments it was run with.</summary>
    public IReadOnlyList<string> Arguments { get; }

    /// <summary>Gets its exit code.</summary>
    public int ExitCode { get; }

    /// <summary>Gets what it wrote to standard error.</summary>
    public string StandardError { get; }

    /// <summary>Gets what it wrote to standard output.</summary>
    public string StandardOutput { get; }

    private static string BuildMessage(CommandSpec command, CommandResult result)
    {
        ArgumentNullException.ThrowIfNull(command);
        ArgumentNullException.ThrowIfNull(result);
        var stderr = result.StandardError.Trim();
        return new StringBuilder()
            .Append(CultureInfo.InvariantCulture, $"{command.FileName} exited with code {result.ExitCode}.")
            .AppendLine()
            .Append("Command: ").Append(command)
            .AppendLine()
            .Append("Standard error: ").Append(stderr.Length == 0 ? "(empty)" : stderr)
            .ToString();
    }
}
