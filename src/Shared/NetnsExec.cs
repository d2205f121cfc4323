namespace NatMap.Iptables.Shared;

/// <summary>
/// The one reading and writing of the network-namespace wrapper <c>ip netns exec NAME PROGRAM ARGS…</c>: the library
/// wraps every command in it when a namespace is configured, and whatever looks at a command (telemetry, the fakes, the
/// dry run) sees through it the same way. Compiled into each package that needs it.
/// </summary>
internal static class NetnsExec
{
    /// <summary>
    /// <paramref name="program"/> run with <paramref name="arguments"/> inside <paramref name="networkNamespace"/>
    /// through <paramref name="ipPath"/>, or directly when no namespace is given.
    /// </summary>
    public static CommandSpec Wrap(string ipPath, string? networkNamespace, string program, IReadOnlyList<string> arguments, string? standardInput = null) =>
        networkNamespace is { } ns
            ? new CommandSpec(ipPath, ["netns", "exec", ns, program, .. arguments], standardInput)
            : new CommandSpec(program, arguments, standardInput);

    /// <summary>
    /// The namespace (<see langword="null"/> when none), program and arguments of <paramref name="command"/>: past
    /// <c>ip netns exec NAME</c> when the command is that wrapper (the program named <c>ip</c>, at any path, followed by
    /// <c>netns exec NAME PROGRAM</c>), else the command itself.
    /// </summary>
    public static (string? Namespace, string Program, IReadOnlyList<string> Arguments) Unwrap(CommandSpec command)
    {
        var arguments = command.Arguments;
        if (Path.GetFileName(command.FileName) == "ip" && arguments.Count > 3 && arguments[0] == "netns" && arguments[1] == "exec")
        {
            return (arguments[2], arguments[3], [.. arguments.Skip(4)]);
        }

        return (null, command.FileName, arguments);
    }
}
