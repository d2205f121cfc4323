namespace NatMap.Iptables;

/// <summary>Runs a program with an argument vector. Implementations never involve a shell.</summary>
/// <remarks>
/// The default implementation is <see cref="CliWrapCommandRunner"/>. Replace it to run commands elsewhere (over SSH, in
/// a container) or, in tests, with <c>FakeCommandRunner</c> from the NatMap.Iptables.Testing package.
/// </remarks>
public interface ICommandRunner
{
    /// <summary>Runs <paramref name="command"/> to completion.</summary>
    /// <param name="command">The program, its arguments and optional standard input.</param>
    /// <param name="cancellationToken">Ends the process and the wait when cancelled.</param>
    /// <returns>The exit code and output. A non-zero exit code is returned, not thrown.</returns>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled; the process was ended.</exception>
    Task<CommandResult> RunAsync(CommandSpec command, CancellationToken cancellationToken = default);
}
