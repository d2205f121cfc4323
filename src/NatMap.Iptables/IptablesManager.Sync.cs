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
            // The reads are independent, so they run side by side: a sync's fixed cost is one read's time, not the sum.
            var families = Families.ToArray();
            var turnOn = RouteLocalnetNeededAsync(cancellationToken);
            var reads = new List<Task<Dictionary<string, ChainListing>>>();
            var routes = new List<Task<IReadOnlyList<IPNetwork>>>();
            foreach (var family in families)
            {
                reads.Add(ReadAsync(family, SetupTables(family), cancellationToken));
                routes.Add(desired.DockerMaps.Any(m => m.HostEndpoint.AddressFamily == family)
                    ? OnLinkNetworksAsync(family, cancellationToken)
                    : Task.FromResult<IReadOnlyList<IPNetwork>>([]));
            }

            await Task.WhenAll([turnOn, .. reads, .. routes]).ConfigureAwait(false);
            var turnOnRouteLocalnet = await turnOn.ConfigureAwait(false);
            var plan = new List<Change>();
            for (var i = 0; i < families.Length; i++)
            {
                var family = families[i];
                var listings = await reads[i].ConfigureAwait(false);
                var networks = await routes[i].ConfigureAwait(false);
                var wanted = staticRules.Where(r => r.Family == family).ToList();
                wanted.AddRange(desired.DockerMaps
                    .Where(m => m.HostEndpoint.AddressFamily == family)
                    .SelectMany(m => RuleBuilder.BuildDockerMap(m, RouteListing.Longest(networks, m.ContainerEndpoint.Address))));
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
