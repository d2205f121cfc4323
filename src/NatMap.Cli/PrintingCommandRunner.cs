using NatMap.Iptables;

namespace NatMap.Cli;

/// <summary>The dry-run runner: prints each command instead of running it and reports success with no output.</summary>
internal sealed class PrintingCommandRunner(TextWriter output) : ICommandRunner
{
    public Task<CommandResult> RunAsync(CommandSpec command, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(command);
        if (command.StandardInput is { } input)
        {
            // A batch prints as a here-document, so the dry run can be pasted into a shell as it stands.
            var withoutInput = command with { StandardInput = null };
            output.WriteLine(withoutInput + " <<'EOF'");
            output.Write(input);
            output.WriteLine("EOF");
        }
        else
        {
            output.WriteLine(command.ToString());
        }

        return Task.FromResult(CommandResult.Success);
    }
}
