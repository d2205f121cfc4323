using NatMap.Iptables.Testing;

namespace NatMap.Iptables.Tests.Testing;

public sealed class CommandSpecExtensionsTests
{
    [Fact]
    public void ToPerRuleCommands_NamespacedBatch_GivesTheCommandsPerRuleModeRuns()
    {
        var batch = new CommandSpec("ip", ["netns", "exec", "lab1", "ip6tables-legacy-restore", "--noflush", "-w", "5"],
            "# a comment\n*filter\n:FORWARD DROP [0:0]\n:NATMAP - [0:0]\n-A NATMAP -j ACCEPT\nCOMMIT\n*nat\n-D POSTROUTING -o eth0 -j MASQUERADE\nCOMMIT\n");

        batch.ToPerRuleCommands().Select(c => c.ToString()).Should().Equal(
            "ip netns exec lab1 ip6tables-legacy -w 5 -t filter -P FORWARD DROP",
            "ip netns exec lab1 ip6tables-legacy -w 5 -t filter -N NATMAP",
            "ip netns exec lab1 ip6tables-legacy -w 5 -t filter -A NATMAP -j ACCEPT",
            "ip netns exec lab1 ip6tables-legacy -w 5 -t nat -D POSTROUTING -o eth0 -j MASQUERADE");
    }

    [Theory]
    [InlineData("iptables-restore", null)]
    [InlineData("iptables", "*nat\nCOMMIT\n")]
    [InlineData("iptables-save", "")]
    public void ToPerRuleCommands_NotABatch_IsTheCommandItself(string program, string? input)
    {
        var command = new CommandSpec(program, ["-t", "nat"], input);

        command.ToPerRuleCommands().Should().Equal(command);
    }
}
