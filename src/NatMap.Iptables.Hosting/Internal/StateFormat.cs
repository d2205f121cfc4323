using Microsoft.Extensions.Configuration;

namespace NatMap.Iptables.Hosting.Internal;

/// <summary>The core's desired-state format, as the sources use it.</summary>
internal static class StateFormat
{
    private static readonly string[] Lists = ["DockerMaps", "Dnats", "Snats", "Hairpins"];

    /// <summary>Parses a JSON document.</summary>
    /// <exception cref="NatMapStateException">The document is not valid.</exception>
    public static NatMapState Parse(string json) => NatMapStateJson.Parse(json);

    /// <summary>
    /// Binds a configuration section as strictly as the JSON format reads: an unknown key, or a value that does not
    /// convert, rejects the whole state.
    /// </summary>
    /// <remarks>
    /// <c>section.Get&lt;NatMapStateDocument&gt;()</c> is not strict enough: the binder skips a list element whose value
    /// does not convert (a word for a port drops that DNAT, and the sync would then remove it), and ignores an unknown
    /// key (a misspelt <c>LanCidr</c> leaves a hairpin open to every source). Each element is therefore bound on its own,
    /// with <see cref="BinderOptions.ErrorOnUnknownConfiguration"/>.
    /// </remarks>
    /// <exception cref="NatMapStateException">The section does not bind, or a value is not valid.</exception>
    public static NatMapState Bind(IConfiguration section)
    {
        var errors = new List<NatMapStateError>();
        foreach (var child in section.GetChildren())
        {
            if (!Lists.Contains(child.Key, StringComparer.OrdinalIgnoreCase))
            {
                errors.Add(new NatMapStateError($"$.{child.Key}", $"Unknown key '{child.Key}'; expected {string.Join(", ", Lists)}."));
            }
        }

        var document = new NatMapStateDocument
        {
            DockerMaps = BindList<DockerPortMapDocument>(section, "DockerMaps", errors),
            Dnats = BindList<DnatConfigDocument>(section, "Dnats", errors),
            Snats = BindList<SnatConfigDocument>(section, "Snats", errors),
            Hairpins = BindList<HairpinConfigDocument>(section, "Hairpins", errors),
        };
        if (errors.Count > 0)
        {
            throw new NatMapStateException(errors);
        }

        return document.ToState();
    }

    private static List<T> BindList<T>(IConfiguration section, string key, List<NatMapStateError> errors)
        where T : class, new()
    {
        var items = new List<T>();
        var jsonName = char.ToLowerInvariant(key[0]) + key[1..];
        foreach (var element in section.GetSection(key).GetChildren())
        {
            var path = $"$.{jsonName}[{element.Key}]";
            if (!int.TryParse(element.Key, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out _))
            {
                errors.Add(new NatMapStateError(path, $"'{key}' must be a list; '{element.Key}' is not an index."));
                continue;
            }

            if (!element.GetChildren().Any())
            {
                errors.Add(new NatMapStateError(path, "Expected an object with the fields of the entry."));
                continue;
            }

            try
            {
                items.Add(element.Get<T>(static o => o.ErrorOnUnknownConfiguration = true) ?? new T());
            }
            catch (InvalidOperationException exception)
            {
                errors.Add(new NatMapStateError(path, exception.Message));
            }
        }

        return items;
    }
}
