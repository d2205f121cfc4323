using System.Collections.ObjectModel;
using System.Globalization;
using System.Text;

namespace NatMap.Iptables;

/// <summary>A program to run with an argument vector and optional standard input. No shell is ever involved.</summary>
/// <param name="FileName">The program to run, a name looked up on <c>PATH</c> or a path.</param>
/// <param name="Arguments">The arguments, each passed to the program as one argument, exactly as given.</param>
/// <param name="StandardInput">Text written to the program's standard input, or <see langword="null"/> for none.</param>
/// <remarks>Two specs are equal when the program, every argument (in order) and the standard input are equal.</remarks>
public sealed record CommandSpec(string FileName, IReadOnlyList<string> Arguments, string? StandardInput = null)
{
    /// <summary>Gets the program to run.</summary>
    public string FileName { get; init => field = string.IsNullOrEmpty(value) ? throw new ArgumentException("The program name must not be empty.", nameof(FileName)) : value; }
        = string.IsNullOrEmpty(FileName) ? throw new ArgumentException("The program name must not be empty.", nameof(FileName)) : FileName;

    /// <summary>Gets the arguments, in order.</summary>
    public IReadOnlyList<string> Arguments { get; init => field = Copy(value, nameof(Arguments)); } = Copy(Arguments, nameof(Arguments));

    /// <inheritdoc/>
    public bool Equals(CommandSpec? other) =>
        other is not null
        && FileName == other.FileName
        && StandardInput == other.StandardInput
        && Arguments.SequenceEqual(other.Arguments, StringComparer.Ordinal);

    /// <inheritdoc/>
    public override int GetHashCode()
    {
        var hash = default(HashCode);
        hash.Add(FileName, StringComparer.Ordinal);
        hash.Add(StandardInput, StringComparer.Ordinal);
        foreach (var argument in Arguments)
        {
            hash.Add(argument, StringComparer.Ordinal);
        }

        return hash.ToHashCode();
    }

    /// <summary>
    /// Returns the command as one line for logs and messages, quoting arguments that hold spaces, quotes or
    /// control characters. It is for reading only: the command is never run through a shell.
    /// </summary>
    /// <returns>For example <c>iptables -w 5 -t nat -N NATMAP</c>.</returns>
    public override string ToString()
    {
        var builder = new StringBuilder(Quote(FileName));
        foreach (var argument in Arguments)
        {
            _ = builder.Append(' ').Append(Quote(argument));
        }

        if (StandardInput is not null)
        {
            _ = builder.Append(" <<< (").Append(StandardInput.Length).Append(" characters)");
        }

        return builder.ToString();
    }

    private static ReadOnlyCollection<string> Copy(IReadOnlyList<string>? arguments, string paramName)
    {
        ArgumentNullException.ThrowIfNull(arguments, paramName);
        var copy = arguments.ToArray();
        if (Array.IndexOf(copy, null) >= 0)
        {
            throw new ArgumentException("No argument may be null.", paramName);
        }

        return Array.AsReadOnly(copy);
    }

    private static string Quote(string value)
    {
        if (value.Length > 0 && !value.Any(static c => char.IsWhiteSpace(c) || char.IsControl(c) || c is '"' or '\'' or '\\' or '$' or '`'))
        {
            return value;
        }

        var builder = new StringBuilder("\"");
        foreach (var c in value)
        {
            _ = c switch
            {
                '"' or '\\' or '$' or '`' => builder.Append('\\').Append(c),
                '\n' => builder.Append("\\n"),
                '\r' => builder.Append("\\r"),
                '\t' => builder.Append("\\t"),
                _ when char.IsControl(c) => builder.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:x4}"),
                _ => builder.Append(c),
            };
        }

        return builder.Append('"').ToString();
    }
}
