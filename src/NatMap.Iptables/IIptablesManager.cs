namespace NatMap.Iptables;

/// <summary>Installs and removes NAT rules on the host through iptables and ip6tables.</summary>
/// <remarks>
/// <para>Every method validates its argument before any command runs and throws an <see cref="ArgumentException"/>
/// naming the invalid field. A command that must succeed and does not raises an <see cref="IptablesCommandException"/>
/// after the changes the operation had already made are undone. Operations on one instance run one at a time.</para>
/// <para>Docker mappings and static DNATs need <see cref="SetupAsync"/> first (rules of theirs live in the library's
/// chains); their installs check for the chains before running anything and throw an
/// <see cref="InvalidOperationException"/> saying so. SNAT and hairpin rules live in the built-in chains and do not.</para>
/// <para>Each install and remove makes one object's rules exactly right: an install leaves one copy of each rule it
/// builds and deletes any other rule that carries the object's comment (a second copy another tool or an older version
/// left, a hairpin rule for a container network that changed); a remove deletes every rule that carries it. With the
/// default <see cref="CliWrapCommandRunner"/> every operation holds an <c>flock</c> on
/// <c>/run/natmap/net-INODE.lock</c>, named after the network namespace the commands run in (however it is reached:
/// by <see cref="NatMapOptions.NetworkNamespace"/> or from inside it), from its first read to its last write, so two
/// processes using the library on one namespace cannot both find a rule missing and both add it.</para>
/// </remarks>
public interface IIptablesManager
{
    /// <summary>Creates the library's chains and the jumps into them, for IPv4 and (when enabled) IPv6. Idempotent.</summary>
    /// <param name="cancellationToken">Cancels the operation; changes already made are undone.</param>
    /// <returns>A task that completes when the chains and jumps exist.</returns>
    Task SetupAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Counts what <see cref="SetupAsync"/> makes that is not on the host now (chains, jumps into them and the guard
    /// rules, over every family), without changing anything. <see cref="NatMapMonitor"/> calls it to notice that
    /// another tool wiped the library's rules.
    /// </summary>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>0 when everything Setup makes is in place; otherwise how many of its chains and rules are missing.</returns>
    Task<int> CountMissingSetupAsync(CancellationToken cancellationToken = default);

    /// <summary>Installs the rules of a Docker-style port mapping. Rules already present are not added twice.</summary>
    /// <param name="map">The mapping.</param>
    /// <param name="cancellationToken">Cancels the operation; rules already added are removed.</param>
    /// <returns>A task that completes when every rule is installed.</returns>
    /// <exception cref="InvalidOperationException">The library's chain is missing (call <see cref="SetupAsync"/> first); nothing has run that changes the tables.</exception>
    Task InstallDockerMapAsync(DockerPortMap map, CancellationToken cancellationToken = default);

    /// <summary>Removes exactly the rules of a Docker-style port mapping, every copy of each; rules already gone are skipped.</summary>
    /// <param name="map">The mapping.</param>
    /// <param name="cancellationToken">Cancels the operation; rules already removed are put back.</param>
    /// <returns>A task that completes when no rule of the mapping remains.</returns>
    Task RemoveDockerMapAsync(DockerPortMap map, CancellationToken cancellationToken = default);

    /// <summary>Installs a static DNAT: its DNAT in nat <c>PREROUTING</c>, its ACCEPT in the library's filter chain.</summary>
    /// <param name="config">The DNAT.</param>
    /// <param name="cancellationToken">Cancels the operation; rules already added are removed.</param>
    /// <returns>A task that completes when every rule is installed.</returns>
    /// <exception cref="InvalidOperationException">The library's chain is missing (call <see cref="SetupAsync"/> first); nothing has run that changes the tables.</exception>
    Task InstallDnatAsync(DnatConfig config, CancellationToken cancellationToken = default);

    /// <summary>Removes exactly the rules of a static DNAT.</summary>
    /// <param name="config">The DNAT.</param>
    /// <param name="cancellationToken">Cancels the operation; rules already removed are put back.</param>
    /// <returns>A task that completes when no rule of the DNAT remains.</returns>
    Task RemoveDnatAsync(DnatConfig config, CancellationToken cancellationToken = default);

    /// <summary>Installs a static SNAT.</summary>
    /// <param name="config">The SNAT.</param>
    /// <param name="cancellationToken">Cancels the operation; rules already added are removed.</param>
    /// <returns>A task that completes when the rule is installed.</returns>
    Task InstallSnatAsync(SnatConfig config, CancellationToken cancellationToken = default);

    /// <summary>Removes exactly the rule of a static SNAT.</summary>
    /// <param name="config">The SNAT.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>A task that completes when the rule is gone.</returns>
    Task RemoveSnatAsync(SnatConfig config, CancellationToken cancellationToken = default);

    /// <summary>Installs a hairpin NAT.</summary>
    /// <param name="config">The hairpin NAT.</param>
    /// <param name="cancellationToken">Cancels the operation; rules already added are removed.</param>
    /// <returns>A task that completes when every rule is installed.</returns>
    Task InstallHairpinAsync(HairpinConfig config, CancellationToken cancellationToken = default);

    /// <summary>Removes exactly the rules of a hairpin NAT.</summary>
    /// <param name="config">The hairpin NAT.</param>
    /// <param name="cancellationToken">Cancels the operation; rules already removed are put back.</param>
    /// <returns>A task that completes when no rule of the hairpin NAT remains.</returns>
    Task RemoveHairpinAsync(HairpinConfig config, CancellationToken cancellationToken = default);

    /// <summary>
    /// Reads back the objects the library owns, from <c>iptables-save -t nat</c> (and <c>ip6tables-save</c> when IPv6 is
    /// enabled). An object is recognised by its rule comment and rebuilt from the fields of its rule; rules the library
    /// does not own are ignored.
    /// </summary>
    /// <param name="cancellationToken">Cancels the reads.</param>
    /// <returns>The installed Docker mappings, DNATs, SNATs and hairpin NATs.</returns>
    Task<NatMapState> ListAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Brings the host to exactly <paramref name="desired"/>: does what <see cref="SetupAsync"/> does where anything
    /// of it is missing, adds the rules of every desired object that are missing, and removes every rule the library
    /// owns that no desired object has, in one atomic restore per address family (per table, in per-rule mode one
    /// command per change). Rules the library does not own are untouched. When the host already matches, only reads run.
    /// </summary>
    /// <remarks>
    /// This is the start-up and crash-recovery path: persist the desired state, and sync to it instead of flushing and
    /// reinstalling, so mappings that are already in place never stop carrying traffic.
    /// </remarks>
    /// <param name="desired">The objects that should be installed, and nothing else.</param>
    /// <param name="cancellationToken">Cancels the operation; what was applied is undone.</param>
    /// <returns>A task that completes when the host matches <paramref name="desired"/>.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="desired"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">An object is invalid or <see langword="null"/>; nothing has run.</exception>
    Task SyncAsync(NatMapState desired, CancellationToken cancellationToken = default);

    /// <summary>
    /// Removes everything the library owns, in both families: every rule whose comment starts with the configured
    /// prefix (in every chain of the raw, nat and filter tables), the jumps Setup added, and the library's chains. A
    /// missing chain or rule is not an error; running it again is harmless.
    /// </summary>
    /// <param name="cancellationToken">Cancels the operation between commands.</param>
    /// <returns>A task that completes when nothing the library owns remains.</returns>
    Task FlushAllAsync(CancellationToken cancellationToken = default);
}
