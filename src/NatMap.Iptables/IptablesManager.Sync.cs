using System.Net;
using System.Net.Sockets;
using NatMap.Iptables.Internal;
using NatMap.Iptables.Rules;

namespace NatMap.Iptables;

public sealed partial class IptablesManager
{
    /// <inheritdoc/>
    public async Task SyncAsync(NatMapState desired, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(desired);
        var staticRules = StaticRules(desired); // validates every object before any command runs
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        var journal = new UndoJournal(this, "Sync");
        try
        {
            var plan = new List<Change>();
            var turnOnRouteLocalnet = await RouteLocalnetNeededAsync(cancellationToken).ConfigureAwait(false);
            foreach (var family in Families)
            {
                var listings = await ReadAsync(family, SetupTables(family), cancellationToken).ConfigureAwait(false);
                var maps = desired.DockerMaps.Where(m => m.HostEndpoint.AddressFamily == family).ToList();
                var wanted = staticRules.Where(r => r.Family == family).ToList();
                if (maps.Count > 0)
                {
                    var networks = await OnLinkNetworksAsync(family, cancellationToken).ConfigureAwait(false);
                    wanted.AddRange(maps.SelectMany(m => RuleBuilder.BuildDockerMap(m, RouteListing.Longest(networks, m.ContainerEndpoint.Address))));
                }

                plan.AddRange(SetupChanges(family, listings, turnOnRouteLocalnet));
                plan.AddRange(ObjectChanges(family, listings, wanted));
            }

            AddRouteLocalnet(plan, turnOnRouteLocalnet);
            await ApplyAsync(journal, plan, cancellationToken).ConfigureAwait(false);
            Log.OperationDone(_logger, "Sync", journal.Commands);
        }
        catch (Exception exception)
        {
            await journal.RollBackAsync(exception).ConfigureAwait(false);
            throw;
        }
        finally
        {
            _ = _gate.Release();
        }
    }

    /// <summary>The rules of every object but the Docker mappings, whose rules depend on the routes; validates all.</summary>
    private List<IptablesRule> StaticRules(NatMapState desired)
    {
        ArgumentNullException.ThrowIfNull(desired.DockerMaps, nameof(NatMapState.DockerMaps));
        ArgumentNullException.ThrowIfNull(desired.Dnats, nameof(NatMapState.Dnats));
        ArgumentNullException.ThrowIfNull(desired.Snats, nameof(NatMapState.Snats));
        ArgumentNullException.ThrowIfNull(desired.Hairpins, nameof(NatMapState.Hairpins));
        var rules = new List<IptablesRule>();
        foreach (var map in desired.DockerMaps)
        {
            EnsureFamilyEnabled(RuleBuilder.BuildDockerMap(NotNull(map, nameof(NatMapState.DockerMaps))));
        }

        foreach (var config in desired.Dnats)
        {
            rules.AddRange(RuleBuilder.BuildDnat(NotNull(config, nameof(NatMapState.Dnats))));
        }

        foreach (var config in desired.Snats)
        {
            rules.AddRange(RuleBuilder.BuildSnat(NotNull(config, nameof(NatMapState.Snats))));
        }

        foreach (var config in desired.Hairpins)
        {
            rules.AddRange(RuleBuilder.BuildHairpin(NotNull(config, nameof(NatMapState.Hairpins))));
        }

        EnsureFamilyEnabled(rules);
        return rules;
    }

    private static T NotNull<T>(T? item, string paramName)
        where T : class =>
        item ?? throw new ArgumentException("The list holds a null entry.", paramName);

    /// <summary>
    /// What turns the owned object rules of one family into exactly <paramref name="wanted"/>: deletes of every owned
    /// rule (by comment) that no wanted rule matches, then adds of the wanted rules that are missing. Setup's own rules
    /// are left to <see cref="SetupChanges"/>; a rule present twice loses the extra copy.
    /// </summary>
    private List<Change> ObjectChanges(AddressFamily family, Dictionary<string, ChainListing> listings, List<IptablesRule> wanted)
    {
        var wantedKeys = new HashSet<string>(StringComparer.Ordinal);
        var adds = new List<Change>();
        foreach (var rule in wanted)
        {
            if (wantedKeys.Add(Key(rule.Table, rule.Chain, rule.Specification))
                && !listings[rule.Table].Contains(rule.Chain, rule.Specification))
            {
                adds.Add(RuleChange.Add(rule));
            }
        }

        var deletes = new List<Change>();
        var kept = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (table, listing) in listings)
        {
            foreach (var rule in listing.Rules)
            {
                if (!IsObjectComment(rule.Comment))
                {
                    continue;
                }

                var key = Key(table, rule.Chain, rule.Specification);
                if (!wantedKeys.Contains(key) || !kept.Add(key))
                {
                    deletes.Add(RuleChange.Delete(family, table, rule.Chain, rule.Specification));
                }
            }
        }

        return [.. deletes, .. adds];
    }

    private static string Key(string table, string chain, IReadOnlyList<string> specification) =>
        table + "\n" + ChainListing.Key(chain, specification);

    /// <summary>Whether a comment marks a rule of an object the library owns (not one of Setup's rules).</summary>
    private bool IsObjectComment(string? comment) =>
        comment is not null
        && comment.StartsWith(_options.CommentPrefix + ":", StringComparison.Ordinal)
        && comment != RuleBuilder.SetupComment
        && !comment.StartsWith(RuleBuilder.SetupComment + ":", StringComparison.Ordinal);

    /// <summary>The family's on-link networks, read once for all the mappings of a sync; none when the lookup fails.</summary>
    private async Task<IReadOnlyList<IPNetwork>> OnLinkNetworksAsync(AddressFamily family, CancellationToken cancellationToken)
    {
        var command = _commands.Routes(family);
        try
        {
            var result = await RunAsync(command, cancellationToken).ConfigureAwait(false);
            return result.IsSuccess ? RouteListing.OnLinkNetworks(result.StandardOutput, family) : [];
        }
#pragma warning disable CA1031 // As for one mapping: without the routes the hairpin rule covers the container itself.
        catch (Exception exception) when (exception is not OperationCanceledException)
#pragma warning restore CA1031
        {
            Log.RouteLookupFailed(_logger, command, exception.Message);
            return [];
        }
    }
}
