using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text.Json;
using NatMap.Iptables.Internal;

namespace NatMap.Iptables;

/// <summary>
/// Reads and writes the desired state as JSON (System.Text.Json, source-generated, so trim- and AOT-safe). The format
/// is <see cref="NatMapStateDocument"/> with camelCase names:
/// <code language="json">
/// {
///   "dockerMaps": [ { "containerId": "web", "hostEndpoint": "0.0.0.0:8080", "containerEndpoint": "172.17.0.2:80", "protocol": "tcp" } ],
///   "dnats":      [ { "externalIp": "203.0.113.5", "internalIp": "10.0.0.2", "ports": "80,443", "protocol": "tcp" } ],
///   "snats":      [ { "internalIp": "10.0.0.2", "externalIp": "203.0.113.5", "externalInterface": "eth0" } ],
///   "hairpins":   [ { "externalIp": "203.0.113.5", "internalIp": "10.0.0.2", "ports": "80", "lanCidr": "10.0.0.0/24" } ]
/// }
/// </code>
/// </summary>
/// <remarks>
/// <para>Every list and optional field (<c>protocol</c>, <c>externalInterface</c>, <c>internalPort</c>, <c>lanCidr</c>)
/// may be left out. Comments and trailing commas are allowed; an unknown property is an error, so a misspelt optional
/// field cannot silently leave a rule broader than meant.</para>
/// <para>A document is accepted or rejected as a whole: a rejected one reports every bad value with its JSON path and
/// the field's own validation message, and yields no state, so nothing of it can be applied.</para>
/// <para><see cref="Serialize"/> writes what <see cref="IIptablesManager.ListAsync"/> returns, and <see cref="Parse"/>
/// reads it back into an equal state, so a listed state synced again changes nothing.</para>
/// </remarks>
public static class NatMapStateJson
{
    /// <summary>Parses a desired-state document.</summary>
    /// <param name="json">The JSON text.</param>
    /// <returns>The validated state.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="json"/> is <see langword="null"/>.</exception>
    /// <exception cref="NatMapStateException">The text is not valid JSON of this format, or a value fails validation; <see cref="NatMapStateException.Errors"/> lists every error with its path.</exception>
    public static NatMapState Parse(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        return TryParse(json, out var state, out var errors) ? state : throw new NatMapStateException(errors);
    }

    /// <summary>Tries to parse a desired-state document; never throws for bad input.</summary>
    /// <param name="json">The JSON text.</param>
    /// <param name="state">The validated state, or <see langword="null"/> when the document is rejected.</param>
    /// <param name="errors">Every error found, each with its JSON path; empty on success.</param>
    /// <returns><see langword="true"/> when the document is valid.</returns>
    public static bool TryParse([NotNullWhen(true)] string? json, [NotNullWhen(true)] out NatMapState? state, out IReadOnlyList<NatMapStateError> errors)
    {
        state = null;
        if (string.IsNullOrWhiteSpace(json))
        {
            errors = [new NatMapStateError("$", "The document is empty; expected a JSON object such as {\"dnats\": []}.")];
            return false;
        }

        NatMapStateDocument? document;
        try
        {
            document = JsonSerializer.Deserialize(json, StateJsonContext.Default.NatMapStateDocument);
        }
        catch (JsonException exception)
        {
            errors = [new NatMapStateError(exception.Path ?? "$", Describe(exception))];
            return false;
        }

        if (document is null)
        {
            errors = [new NatMapStateError("$", "The document is null; expected a JSON object such as {\"dnats\": []}.")];
            return false;
        }

        return document.TryToState(out state, out errors);
    }

    /// <summary>Writes a state as an indented desired-state document.</summary>
    /// <param name="state">The state to write.</param>
    /// <returns>The JSON text; <see cref="Parse"/> reads it back into an equal state.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="state"/> or one of its lists is <see langword="null"/>.</exception>
    public static string Serialize(NatMapState state) =>
        JsonSerializer.Serialize(NatMapStateDocument.FromState(state), StateJsonContext.Default.NatMapStateDocument);

    /// <summary>The parser's message without its own path (the error carries it), with the line and position, counted from 1.</summary>
    private static string Describe(JsonException exception)
    {
        var message = exception.Message;
        var cut = message.IndexOf(" Path: ", StringComparison.Ordinal);
        if (cut >= 0)
        {
            message = message[..cut];
        }

        return exception.LineNumber is { } line && exception.BytePositionInLine is { } position
            ? string.Create(CultureInfo.InvariantCulture, $"{message} (line {line + 1}, byte {position + 1})")
            : message;
    }
}
