using System.Net.Sockets;
using NatMap.Iptables.Internal;

namespace NatMap.Iptables.Tests.Applying;

public sealed class RestoreScriptTests
{
    [Fact]
    public void Render_GroupsByTableInFirstAppearanceOrder_KeepingOrderWithinATable()
    {
        RuleChange[] changes =
        [
            RuleChange.NewChain(AddressFamily.InterNetwork, "filter", "NATMAP"),
            RuleChange.NewChain(AddressFamily.InterNetwork, "nat", "NATMAP"),
            new(AddressFamily.InterNetwork, "filter", ChangeKind.Append, "NATMAP", ["-j", "ACCEPT"]),
            new(AddressFamily.InterNetwork, "nat", ChangeKind.Insert, "PREROUTING", ["-j", "NATMAP"]),
        ];

        RestoreScript.Render(changes).Should().Be(
            "*filter\n-N NATMAP\n-A NATMAP -j ACCEPT\nCOMMIT\n*nat\n-N NATMAP\n-I PREROUTING -j NATMAP\nCOMMIT\n");
    }

    [Theory]
    [InlineData("plain", "plain")]
    [InlineData("two words", "\"two words\"")]
    [InlineData("say \"hi\"", "\"say \\\"hi\\\"\"")]
    [InlineData("back\\slash", "\"back\\\\slash\"")]
    [InlineData("tab\tin", "\"tab\tin\"")]
    public void Render_QuotesWhatIptablesRestoreWouldSplit_AndTheViewReadsItBack(string token, string rendered)
    {
        var script = RestoreScript.Render([new RuleChange(AddressFamily.InterNetwork, "nat", ChangeKind.Append, "X", ["--comment", token])]);

        script.Should().Be($"*nat\n-A X --comment {rendered}\nCOMMIT\n");
        new CommandSpec("iptables-restore", ["--noflush"], script).ToPerRuleCommands().Single().Arguments[^1].Should().Be(token);
    }

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
