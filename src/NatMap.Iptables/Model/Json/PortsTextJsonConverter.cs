using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace NatMap.Iptables.Internal;

/// <summary>Reads port text as a string (<c>"80,443"</c>) or, for one port, as a number (<c>80</c>); always writes a string.</summary>
internal sealed class PortsTextJsonConverter : JsonConverter<string?>
{
    public override string? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => reader.TokenType switch
    {
        JsonTokenType.String => reader.GetString(),
        JsonTokenType.Number when reader.TryGetInt32(out var port) => port.ToString(CultureInfo.InvariantCulture),
        _ => throw new JsonException("Expected port text such as \"80\", \"80,443\" or \"8000-8100\", or one port as a number."),
    };

    public override void Write(Utf8JsonWriter writer, string? value, JsonSerializerOptions options)
    {
        ArgumentNullException.ThrowIfNull(writer);
        if (value is null)
        {
            writer.WriteNullValue();
        }
        else
        {
            writer.WriteStringValue(value);
        }
    }
}
