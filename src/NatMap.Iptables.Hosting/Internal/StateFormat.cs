using Microsoft.Extensions.Configuration;

namespace NatMap.Iptables.Hosting.Internal;

/// <summary>The core's desired-state format, as the sources use it.</summary>
internal static class StateFormat
{
    /// <summary>Parses a JSON document.</summary>
    /// <exception cref="NatMapStateException">The document is not valid.</exception>
    public static NatMapState Parse(string json) => NatMapStateJson.Parse(json);

    /// <summary>Binds a configuration section; a value that does not bind rejects the state, as an invalid one does.</summary>
    /// <exception cref="NatMapStateException">The section does not bind, or a value is not valid.</exception>
    public static NatMapState Bind(IConfiguration section)
    {
        NatMapStateDocument? document;
        try
        {
            document = section.Get<NatMapStateDocument>();
        }
        catch (InvalidOperationException exception)
        {
            var path = section is IConfigurationSection named ? named.Path : "";
            throw new NatMapStateException([new NatMapStateError(path.Length == 0 ? "$" : path, exception.Message)]);
        }

        return (document ?? new NatMapStateDocument()).ToState();
    }
}
