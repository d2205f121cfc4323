using System.Net.Sockets;
using NatMap.Iptables.Internal;
using NatMap.Iptables.Testing;

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
}
