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
            var result = await RunCheckedAsync(_commands.Save(family, "nat"), cancellationToken).ConfigureAwait(false);
            if (SaveListing.Parse(result.StandardOutput).TryGetValue("nat", out var nat))
            {
                reader.Read(nat, family);
            }
        }

        return reader.State;
    }
}
