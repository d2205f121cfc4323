namespace NatMap.Iptables.Testing;

/// <summary>
/// A fault that strikes one process after part of it has taken effect: an <c>iptables-restore</c> that commits its
/// first tables and then fails, times out, hangs or is cancelled. Give one to <c>FaultAt</c> or <c>FaultWhen</c> of
/// <see cref="FakeIptables"/> or <see cref="FakeCommandRunner"/>.
/// </summary>
/// <remarks>
/// <para>
/// <c>iptables-restore</c> commits table by table: each <c>*table … COMMIT</c> block takes effect whole at its
/// <c>COMMIT</c> line, and a failure, a kill or a timeout later on leaves the blocks before it committed. A fault with
/// <see cref="CommittedTables"/> = <c>k</c> lets the first <c>k</c> blocks of a restore commit and strikes before
/// block <c>k + 1</c>; when the input has no more than <c>k</c> blocks, all of them commit and the fault strikes after
/// the process has done all its work. Any other process (one <c>iptables</c> command, <c>sysctl -w</c>, a read) is one
/// step: <c>k</c> = 0 strikes before it takes effect, any larger <c>k</c> after.
/// </para>
/// <para>
/// <see cref="FakeCommandRunner"/> keeps no tables; for it the fault decides only the result or the exception, after
/// the process has been recorded.
/// </para>
/// </remarks>
public sealed class CommandFault
{
    private readonly CancellationTokenSource? _caller;

    private CommandFault(CommandFaultKind kind, int committedTables, CancellationTokenSource? caller)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(committedTables);
        Kind = kind;
        CommittedTables = committedTables;
        _caller = caller;
    }

    /// <summary>Gets how the process ends once the fault strikes.</summary>
    public CommandFaultKind Kind { get; }

    /// <summary>Gets how many <c>*table … COMMIT</c> blocks commit before the fault strikes (for any other process, 0 or more than 0).</summary>
    public int CommittedTables { get; }

    /// <summary>
    /// The process commits its first <paramref name="committedTables"/> tables and then fails as iptables 1.8.9 does
    /// when the next table cannot be committed. The legacy restore takes the xtables lock anew for every table, so it
    /// exits with 4 and <c>Another app is currently holding the xtables lock. Stopped waiting after Ns.</c>; the nft
    /// restore exits with 1 and <c>iptables-nft-restore: line N failed: No buffer space available.</c>, naming the
    /// block's <c>COMMIT</c> line. A process that is not a restore fails with exit code 4 and the lock message when
    /// <paramref name="committedTables"/> is 0, and is not failed otherwise.
    /// </summary>
    /// <param name="committedTables">How many tables commit first; 0 or more.</param>
    /// <returns>The fault.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="committedTables"/> is negative.</exception>
    public static CommandFault FailAfterTables(int committedTables) => new(CommandFaultKind.Fail, committedTables, null);

    /// <summary>
    /// The process commits its first <paramref name="committedTables"/> tables and is then killed by its runner's
    /// timeout: <c>RunAsync</c> throws <see cref="TimeoutException"/>, as <see cref="CliWrapCommandRunner"/> does.
    /// </summary>
    /// <param name="committedTables">How many tables commit first; 0 or more.</param>
    /// <returns>The fault.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="committedTables"/> is negative.</exception>
    public static CommandFault TimeOutAfterTables(int committedTables) => new(CommandFaultKind.TimeOut, committedTables, null);

    /// <summary>
    /// The process commits its first <paramref name="committedTables"/> tables and then hangs until the token given to
    /// <c>RunAsync</c> is cancelled (by the caller or by <see cref="NatMapOptions.CommandTimeout"/>), when it throws
    /// <see cref="OperationCanceledException"/>. With a token that is never cancelled it never ends.
    /// </summary>
    /// <param name="committedTables">How many tables commit first; 0 or more.</param>
    /// <returns>The fault.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="committedTables"/> is negative.</exception>
    public static CommandFault HangAfterTables(int committedTables) => new(CommandFaultKind.Hang, committedTables, null);

    /// <summary>
    /// The process commits its first <paramref name="committedTables"/> tables, then <paramref name="caller"/> is
    /// cancelled, as a caller's cancellation arriving at that moment would be, and <c>RunAsync</c> throws
    /// <see cref="OperationCanceledException"/>. Pass the source whose token the operation under test was given.
    /// </summary>
    /// <param name="committedTables">How many tables commit first; 0 or more.</param>
    /// <param name="caller">The caller's cancellation source.</param>
    /// <returns>The fault.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="caller"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="committedTables"/> is negative.</exception>
    public static CommandFault CancelAfterTables(int committedTables, CancellationTokenSource caller)
    {
        ArgumentNullException.ThrowIfNull(caller);
        return new(CommandFaultKind.Cancel, committedTables, caller);
    }

    /// <summary>Returns the fault in words, for test output.</summary>
    /// <returns>For example <c>Fail after 1 table(s)</c>.</returns>
    public override string ToString() => $"{Kind} after {CommittedTables} table(s)";

    /// <summary>Ends a process that ran up to the fault: returns its result, or throws as the fault says.</summary>
    internal async Task<CommandResult> StrikeAsync(CommandSpec process, CommandResult result, CancellationToken cancellationToken)
    {
        switch (Kind)
        {
            case CommandFaultKind.TimeOut:
                throw new TimeoutException($"The command ran longer than its timeout and was killed.{Environment.NewLine}Command: {process}");
            case CommandFaultKind.Hang:
                await Task.Delay(Timeout.Infinite, cancellationToken).ConfigureAwait(false);
                throw new OperationCanceledException(cancellationToken);
            case CommandFaultKind.Cancel:
                await _caller!.CancelAsync().ConfigureAwait(false);
                cancellationToken.ThrowIfCancellationRequested();
                throw new OperationCanceledException(_caller.Token);
            default:
                return result;
        }
    }
}
