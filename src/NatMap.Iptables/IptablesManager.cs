using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using NatMap.Iptables.Internal;
using NatMap.Iptables.Rules;

namespace NatMap.Iptables;

/// <summary>
/// The default <see cref="IIptablesManager"/>. It builds rules with <see cref="NatRuleBuilder"/>, applies each
/// operation's changes through an <see cref="ICommandRunner"/> (one <c>iptables-restore --noflush</c> per address
/// family by default, see <see cref="NatMapOptions.Transport"/>), and undoes what it applied when a command fails or
/// the operation is cancelled.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "The SemaphoreSlim never creates a wait handle, so it holds nothing to dispose.")]
public sealed partial class IptablesManager : IIptablesManager
{
    private readonly ICommandRunner _runner;
    private readonly NatMapOptions _options;
    private readonly HostCommands _commands;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly Telemetry _telemetry;
    private readonly string? _lockDirectory;

    /// <summary>Initializes a new instance.</summary>
    /// <param name="runner">Runs the commands.</param>
    /// <param name="options">The settings; copied, so later changes have no effect. <see langword="null"/> for the defaults.</param>
    /// <param name="logger">Receives each command at Debug level; <see langword="null"/> for none.</param>
    /// <param name="meterFactory">
    /// Creates the <see cref="NatMapTelemetry.Name"/> meter (as a DI container's does); <see langword="null"/> for a
    /// meter shared by every manager of the process.
    /// </param>
    /// <exception cref="ArgumentNullException"><paramref name="runner"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">An option is invalid; the exception names it.</exception>
    public IptablesManager(ICommandRunner runner, NatMapOptions? options = null, ILogger<IptablesManager>? logger = null, System.Diagnostics.Metrics.IMeterFactory? meterFactory = null)
        : this(runner, options, logger, meterFactory, runner is CliWrapCommandRunner ? OperationLock.DefaultDirectory : null)
    {
    }

    /// <summary>
    /// Initializes a new instance whose operations take the cross-process lock file in <paramref name="lockDirectory"/>
    /// (<see langword="null"/> for none). The public constructor takes it in <see cref="OperationLock.DefaultDirectory"/>
    /// when the commands run on this machine through <see cref="CliWrapCommandRunner"/>, and not for another runner,
    /// which may run them elsewhere, or nowhere (the fakes).
    /// </summary>
    internal IptablesManager(ICommandRunner runner, NatMapOptions? options, ILogger<IptablesManager>? logger, System.Diagnostics.Metrics.IMeterFactory? meterFactory, string? lockDirectory)
    {
        ArgumentNullException.ThrowIfNull(runner);
        _telemetry = new Telemetry(meterFactory);
        options ??= new NatMapOptions();
        NatMapOptionsValidator.ThrowIfInvalid(options);
        _runner = runner;
        _options = new NatMapOptions
        {
            ChainName = options.ChainName,
            CommentPrefix = options.CommentPrefix,
            IptablesPath = options.IptablesPath,
            Ip6tablesPath = options.Ip6tablesPath,
            EnableIpv6 = options.EnableIpv6,
            XtablesLockWait = options.XtablesLockWait,
            NetworkNamespace = options.NetworkNamespace,
            IpPath = options.IpPath,
            CommandTimeout = options.CommandTimeout,
            ManageHostSettings = options.ManageHostSettings,
            SysctlPath = options.SysctlPath,
            Transport = options.Transport,
            ConntrackReset = options.ConntrackReset,
            ConntrackPath = options.ConntrackPath,
        };
        _commands = new HostCommands(_options);
        RuleBuilder = new NatRuleBuilder(_options.ChainName, _options.CommentPrefix);
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        _lockDirectory = lockDirectory;
    }

    /// <summary>Gets the rule builder this manager uses, configured with its chain name and comment prefix.</summary>
    public NatRuleBuilder RuleBuilder { get; }

