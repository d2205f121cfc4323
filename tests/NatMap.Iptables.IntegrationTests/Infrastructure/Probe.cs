namespace NatMap.Iptables.IntegrationTests.Infrastructure;

/// <summary>
/// The one socat client of the kernel tests (<see cref="Topology.ProbeAsync"/> runs it too). Any output counts as an
/// answer, whatever socat's exit code; a probe that got none also says why, so a negative probe counts only when the
/// connection was refused or timed out, never when the probe itself was broken (no route, a bad address, socat missing).
/// </summary>
internal static class Probe
{
    private static readonly CliWrapCommandRunner Runner = new(TimeSpan.FromSeconds(30));

    /// <summary>
    /// Connects from <paramref name="ns"/> up to <paramref name="attempts"/> times and returns the first answer, or
    /// the last failure.
    /// </summary>
    public static async Task<ProbeOutcome> RunAsync(string ns, TransportProtocol protocol, string address, int port, int attempts = 3, int timeoutSeconds = 3)
    {
        var v6 = address.Contains(':', StringComparison.Ordinal);
        var host = v6 ? $"[{address}]" : address;
        var target = protocol == TransportProtocol.Tcp
            ? $"{(v6 ? "TCP6" : "TCP4")}:{host}:{port},connect-timeout={timeoutSeconds}"
            : $"{(v6 ? "UDP6" : "UDP4")}:{host}:{port}";
        var seconds = timeoutSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        ProbeOutcome? outcome = null;
        for (var attempt = 0; attempt < attempts; attempt++)
        {
            var result = await Runner.RunAsync(
                new CommandSpec("ip", ["netns", "exec", ns, "timeout", (timeoutSeconds + 5).ToString(System.Globalization.CultureInfo.InvariantCulture), "socat", "-T", seconds, "-t", seconds, "-", target], "probe\n"),
                CancellationToken.None);
            var answer = result.StandardOutput.Trim();
            outcome = new ProbeOutcome($"[{ns}] {protocol} {host}:{port}", answer.Length > 0 ? answer : null, result.ExitCode, result.StandardError.Trim());
            if (outcome.Answer is not null)
            {
                return outcome;
            }
        }

        TestContext.Current.TestOutputHelper?.WriteLine($"probe {outcome}");
        return outcome!;
    }

    /// <summary>
    /// Runs <paramref name="probe"/> for each item, a few at a time: probes of different paths are independent, and a
    /// negative one spends most of its time waiting for a timeout. Results come back in the items' order.
    /// </summary>
    public static async Task<TResult[]> EachAsync<T, TResult>(IEnumerable<T> items, Func<T, Task<TResult>> probe, int parallel = 6)
    {
        using var slots = new SemaphoreSlim(parallel);
        return await Task.WhenAll(items.Select(async item =>
        {
            await slots.WaitAsync(TestContext.Current.CancellationToken);
            try
            {
                return await probe(item);
            }
            finally
            {
                _ = slots.Release();
            }
        }));
    }

    /// <summary>Asserts that <paramref name="expected"/> answered, in up to three attempts.</summary>
    public static async Task ReachesAsync(string ns, TransportProtocol protocol, string address, int port, string expected, string because)
    {
        var outcome = await RunAsync(ns, protocol, address, port);
        Assert.True(outcome.Answer == expected, $"{because}: expected '{expected}' to answer, got {outcome}");
    }

    /// <summary>
    /// Asserts that nobody answered, and that the reason was a refusal or a timeout: TCP's connect was refused or timed
    /// out, UDP's request got no reply within the timeout (socat exits 0 with no output) or an ICMP refusal.
    /// </summary>
    public static async Task NoAnswerAsync(string ns, TransportProtocol protocol, string address, int port, string because)
    {
        var outcome = await RunAsync(ns, protocol, address, port, attempts: 1);
        Assert.True(outcome.Answer is null, $"{because}: expected nobody to answer, got {outcome}");
        Assert.True(outcome.RefusedOrTimedOut, $"{because}: the probe failed for another reason than a refusal or a timeout: {outcome}");
    }
}

/// <summary>What one probe saw: who answered, or how the client failed.</summary>
internal sealed record ProbeOutcome(string Target, string? Answer, int ExitCode, string Error)
{
    /// <summary>
    /// Whether a client that got no output met a refusal (a TCP reset, or ICMP port unreachable for UDP) or a timeout
    /// (socat's connect or inactivity timeout, which for UDP ends with exit 0 and nothing read, or timeout's 124).
    /// </summary>
    public bool RefusedOrTimedOut =>
        ExitCode is 0 or 124
        || Error.Contains("Connection refused", StringComparison.Ordinal)
        || Error.Contains("timed out", StringComparison.OrdinalIgnoreCase);

    public override string ToString() => Answer is not null ? $"{Target}: '{Answer}'" : $"{Target}: no answer (exit {ExitCode}, '{Error}')";
}
