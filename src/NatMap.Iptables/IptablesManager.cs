using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using NatMap.Iptables.Internal;
using NatMap.Iptables.Rules;

namespace NatMap.Iptables;

/// <summary>
/// The default <see cref="IIptablesManager"/>. It validates each operation's input before any command runs, runs the
/// commands through an <see cref="ICommandRunner"/>, one operation at a time, and undoes what an operation applied when
/// a command fails, times out or is cancelled. <see cref="NatMapOptions.Backend"/> chooses what it writes: iptables
/// rules (the default; one <c>iptables-restore --noflush</c> per address family and operation, see
/// <see cref="NatMapOptions.ApplyMode"/>) or native nftables maps (one <c>nft -f -</c> transaction per operation).
/// </summary>
/// <remarks>
/// The manager only chooses the backend and hands it the shared parts: the options snapshot, the command executor
/// (timeouts, logging, telemetry) and the operation gate (one operation at a time, rollback). Each backend validates,
/// reads, plans (pure) and applies. See <c>docs/architecture.md</c>.
/// </remarks>
public sealed class IptablesManager : IIptablesManager
{
    private readonly IIptablesManager _backend;

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
        var telemetry = new Telemetry(meterFactory);
        options ??= new NatMapOptions();
        NatMapOptionsValidator.ThrowIfInvalid(options);
        options = options.Snapshot();
        RuleBuilder = new NatRuleBuilder(options.ChainName, options.CommentPrefix);
        var executor = new CommandExecutor(runner, options.CommandTimeout, (ILogger?)logger ?? NullLogger.Instance, telemetry);
        var gate = new OperationGate(executor, lockDirectory, options.NetworkNamespace);
        _backend = options.Backend == NatMapBackend.Nftables
            ? new Nftables.NftBackend(options, RuleBuilder, executor, gate)
            : new IptablesBackend(options, RuleBuilder, executor, gate);
    }

    /// <summary>
    /// Gets the rule builder this manager uses, configured with its chain name and comment prefix. With
    /// <see cref="NatMapBackend.Nftables"/> it still validates every object (the same errors as the iptables backend),
    /// and its rules show what the iptables backend would write.
    /// </summary>
    public NatRuleBuilder RuleBuilder { get; }

    /// <inheritdoc/>
    public Task SetupAsync(CancellationToken cancellationToken = default) => _backend.SetupAsync(cancellationToken);

    /// <inheritdoc/>
    public Task<int> CountMissingSetupAsync(CancellationToken cancellationToken = default) => _backend.CountMissingSetupAsync(cancellationToken);

    /// <inheritdoc/>
    public Task InstallDockerMapAsync(DockerPortMap map, CancellationToken cancellationToken = default) => _backend.InstallDockerMapAsync(map, cancellationToken);

    /// <inheritdoc/>
    public Task RemoveDockerMapAsync(DockerPortMap map, CancellationToken cancellationToken = default) => _backend.RemoveDockerMapAsync(map, cancellationToken);

    /// <inheritdoc/>
    public Task InstallDnatAsync(DnatConfig config, CancellationToken cancellationToken = default) => _backend.InstallDnatAsync(config, cancellationToken);

    /// <inheritdoc/>
    public Task RemoveDnatAsync(DnatConfig config, CancellationToken cancellationToken = default) => _backend.RemoveDnatAsync(config, cancellationToken);

    /// <inheritdoc/>
    public Task InstallSnatAsync(SnatConfig config, CancellationToken cancellationToken = default) => _backend.InstallSnatAsync(config, cancellationToken);

    /// <inheritdoc/>
    public Task RemoveSnatAsync(SnatConfig config, CancellationToken cancellationToken = default) => _backend.RemoveSnatAsync(config, cancellationToken);

    /// <inheritdoc/>
    public Task InstallHairpinAsync(HairpinConfig config, CancellationToken cancellationToken = default) => _backend.InstallHairpinAsync(config, cancellationToken);

    /// <inheritdoc/>
    public Task RemoveHairpinAsync(HairpinConfig config, CancellationToken cancellationToken = default) => _backend.RemoveHairpinAsync(config, cancellationToken);

    /// <inheritdoc/>
    public Task SyncAsync(NatMapState desired, CancellationToken cancellationToken = default) => _backend.SyncAsync(desired, cancellationToken);

    /// <inheritdoc/>
    public Task FlushAllAsync(CancellationToken cancellationToken = default) => _backend.FlushAllAsync(cancellationToken);

    /// <inheritdoc/>
    public Task<NatMapState> ListAsync(CancellationToken cancellationToken = default) => _backend.ListAsync(cancellationToken);
}