    /// <inheritdoc/>
    public async Task InstallDockerMapAsync(DockerPortMap map, CancellationToken cancellationToken = default)
    {
        var rules = RuleBuilder.BuildDockerMap(map); // validates before any command runs
        EnsureFamilyEnabled(map.IsIPv6);
        if (!_options.ManageHostSettings && NatRuleBuilder.AdmitsIpv4Loopback(map.HostEndpoint))
        {
            // Preflight: without route_localnet the loopback part of the mapping would silently not work.
            var value = await ReadSysctlAsync(NatMapDefaults.RouteLocalnetSetting, cancellationToken).ConfigureAwait(false);
            if (value == "0")
            {
                throw new InvalidOperationException(
                    $"The mapping {map.HostEndpoint} -> {map.ContainerEndpoint} admits 127.0.0.1, which needs {NatMapDefaults.RouteLocalnetSetting}=1, and it is 0. " +
                    $"NatMapOptions.ManageHostSettings is false, so the library leaves the host alone: run 'sysctl -w {NatMapDefaults.RouteLocalnetSetting}=1' " +
                    "(after SetupAsync has added the loopback guard), enable ManageHostSettings, or bind the mapping to a non-loopback address.");
            }
        }

        // The route lookup runs while the operation reads the tables; the hairpin rule waits for it. Without the
        // routes, a hairpin rule already installed for the container's whole network stays as it is (review item 7):
        // narrowing it to the container would break sibling-to-sibling hairpin for a lookup's hiccup.
        var lookup = FindContainerNetworkAsync(map.ContainerEndpoint.Address, cancellationToken);
        await InstallAsync("InstallDockerMap", rules, RuleBuilder.DockerMapComment(map), cancellationToken, async nat =>
        {
            var (network, failed) = await lookup.ConfigureAwait(false);
            return RuleBuilder.BuildDockerMap(map, failed ? InstalledContainerNetwork(nat, map) : network);
        }).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public Task RemoveDockerMapAsync(DockerPortMap map, CancellationToken cancellationToken = default)
    {
        var rules = RuleBuilder.BuildDockerMap(map); // validates before any command runs
        EnsureFamilyEnabled(map.IsIPv6);
        return RemoveAsync("RemoveDockerMap", rules, RuleBuilder.DockerMapComment(map), cancellationToken);
    }

    /// <inheritdoc/>
    public Task InstallDnatAsync(DnatConfig config, CancellationToken cancellationToken = default) =>
        InstallAsync("InstallDnat", RuleBuilder.BuildDnat(config), RuleBuilder.DnatComment(config), cancellationToken);

    /// <inheritdoc/>
    public Task RemoveDnatAsync(DnatConfig config, CancellationToken cancellationToken = default) =>
        RemoveAsync("RemoveDnat", RuleBuilder.BuildDnat(config), RuleBuilder.DnatComment(config), cancellationToken);

    /// <inheritdoc/>
    public Task InstallSnatAsync(SnatConfig config, CancellationToken cancellationToken = default) =>
        InstallAsync("InstallSnat", RuleBuilder.BuildSnat(config), RuleBuilder.SnatComment(config), cancellationToken);

    /// <inheritdoc/>
    public Task RemoveSnatAsync(SnatConfig config, CancellationToken cancellationToken = default) =>
        RemoveAsync("RemoveSnat", RuleBuilder.BuildSnat(config), RuleBuilder.SnatComment(config), cancellationToken);

    /// <inheritdoc/>
    public Task InstallHairpinAsync(HairpinConfig config, CancellationToken cancellationToken = default) =>
        InstallAsync("InstallHairpin", RuleBuilder.BuildHairpin(config), RuleBuilder.HairpinComment(config), cancellationToken);

    /// <inheritdoc/>
    public Task RemoveHairpinAsync(HairpinConfig config, CancellationToken cancellationToken = default) =>
        RemoveAsync("RemoveHairpin", RuleBuilder.BuildHairpin(config), RuleBuilder.HairpinComment(config), cancellationToken);

    private IEnumerable<AddressFamily> Families =>
        _options.EnableIpv6 ? [AddressFamily.InterNetwork, AddressFamily.InterNetworkV6] : [AddressFamily.InterNetwork];

    /// <summary>
    /// Installs one object, whose rules all carry <paramref name="comment"/>: it reads the tables the rules go to, keeping
    /// only the lines that carry the comment, and makes the object's rules exactly <paramref name="rules"/>, one copy
    /// each. Rules already in place are left alone (so an install is idempotent); a second copy of a rule, or a rule
    /// of the object that it no longer builds, is deleted in the same batch. Within the operation lock no other
    /// process of the library can write between the read and the write.
    /// </summary>
    /// <param name="operation">The operation's name.</param>
    /// <param name="rules">The object's rules.</param>
    /// <param name="comment">The comment every rule of the object carries.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <param name="fromInstalled">
    /// When set, gives the family's rules after the read (they may depend on the object's rules in the nat table as
    /// listed); <paramref name="rules"/> then only name the families and tables.
    /// </param>
    private async Task InstallAsync(string operation, IReadOnlyList<IptablesRule> rules, string comment, CancellationToken cancellationToken,
        Func<TableListing, Task<IReadOnlyList<IptablesRule>>>? fromInstalled = null)
    {
        EnsureFamilyEnabled(rules);
        await RunOperationAsync(operation, async journal =>
        {
            var changes = new List<Change>();
            foreach (var family in rules.GroupBy(static r => r.Family))
            {
                var tables = family.Select(static r => r.Table).Distinct().ToArray();
                var listings = await ReadObjectAsync(family.Key, tables, comment, cancellationToken).ConfigureAwait(false);
                IReadOnlyList<IptablesRule> wanted = [.. family.Distinct()];
                if (fromInstalled is not null)
                {
                    var built = await fromInstalled(listings.GetValueOrDefault("nat") ?? TableListing.Empty).ConfigureAwait(false);
                    wanted = [.. built.Where(r => r.Family == family.Key).Distinct()];
                }

                RequireSetup(operation, family.Key, wanted, listings);
                changes.AddRange(ObjectChanges(family.Key, listings, comment, wanted));
            }

            await ApplyAsync(journal, changes, cancellationToken).ConfigureAwait(false);
            await ResetFlowsAsync(journal, changes.OfType<RuleChange>(), cancellationToken).ConfigureAwait(false);
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Removes an object: reads the tables its rules go to, keeping only the lines that carry its comment, and deletes
    /// every rule that carries it, every copy of each included (review item 3: deleting the rules as built left a second
    /// copy in place, and the port published). It needs neither the routes nor the rules as they were built: a hairpin
    /// rule installed for another container network carries the same comment.
    /// </summary>
    private async Task RemoveAsync(string operation, IReadOnlyList<IptablesRule> rules, string comment, CancellationToken cancellationToken)
    {
        EnsureFamilyEnabled(rules);
        await RunOperationAsync(operation, async journal =>
        {
            var changes = new List<Change>();
            foreach (var family in rules.GroupBy(static r => r.Family))
            {
                var tables = family.Select(static r => r.Table).Distinct().ToArray();
                var listings = await ReadObjectAsync(family.Key, tables, comment, cancellationToken).ConfigureAwait(false);
                changes.AddRange(ObjectChanges(family.Key, listings, comment, []));
            }

            await ApplyAsync(journal, changes, cancellationToken).ConfigureAwait(false);

            // Whatever the tables held, the object's translation is gone now: its flows follow at once.
            await ResetFlowsAsync(journal, rules.Select(static r => RuleChange.Delete(r.Family, r.Table, r.Chain, r.Specification)), cancellationToken).ConfigureAwait(false);
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Deletes the conntrack entries of the flows whose translation <paramref name="applied"/> added or removed, so
    /// they follow the new rules at once (<see cref="NatMapOptions.ConntrackReset"/>). "0 flow entries" is no error;
    /// without the program a warning is logged and the operation stands; any other failure fails the operation, which
    /// then undoes its rule changes.
    /// </summary>
    private async Task ResetFlowsAsync(UndoJournal journal, IEnumerable<RuleChange> applied, CancellationToken cancellationToken)
    {
        foreach (var reset in FlowReset.For(applied, _options.ConntrackReset))
        {
            var command = _commands.DeleteFlows(reset);
            CommandResult result;
            try
            {
                result = await journal.RunAsync(command, cancellationToken).ConfigureAwait(false);
            }
            catch (System.ComponentModel.Win32Exception exception)
            {
                Log.ConntrackUnavailable(_logger, command, exception.Message);
                return;
            }

            if (result.IsSuccess || (result.ExitCode == 1 && result.StandardError.Contains("flow entries have been deleted", StringComparison.Ordinal)))
            {
                continue;
            }

            // ip netns exec reports a program it cannot start with exit code 1 and "exec of "conntrack" failed", a shell with 127.
            if (result.ExitCode == 127
                || (result.StandardError.Contains("exec of", StringComparison.Ordinal) && result.StandardError.Contains("failed", StringComparison.Ordinal)))
            {
                Log.ConntrackUnavailable(_logger, command, result.StandardError.Trim());
                return;
            }

            throw new IptablesCommandException(command, result);
        }
    }

    /// <summary>
    /// What makes the rules that carry <paramref name="comment"/> exactly <paramref name="wanted"/>: deletes of every
    /// listed copy beyond the first of a wanted rule and of every listed rule no wanted rule is, then adds of the wanted
    /// rules not listed.
    /// </summary>
    private static List<Change> ObjectChanges(AddressFamily family, Dictionary<string, TableListing> listings, string comment, IReadOnlyList<IptablesRule> wanted)
    {
        var changes = new List<Change>();
        var adds = new List<Change>();
        var taken = new HashSet<RuleKey>();
        var wantedKeys = wanted.Select(static r => new RuleKey(r.Table, r.Chain, r.Specification)).ToHashSet();
        foreach (var (table, listing) in listings)
        {
            var extra = listing.Rules.Where(r =>
                r.Comment == comment
                && !(wantedKeys.Contains(new RuleKey(table, r.Chain, r.Specification)) && taken.Add(new RuleKey(table, r.Chain, r.Specification))));
            changes.AddRange(listing.DeletesInOrder(family, table, [.. extra], tolerateMissing: true));
        }

        foreach (var rule in wanted)
        {
            if (!taken.Contains(new RuleKey(rule.Table, rule.Chain, rule.Specification)))
            {
                adds.Add(RuleChange.Add(rule));
            }
        }

        return [.. changes, .. adds];
    }

    /// <summary>
    /// Review item 11: an object whose rules go to the library's chain needs Setup. When the listing shows the table
    /// but not the chain, the install would fail with iptables' own "No chain/target/match by that name" (or, per
    /// rule, half done), so it stops before running anything and says what to do.
    /// </summary>
    /// <exception cref="InvalidOperationException">The library's chain is missing.</exception>
    private void RequireSetup(string operation, AddressFamily family, IReadOnlyList<IptablesRule> rules, Dictionary<string, TableListing> listings)
    {
        if (listings.Values.All(static l => l.Chains.Count == 0))
        {
            return; // nothing listed at all: a runner that runs nothing (a dry run, an unscripted fake) tells nothing
        }

        foreach (var rule in rules)
        {
            if (rule.Chain == _options.ChainName && !listings[rule.Table].Chains.Contains(rule.Chain))
            {
                throw new InvalidOperationException(
                    $"{operation} needs the chain {rule.Chain} in the {rule.Table} table ({_commands.Program(family)}), and it is not there: " +
                    $"call {nameof(SetupAsync)} first (natmap setup --apply), or {nameof(SyncAsync)}, which sets up what is missing. Nothing was changed.");
            }
        }
    }

    /// <summary>The nat POSTROUTING hairpin rule of a mapping as installed: its source network, when that holds the container.</summary>
    private IPNetwork? InstalledContainerNetwork(TableListing nat, DockerPortMap map)
    {
        var comment = RuleBuilder.DockerMapComment(map);
        foreach (var rule in nat.InChain("POSTROUTING"))
        {
            if (rule.Comment == comment && rule.JumpTarget == "MASQUERADE"
                && RuleSpecification.ValueOf(rule.Specification, "-s") is { } source
                && IPNetwork.TryParse(source, out var network)
                && network.PrefixLength > 0
                && network.Contains(map.ContainerEndpoint.Address))
            {
                return network;
            }
        }

        return null;
    }

    private void EnsureFamilyEnabled(IReadOnlyList<IptablesRule> rules) =>
        EnsureFamilyEnabled(rules.Any(static r => r.Family == AddressFamily.InterNetworkV6));

    private void EnsureFamilyEnabled(bool ipv6)
    {
        if (ipv6 && !_options.EnableIpv6)
        {
            throw new InvalidOperationException(
                "The object is IPv6, but IPv6 is disabled (NatMapOptions.EnableIpv6 is false).");
        }
    }

    /// <summary>
    /// The container's on-link network, from the routing table (<c>ip route show match</c>): the longest route that
    /// contains the address and has no gateway. <see langword="null"/> when there is none, or the lookup fails, which
    /// <c>Failed</c> tells apart.
    /// </summary>
    private async Task<(IPNetwork? Network, bool Failed)> FindContainerNetworkAsync(IPAddress container, CancellationToken cancellationToken)
    {
        var command = _commands.RoutesMatching(container);
        try
        {
            var result = await RunAsync(command, cancellationToken).ConfigureAwait(false);
            if (result.IsSuccess)
            {
                return (RouteListing.OnLinkNetwork(result.StandardOutput, container), false);
            }

            Log.RouteLookupFailed(_logger, command, $"exit code {result.ExitCode}");
            return (null, true);
        }
#pragma warning disable CA1031 // The lookup only widens the hairpin rule; without it (no iproute2) the mapping still works.
        catch (Exception exception) when (exception is not OperationCanceledException)
#pragma warning restore CA1031
        {
            Log.RouteLookupFailed(_logger, command, exception.Message);
            return (null, true);
        }
    }

    /// <summary>Takes the cross-process operation lock, if this manager uses one (see <see cref="OperationLock"/>).</summary>
    private async Task<FileStream?> AcquireOperationLockAsync(CancellationToken cancellationToken)
    {
        if (_lockDirectory is null)
        {
            return null;
        }

        // Resolved at each operation: a namespace deleted and made again under its name is another namespace.
        var lockFile = OperationLock.PathFor(_lockDirectory, _options.NetworkNamespace);
        var taken = await OperationLock.AcquireAsync(lockFile, _options.CommandTimeout, cancellationToken).ConfigureAwait(false);
        if (taken is null)
        {
            Log.LockUnavailable(_logger, lockFile);
        }

        return taken;
    }

    private async Task<CommandResult> RunAsync(CommandSpec command, CancellationToken cancellationToken)
    {
        Log.Running(_logger, command);
        if (command.StandardInput is { } input)
        {
            Log.Input(_logger, command, input);
        }

        using var activity = Telemetry.StartCommand(command);

        // The manager bounds every command itself, whichever runner it was given, rollback steps included: a hung
        // program must not hold the operation gate for ever.
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_options.CommandTimeout);
        CommandResult result;
        try
        {
            result = await _runner.RunAsync(command, timeout.Token).WaitAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException exception) when (!cancellationToken.IsCancellationRequested && timeout.IsCancellationRequested)
        {
            _telemetry.CommandDone(command, -1, activity);
            throw new TimeoutException(
                $"The command ran longer than NatMapOptions.CommandTimeout ({_options.CommandTimeout}) and was killed.{Environment.NewLine}Command: {command}",
                exception);
        }
        catch
        {
            _telemetry.CommandDone(command, -1, activity);
            throw;
        }

        _telemetry.CommandDone(command, result.ExitCode, activity);
        Log.Exited(_logger, command, result.ExitCode);
        return result;
    }

    private async Task<CommandResult> RunCheckedAsync(CommandSpec command, CancellationToken cancellationToken)
    {
        var result = await RunAsync(command, cancellationToken).ConfigureAwait(false);
        return result.IsSuccess ? result : throw new IptablesCommandException(command, result);
    }

    /// <summary>
    /// Whether a failed delete only says the rule or chain is not there. Both backends of iptables 1.8 exit with 1 and
    /// say "Bad rule (does a matching rule exist in that chain?)" or "No chain/target/match by that name".
    /// </summary>
    private static bool IsMissing(CommandResult result) =>
        result.ExitCode == 1
        && (result.StandardError.Contains("does a matching rule exist", StringComparison.Ordinal)
            || result.StandardError.Contains("No chain/target/match by that name", StringComparison.Ordinal));
}
