using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Primitives;

namespace NatMap.Iptables.Hosting;

/// <summary>
/// The desired state from a section of <see cref="IConfiguration"/>: <c>appsettings.json</c>, environment variables
/// (<c>NatMap__State__Dnats__0__Ports=80</c>), or any other provider, in the shape of <see cref="NatMapStateDocument"/>.
/// Follows the configuration's reloads (for example <c>reloadOnChange</c> of a JSON file).
/// </summary>
/// <remarks>
/// An absent or empty section is the empty state: the host is synced to no mappings. A value that does not bind (a
/// word where a number belongs) rejects the state as a whole, as an invalid value does.
/// </remarks>
public sealed class ConfigurationStateSource : INatMapStateSource
{
    private readonly IConfiguration _section;

    /// <summary>Initializes a new instance.</summary>
    /// <param name="section">The section that holds the state, such as <c>configuration.GetSection("NatMap:State")</c>.</param>
    /// <exception cref="ArgumentNullException"><paramref name="section"/> is <see langword="null"/>.</exception>
    public ConfigurationStateSource(IConfiguration section)
    {
        ArgumentNullException.ThrowIfNull(section);
        _section = section;
        Description = section is IConfigurationSection named ? $"configuration section {named.Path}" : "configuration";
    }

    /// <inheritdoc/>
    public string Description { get; }

    /// <inheritdoc/>
    public ValueTask<NatMapState> ReadAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return ValueTask.FromResult(Internal.StateFormat.Bind(_section));
    }

    /// <inheritdoc/>
    public IChangeToken GetReloadToken() => _section.GetReloadToken();
}
