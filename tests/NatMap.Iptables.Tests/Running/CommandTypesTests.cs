namespace NatMap.Iptables.Tests.Running;

public sealed class CommandTypesTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public void CommandSpec_EqualityIsByValue_AndArgumentsAreCopied()
    {
        var args = new List<string> { "-t", "nat" };
        var spec = new CommandSpec("iptables", args);

        args.Add("-F");

        spec.Arguments.Should().Equal("-t", "nat");
        spec.Should().Be(new CommandSpec("iptables", ["-t", "nat"]));
        spec.GetHashCode().Should().Be(new CommandSpec("iptables", ["-t", "nat"]).GetHashCode());
        spec.Should().NotBe(new CommandSpec("iptables", ["-t", "nat"], "stdin"));
    }

    [Fact]
    public void CommandSpec_ToString_QuotesWhatAShellWouldSplit() =>
        new CommandSpec("iptables", ["-m", "comment", "--comment", "a b\"c\n"]).ToString()
            .Should().Be("iptables -m comment --comment \"a b\\\"c\\n\"");

    [Fact]
    public void CommandSpec_NullArgument_Throws() =>
        FluentActions.Invoking(() => new CommandSpec("x", [null!])).Should().Throw<ArgumentException>().Which.ParamName.Should().Be("Arguments");

    [Fact]
    public void IptablesCommandException_CarriesEverything()
    {
        var error = new IptablesCommandException(new CommandSpec("ip6tables", ["-t", "nat", "-N", "X"]), new CommandResult(1, "out", "iptables: Chain already exists.\n"));

        error.Message.Should().Be($"ip6tables exited with code 1.{Environment.NewLine}Command: ip6tables -t nat -N X{Environment.NewLine}Standard error: iptables: Chain already exists.");
        (error.ExitCode, error.StandardError, error.StandardOutput).Should().Be((1, "iptables: Chain already exists.\n", "out"));
        error.Command.Should().Be(new CommandSpec("ip6tables", ["-t", "nat", "-N", "X"]));
    }

    [Fact]
    public async Task CliWrapRunner_ArgumentsArePassedVerbatimWithoutAShell()
    {
        var result = await new CliWrapCommandRunner().RunAsync(new CommandSpec("printf", ["%s|", "a b", "$(id)", "; rm -rf /", "\"q\""]), Ct);

        result.Should().Be(new CommandResult(0, "a b|$(id)|; rm -rf /|\"q\"|", ""));
    }

    [Fact]
    public async Task CliWrapRunner_NonZeroExit_IsAResult()
    {
        var result = await new CliWrapCommandRunner().RunAsync(new CommandSpec("ls", ["/definitely/not/here"]), Ct);

        result.ExitCode.Should().Be(2);
        result.StandardError.Should().Contain("No such file");
    }

    [Fact]
    public async Task CliWrapRunner_StandardInput_IsFed()
    {
        var result = await new CliWrapCommandRunner().RunAsync(new CommandSpec("cat", [], "*nat\nCOMMIT\n"), Ct);

        result.StandardOutput.Should().Be("*nat\nCOMMIT\n");
    }

    [Fact]
    public async Task CliWrapRunner_Timeout_KillsTheProcess()
    {
        var marker = $"30.{Random.Shared.Next(100_000, 999_999)}";
        var started = DateTime.UtcNow;

        var act = () => new CliWrapCommandRunner(TimeSpan.FromMilliseconds(300)).RunAsync(new CommandSpec("sleep", [marker]), Ct);

        (await act.Should().ThrowAsync<TimeoutException>()).Which.Message.Should().Contain($"sleep {marker}");
        (DateTime.UtcNow - started).Should().BeLessThan(TimeSpan.FromSeconds(20));
        (await ProcessesWith(marker)).Should().BeEmpty("the timed-out process was killed");
    }

    [Fact]
    public async Task CliWrapRunner_Cancelled_KillsTheProcessAndThrowsCancellation()
    {
        var marker = $"30.{Random.Shared.Next(100_000, 999_999)}";
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        cts.CancelAfter(300);

        var act = () => new CliWrapCommandRunner(TimeSpan.FromSeconds(60)).RunAsync(new CommandSpec("sleep", [marker]), cts.Token);

        await act.Should().ThrowAsync<OperationCanceledException>();
        (await ProcessesWith(marker)).Should().BeEmpty();
    }

    [Fact]
    public void CliWrapRunner_NonPositiveTimeout_Throws() =>
        FluentActions.Invoking(() => new CliWrapCommandRunner(TimeSpan.Zero)).Should().Throw<ArgumentOutOfRangeException>();

    private static async Task<string> ProcessesWith(string marker)
    {
        // pgrep -f would match itself; list command lines and filter here instead.
        var result = await new CliWrapCommandRunner().RunAsync(new CommandSpec("ps", ["-eo", "args"]), Ct);
        return string.Join('\n', result.StandardOutput.Split('\n').Where(l => l.Trim() == $"sleep {marker}"));
    }
}
