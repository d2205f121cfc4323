using System.Text;
using System.Text.Json;
using NatMap.Iptables;

namespace NatMap.Cli;

/// <summary>What a sync changes: the objects to add, the objects to remove, and how many stay.</summary>
internal sealed record StateDiff(NatMapState Added, NatMapState Removed, int Unchanged)
{
    public static StateDiff Between(NatMapState current, NatMapState desired)
    {
        static IReadOnlyList<T> Minus<T>(IReadOnlyList<T> a, IReadOnlyList<T> b) => [.. a.Distinct().Except(b)];
        var added = new NatMapState
        {
            DockerMaps = Minus(desired.DockerMaps, current.DockerMaps),
            Dnats = Minus(desired.Dnats, current.Dnats),
            Snats = Minus(desired.Snats, current.Snats),
            Hairpins = Minus(desired.Hairpins, current.Hairpins),
        };
        var removed = new NatMapState
        {
            DockerMaps = Minus(current.DockerMaps, desired.DockerMaps),
            Dnats = Minus(current.Dnats, desired.Dnats),
            Snats = Minus(current.Snats, desired.Snats),
            Hairpins = Minus(current.Hairpins, desired.Hairpins),
        };
        var unchanged = Describe.Items(current).Distinct().Count() - Describe.Items(removed).Count();
        return new StateDiff(added, removed, unchanged);
    }

    public IEnumerable<string> Lines() =>
        Describe.Items(Added).Select(static o => "+ " + Describe.Object(o)).Concat(Describe.Items(Removed).Select(static o => "- " + Describe.Object(o)));

    /// <summary><c>{"apply": bool, "add": STATE, "remove": STATE, "unchanged": N}</c>, the states in the desired-state format.</summary>
    public string ToJson(bool applied)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            writer.WriteStartObject();
            writer.WriteBoolean("applied", applied);
            writer.WritePropertyName("add");
            writer.WriteRawValue(NatMapStateJson.Serialize(Added));
            writer.WritePropertyName("remove");
            writer.WriteRawValue(NatMapStateJson.Serialize(Removed));
            writer.WriteNumber("unchanged", Unchanged);
            writer.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.ToArray());
    }
}
