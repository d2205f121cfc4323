using NatMap.Iptables.Shared;

namespace NatMap.Iptables.Tests.Running;

public sealed class NetnsExecTests
{
    [Fact]
    public void Wrap_WithNamespace_RunsTheProgramThroughIpNetnsExec_AndUnwrapReadsItBack()
    {
        var command = NetnsExec.Wrap("/sbin/ip", "lab1", "iptables-restore", ["--noflush"], "*nat\nCOMMIT\n");

        command.Should().Be(new CommandSpec("/sbin/ip", ["netns", "exec", "lab1", "iptables-restore", "--noflush"], "*nat\nCOMMIT\n"));
        var (ns, program, arguments) = NetnsExec.Unwrap(command);
        ns.Should().Be("lab1");
        program.Should().Be("iptables-restore");
        arguments.Should().Equal("--noflush");
    }

    [Fact]
    public void Wrap_WithoutNamespace_RunsTheProgramItself()
    {
        NetnsExec.Wrap("ip", null, "sysctl", ["-n", "x"]).Should().Be(new CommandSpec("sysctl", ["-n", "x"]));
    }

    public static TheoryData<CommandSpec, string?, string> Unwrapped => new()
    {
        // Not the wrapper: a program whose arguments merely start with "netns" (the old CommandScript check took these).
        { new CommandSpec("iptables", ["netns", "exec", "x", "y"]), null, "iptables" },

        // "ip netns" but not "exec": another ip subcommand, run as it is.
        { new CommandSpec("ip", ["netns", "add", "x", "y"]), null, "ip" },

        // The wrapper at any path.
        { new CommandSpec("/usr/sbin/ip", ["netns", "exec", "ns", "conntrack", "-D"]), "ns", "conntrack" },
    };

    [Theory]
    [MemberData(nameof(Unwrapped))]
    public void Unwrap_OnlyTheWrapper_IsSeenThrough(CommandSpec command, string? expectedNamespace, string expectedProgram)
    {
        var (ns, program, _) = NetnsExec.Unwrap(command);

        ns.Should().Be(expectedNamespace);
        program.Should().Be(expectedProgram);
    }
}
