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
    private readonly IptablesCommandFactory _commands;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly Telemetry _telemetry;

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
        _commands = new IptablesCommandFactory(_options);
        RuleBuilder = new NatRuleBuilder(_options.ChainName, _options.CommentPrefix);
        _logger = (ILogger?)logger ?? NullLogger.Instance;
    }

    /// <summary>Gets the rule builder this manager uses, configured with its chain name and comment prefix.</summary>
    public NatRuleBuilder RuleBuilder { get; }

    /// <inheritdoc/>
    public async Task InstallDockerMapAsync(DockerPortMap map, CancellationToken cancellationToken = default)
    {
        _ = RuleBuilder.BuildDockerMap(map); // validates before any command runs
        EnsureFamilyEnabled(map.IsIPv6);
        var rules = RuleBuilder.BuildDockerMap(map, await FindContainerNetworkAsync(map.ContainerEndpoint.Address, cancellationToken).ConfigureAwait(false));
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

        await InstallAsync("InstallDockerMap", rules, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public async Task RemoveDockerMapAsync(DockerPortMap map, CancellationToken cancellationToken = default)
    {
        var rules = RuleBuilder.BuildDockerMap(map); // validates before any command runs
        EnsureFamilyEnabled(map.IsIPv6);
        if (_options.Transport == IptablesTransport.Batch)
        {
            // The batch deletes the rules as built, so it needs the hairpin rule's source network as installed.
            rules = RuleBuilder.BuildDockerMap(map, await FindContainerNetworkAsync(map.ContainerEndpoint.Address, cancellationToken).ConfigureAwait(false));
        }

        await RemoveAsync("RemoveDockerMap", rules, RuleBuilder.DockerMapComment(map), cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public Task InstallDnatAsync(DnatConfig config, CancellationToken cancellationToken = default) =>
        InstallAsync("InstallDnat", RuleBuilder.BuildDnat(config), cancellationToken);

    /// <inheritdoc/>
    public Task RemoveDnatAsync(DnatConfig config, CancellationToken cancellationToken = default) =>
        RemoveAsync("RemoveDnat", RuleBuilder.BuildDnat(config), RuleBuilder.DnatComment(config), cancellationToken);

    /// <inheritdoc/>
    public Task InstallSnatAsync(SnatConfig config, CancellationToken cancellationToken = default) =>
        InstallAsync("InstallSnat", RuleBuilder.BuildSnat(config), cancellationToken);

    /// <inheritdoc/>
    public Task RemoveSnatAsync(SnatConfig config, CancellationToken cancellationToken = default) =>
        RemoveAsync("RemoveSnat", RuleBuilder.BuildSnat(config), RuleBuilder.SnatComment(config), cancellationToken);

    /// <inheritdoc/>
    public Task InstallHairpinAsync(HairpinConfig config, CancellationToken cancellationToken = default) =>
        InstallAsync("InstallHairpin", RuleBuilder.BuildHairpin(config), cancellationToken);

    /// <inheritdoc/>
    public Task RemoveHairpinAsync(HairpinConfig config, CancellationToken cancellationToken = default) =>
        RemoveAsync("RemoveHairpin", RuleBuilder.BuildHairpin(config), RuleBuilder.HairpinComment(config), cancellationToken);

    private IEnumerable<AddressFamily> Families =>
        _options.EnableIpv6 ? [AddressFamily.InterNetwork, AddressFamily.InterNetworkV6] : [AddressFamily.InterNetwork];

    private async Task InstallAsync(string operation, IReadOnlyList<IptablesRule> rules, CancellationToken cancellationToken)
    {
        EnsureFamilyEnabled(rules);
        await RunOperationAsync(operation, async journal =>
        {
            // Rules already in place are left alone, which makes every install idempotent.
            var changes = new List<Change>();
            foreach (var family in rules.GroupBy(static r => r.Family))
            {
                var listings = await ReadAsync(family.Key, [.. family.Select(static r => r.Table).Distinct()], cancellationToken).ConfigureAwait(false);
                changes.AddRange(family.Where(r => !listings[r.Table].Contains(r.Chain, r.Specification)).Distinct().Select(RuleChange.Add));
            }

            await ApplyAsync(journal, changes, cancellationToken).ConfigureAwait(false);
            await ResetFlowsAsync(journal, changes.OfType<RuleChange>(), cancellationToken).ConfigureAwait(false);
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Removes an object's rules. Batch mode deletes the rules as built in one restore per family, without reading
    /// the tables first; if that fails (a rule is already gone, so its table changed nothing), it reads the tables,
    /// journals the undo of every table the batch emptied of the object's rules (those committed before the failure),
    /// and deletes whatever still carries the object's comment. Per-rule mode always reads first and deletes those.
    /// </summary>
    private async Task RemoveAsync(string operation, IReadOnlyList<IptablesRule> rules, string comment, CancellationToken cancellationToken)
    {
        EnsureFamilyEnabled(rules);
        await RunOperationAsync(operation, async journal =>
        {
            foreach (var family in rules.GroupBy(static r => r.Family))
            {
                var tables = family.Select(static r => r.Table).Distinct().ToArray();
                Dictionary<string, ChainListing> listings;
                if (_options.Transport == IptablesTransport.Batch)
                {
                    var deletes = family.Select(static r => RuleChange.Delete(r.Family, r.Table, r.Chain, r.Specification)).ToList();
                    Exception? stopped = null;
                    try
                    {
                        if (await RunBatchAsync(journal, family.Key, deletes, cancellationToken, journalPartial: false).ConfigureAwait(false) is null)
                        {
                            continue;
                        }
                    }
                    catch (Exception exception)
                    {
                        stopped = exception; // timed out or cancelled: read back what committed, then stop
                    }

                    listings = await ReadCommittedDeletesAsync(journal, family.Key, tables, deletes, stopped, cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    listings = await ReadAsync(family.Key, tables, cancellationToken).ConfigureAwait(false);
                }

                var leftovers = tables.SelectMany(table => listings[table].DeletesInOrder(
                    family.Key,
                    table,
                    listings[table].Rules.Where(r => r.Comment == comment || family.Any(b => b.Table == table && b.Chain == r.Chain && r.SameSpecification(b.Specification))),
                    tolerateMissing: true));
                await ApplyAsync(journal, [.. leftovers], cancellationToken).ConfigureAwait(false);
            }

            // Whether the rules went in one batch or by the fallback, the object's translation is gone now.
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
    /// After a removal's batch failed or was stopped: reads the tables and journals the undo of each table whose deletes
    /// all took effect (each table commits whole, so those are the tables that committed, unless the object's rules
    /// there were gone before). When the batch was <paramref name="stopped"/>, rethrows that once journaled; if the read
    /// fails then, rollback stops at the batch.
    /// </summary>
    private async Task<Dictionary<string, ChainListing>> ReadCommittedDeletesAsync(UndoJournal journal, AddressFamily family, string[] tables, List<RuleChange> deletes, Exception? stopped, CancellationToken cancellationToken)
    {
        Dictionary<string, ChainListing> listings;
        try
        {
            listings = await ReadAsync(family, tables, stopped is null ? cancellationToken : CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception exception) when (stopped is not null)
        {
            Log.RollbackFailed(_logger, journal.Operation, _commands.Save(family), -1, exception.Message);
            journal.PushUnknown();
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(stopped);
            throw;
        }
        catch
        {
            // The read that would say which tables committed failed: rollback cannot go past the batch.
            journal.PushUnknown();
            throw;
        }

        JournalInverse(journal, family, [.. deletes.GroupBy(static d => d.Table).Where(t => t.All(d => d.IsVisibleIn(listings[d.Table]))).SelectMany(static t => t)]);
        if (stopped is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(stopped);
        }

        return listings;
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
    /// contains the address and has no gateway. <see langword="null"/> when there is none, or the lookup fails.
    /// </summary>
    private async Task<IPNetwork?> FindContainerNetworkAsync(IPAddress container, CancellationToken cancellationToken)
    {
        var command = _commands.RoutesMatching(container);
        try
        {
            var result = await RunAsync(command, cancellationToken).ConfigureAwait(false);
            return result.IsSuccess ? RouteListing.OnLinkNetwork(result.StandardOutput, container) : null;
        }
#pragma warning disable CA1031 // The lookup only widens the hairpin rule; without it (no iproute2) the mapping still works.
        catch (Exception exception) when (exception is not OperationCanceledException)
#pragma warning restore CA1031
        {
            Log.RouteLookupFailed(_logger, command, exception.Message);
            return null;
        }
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
