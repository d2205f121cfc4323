namespace NatMap.Iptables;

/// <summary>One reason a desired-state document was rejected: where, and what is wrong there.</summary>
/// <param name="Path">
/// The JSON path of the offending value, such as <c>$.dnats[0].ports</c>, using the document's camelCase property
/// names. In configuration the same value sits under the key <c>Dnats:0:Ports</c> of the bound section.
/// </param>
/// <param name="Message">The field's own validation message.</param>
public sealed record NatMapStateError(string Path, string Message)
{
    /// <summary>Returns <c>path: message</c>.</summary>
    /// <returns>The path and the message on one line.</returns>
    public override string ToString() => $"{Path}: {Message}";
}
