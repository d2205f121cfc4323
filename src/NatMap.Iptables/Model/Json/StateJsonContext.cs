using System.Text.Json.Serialization;

namespace NatMap.Iptables.Internal;

/// <summary>
/// The source-generated JSON contract of <see cref="NatMapStateDocument"/>: camelCase names, nulls left out, comments and
/// trailing commas allowed (the file is written by hand), and an unknown property is an error, so a misspelt optional
/// field such as <c>lanCdir</c> cannot silently widen a rule.
/// </summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    PropertyNameCaseInsensitive = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    WriteIndented = true,
    ReadCommentHandling = System.Text.Json.JsonCommentHandling.Skip,
    AllowTrailingCommas = true,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow)]
[JsonSerializable(typeof(NatMapStateDocument))]
internal sealed partial class StateJsonContext : JsonSerializerContext;
