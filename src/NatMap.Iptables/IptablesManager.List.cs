using NatMap.Iptables.Internal;

namespace NatMap.Iptables;

public sealed partial class IptablesManager
{
    /// <inheritdoc/>
    public async Task<NatMapState> ListAsync(CancellationToken cancellationToken = default)
    {
        var reader = new StateReader(RuleBuilder);
        foreach (var family in Families)
        {
            var listings = await ReadAsync(family, ["nat"], cancellationToken).ConfigureAwait(false);
            reader.Read(listings["nat"], family);
        }

        return reader.State;
    }
}
