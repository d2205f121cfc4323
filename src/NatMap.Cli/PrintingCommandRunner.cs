using NatMap.Iptables;

namespace NatMap.Cli;

/// <summary>The dry-run runner: prints each command instead of running it and reports success with no output.</summary>
internal sealed class PrintingCommandRunner(TextWriter output) : ICommandRunner
{
    public Task<CommandResult> RunAsync(CommandSpec command, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(command);
        output.WriteLine(command.ToString());
        return Task.FromResult(CommandResult.Success);
    }
}
