using System.Diagnostics.CodeAnalysis;
using NatMap.Iptables.Internal;

namespace NatMap.Iptables;

/// <summary>
/// The desired state as text: the shape of the JSON document and of a configuration section, with every address,
/// endpoint, network and port set as its string form. <see cref="ToState"/> validates it into a <see cref="NatMapState"/>.
/// </summary>
/// <remarks>
/// <para>This is the type to bind from <c>IConfiguration</c>, so <c>appsettings.json</c>, environment variables
/// (<c>NatMap__Dnats__0__Ports=80</c>) and any other provider carry the same model as the JSON file.
/// <see cref="NatMapStateJson"/> reads and writes the JSON form. Bind it strictly: a plain
/// <c>section.Get&lt;NatMapStateDocument&gt;()</c> silently drops a misspelt key (a misspelt <c>lanCidr</c> would widen a
/// hairpin to every source) and an unconvertible value. NatMap.Iptables.Hosting's <c>ConfigurationStateSource</c>
/// binds with <c>ErrorOnUnknownConfiguration</c> and rejects both; bind the same way if you bind it yourself.</para>
/// <para>Every list and every optional field may be left out. A document is accepted or rejected as a whole: one bad
/// value rejects it, and every error is reported with its JSON path.</para>
/// </remarks>
public sealed class NatMapStateDocument
{
    /// <summary>Gets or sets the Docker-style port mappings.</summary>
    /// <value>The default is empty; <see langword="null"/> also means empty.</value>
    [SuppressMessage("Usage", "CA2227:Collection properties should be read only", Justification = "Configuration binding and JSON set whole lists.")]
    public IList<DockerPortMapDocument>? DockerMaps { get; set; } = [];

    /// <summary>Gets or sets the static DNATs.</summary>
    /// <value>The default is empty; <see langword="null"/> also means empty.</value>
    [SuppressMessage("Usage", "CA2227:Collection properties should be read only", Justification = "Configuration binding and JSON set whole lists.")]
    public IList<DnatConfigDocument>? Dnats { get; set; } = [];

    /// <summary>Gets or sets the static SNATs.</summary>
    /// <value>The default is empty; <see langword="null"/> also means empty.</value>
    [SuppressMessage("Usage", "CA2227:Collection properties should be read only", Justification = "Configuration binding and JSON set whole lists.")]
    public IList<SnatConfigDocument>? Snats { get; set; } = [];

    /// <summary>Gets or sets the hairpin NATs.</summary>
    /// <value>The default is empty; <see langword="null"/> also means empty.</value>
    [SuppressMessage("Usage", "CA2227:Collection properties should be read only", Justification = "Configuration binding and JSON set whole lists.")]
    public IList<HairpinConfigDocument>? Hairpins { get; set; } = [];

    /// <summary>Writes a state as a document: every value in its string form, optional fields only when set.</summary>
    /// <param name="state">The state to write.</param>
    /// <returns>A document that <see cref="ToState"/> turns back into an equal state.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="state"/> or one of its lists is <see langword="null"/>.</exception>
    public static NatMapStateDocument FromState(NatMapState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        return StateText.ToDocument(state);
    }

    /// <summary>Validates the document into a state.</summary>
    /// <returns>The state the document describes.</returns>
    /// <exception cref="NatMapStateException">A value is missing or not valid; <see cref="NatMapStateException.Errors"/> lists every one.</exception>
    public NatMapState ToState() => TryToState(out var state, out var errors) ? state : throw new NatMapStateException(errors);

    /// <summary>Validates the document into a state; never throws for a bad value.</summary>
    /// <param name="state">The state, or <see langword="null"/> when the document is not valid.</param>
    /// <param name="errors">Every error found, with its JSON path; empty when the document is valid.</param>
    /// <returns><see langword="true"/> when the document is valid.</returns>
    public bool TryToState([NotNullWhen(true)] out NatMapState? state, out IReadOnlyList<NatMapStateError> errors)
    {
        var found = new List<NatMapStateError>();
        var result = StateText.ToState(this, found);
        errors = found;
        state = found.Count == 0 ? result : null;
        return state is not null;
    }
}
