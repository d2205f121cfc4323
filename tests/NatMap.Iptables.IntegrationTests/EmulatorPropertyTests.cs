using System.Text.RegularExpressions;
using FsCheck;
using FsCheck.Fluent;
using NatMap.Iptables.IntegrationTests.Infrastructure;
using NatMap.Iptables.Testing;

namespace NatMap.Iptables.IntegrationTests;

/// <summary>
/// Random command sequences, run against FakeIptables and against the real iptables in a fresh namespace: after every
/// command the exit codes, the standard output, the standard error and the tables must be the same. The vocabulary is
/// what iptables users type: chains made, flushed and deleted, rules appended, inserted, checked and deleted by
/// specification or number, and restore batches, so most sequences also hit the error paths (a missing rule or chain,
/// a chain that exists or is still in use, an index too big, a jump to a chain that does not exist), and the test
/// requires that they did.
/// </summary>
public sealed class EmulatorPropertyTests
{
    public static TheoryData<string> Backends => Kernel.Backends;

    /// <summary>Rule specifications. Jumps only go from built-in chains to A or B and from A to B, so no loop can form.</summary>
    private static readonly string[][] Specifications =
    [
        ["-j", "RETURN"],
        ["-s", "10.0.0.1", "-j", "ACCEPT"],
        ["-d", "10.1.2.3/24", "-p", "tcp", "--dport", "80", "-j", "ACCEPT"],
        ["!", "-o", "lo", "-p", "udp", "-m", "udp", "--dport", "53:60", "-j", "RETURN"],
        ["-m", "comment", "--comment", "natmap:a b", "-j", "ACCEPT"],
        ["-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT"],
        ["-p", "tcp", "-m", "multiport", "--dports", "80,443", "-j", "B"],
    ];

    private static readonly string[][] Jumps = [["-j", "A"], ["-j", "B"], ["-i", "eth0", "-j", "A"]];

    private static Gen<string[]> Command()
    {
        var table = Gen.Elements("nat", "filter");
        var user = Gen.Elements("A", "B");
        var builtIn = Gen.Elements("OUTPUT", "POSTROUTING", "FORWARD", "INPUT");
        var spec = Gen.Elements(Specifications);
        var jump = Gen.Elements(Jumps);
        return Gen.OneOf(
            from t in table from c in user select new[] { "-t", t, "-N", c },
            from t in table from c in user select new[] { "-t", t, "-X", c },
            from t in table from c in user select new[] { "-t", t, "-F", c },
            from t in table from c in user from s in spec where c == "A" || s[^1] != "B" select (string[])["-t", t, "-A", c, .. s],
            from t in table from c in builtIn from s in jump select (string[])["-t", t, "-A", c, .. s],
            from t in table from c in user from n in Gen.Choose(1, 3) from s in spec where c == "A" || s[^1] != "B" select (string[])["-t", t, "-I", c, n.ToString(System.Globalization.CultureInfo.InvariantCulture), .. s],
            from t in table from c in user from s in spec select (string[])["-t", t, "-D", c, .. s],
            from t in table from c in builtIn from s in jump select (string[])["-t", t, "-D", c, .. s],
            from t in table from c in user from n in Gen.Choose(1, 3) select new[] { "-t", t, "-D", c, n.ToString(System.Globalization.CultureInfo.InvariantCulture) },
            from t in table from c in user from s in spec select (string[])["-t", t, "-C", c, .. s],
            from t in table from c in user select new[] { "-t", t, "-S", c },
            from t in table from c in user from s in spec where c == "A" || s[^1] != "B" select new[] { "restore", $"*{t}\n-N {c}\n-A {c} {string.Join(' ', s.Select(Quote))}\nCOMMIT\n" },
            from t in table from c in user select new[] { "restore", $"*{t}\n:{c} - [0:0]\nCOMMIT\n" },
            from t in table from c in user from s in spec select new[] { "restore", $"*{t}\n-D {c} {string.Join(' ', s.Select(Quote))}\nCOMMIT\n" },
            from t in table from c in user select new[] { "restore", $"*{t}\n-X {c}\nCOMMIT\n" });
    }

    private static string Escape(string text) => "\"" + text.Replace("\n", "\\n", StringComparison.Ordinal) + "\"";

    private static string Quote(string token) => token.Contains(' ', StringComparison.Ordinal) ? $"\"{token}\"" : token;

    [Theory]
    [MemberData(nameof(Backends))]
    public void RandomCommandSequences_EmulatorAndKernelAgreeAfterEveryCommand(string backend)
    {
        var sequences = Gen.Choose(1, 12).SelectMany(n => Command().ArrayOf(n)).ToArbitrary();
        var cases = 0;
        var failures = new Dictionary<string, int>(StringComparer.Ordinal);
        var property = Prop.ForAll(sequences, commands =>
        {
            cases++;
#pragma warning disable xUnit1031 // FsCheck's properties are synchronous; each case runs real commands and waits for them.
            return AgreeAsync(backend, commands, failures).GetAwaiter().GetResult();
#pragma warning restore xUnit1031
        });

        property.Check(Config.QuickThrowOnFailure.WithMaxTest(300));
        cases.Should().BeGreaterThanOrEqualTo(300);

        // The standard error was compared for real: many commands failed, and in more than one way.
        var failed = failures.Values.Sum();
        Console.WriteLine($"emulator property ({backend}): {cases} sequences, {failed} failing commands whose standard error matched the kernel's, by message:\n  {string.Join("\n  ", failures.OrderByDescending(f => f.Value).Select(f => $"{f.Value} x {f.Key}"))}");
        failed.Should().BeGreaterThanOrEqualTo(100, "the generator must produce failing commands, or the standard error is never compared");
        failures.Keys.Should().Contain(k => k.Contains("Bad rule", StringComparison.Ordinal), "a delete or check of a missing rule must have failed");
        failures.Keys.Should().Contain(k => k.Contains(" line ", StringComparison.Ordinal), "a restore must have failed at a line");
    }

    /// <summary>
    /// Runs one sequence on both; on the first disagreement, fails with the command and both sides. Counts each failing
    /// command in <paramref name="failures"/> by its standard error's first line, with the line number of a restore
    /// and the chain name taken out, so the tally shows which kinds of failure were compared.
    /// </summary>
    private static async Task<bool> AgreeAsync(string backend, string[][] commands, Dictionary<string, int> failures)
    {
        await using var ns = await TestNamespace.CreateAsync(backend);
        var fake = new FakeIptables { Backend = backend == "nft" ? FakeIptablesBackend.Nft : FakeIptablesBackend.Legacy };
        var runner = new CliWrapCommandRunner(TimeSpan.FromSeconds(30));
        foreach (var command in commands)
        {
            var (program, arguments, input) = command[0] == "restore"
                ? ($"iptables-{backend}-restore", (string[])["--noflush"], command[1])
                : ($"iptables-{backend}", command, (string?)null);
            // The kernel side waits for the xtables lock, which tests running in parallel share (the emulator has no
            // other process to meet); waiting changes neither output nor outcome of an uncontended command.
            var real = await runner.RunAsync(new CommandSpec("ip", Xtables.InNamespace(ns.Name, program, arguments), input));
            var emulated = await fake.RunAsync(new CommandSpec(program, arguments, input));
            var kernelSave = Regex.Replace(await ns.SaveAsync(), @" \[\d+:\d+\]", string.Empty).TrimEnd();

            // Compared exactly, nothing normalised: both sides run the same program name (iptables-nft-restore,
            // iptables-legacy ...), and iptables prints the name it was called by, or a fixed one ("iptables:",
            // "iptables-restore:"), never a path or anything of the namespace.
            if (real.ExitCode != emulated.ExitCode || kernelSave != fake.Save().TrimEnd() || real.StandardOutput != emulated.StandardOutput
                || real.StandardError != emulated.StandardError)
            {
                throw new InvalidOperationException(
                    $"After {program} {string.Join(' ', arguments)} {input}: kernel exit {real.ExitCode}, emulator exit {emulated.ExitCode}\n" +
                    $"kernel stderr:   {Escape(real.StandardError)}\nemulator stderr: {Escape(emulated.StandardError)}\n" +
                    $"kernel:\n{kernelSave}\nemulator:\n{fake.Save()}\nsequence:\n{string.Join('\n', commands.Select(c => string.Join(' ', c)))}");
            }

            if (real.ExitCode != 0)
            {
                var kind = Regex.Replace(real.StandardError.Split('\n')[0], @"line \d+|chain [AB]\b|`[AB]'|'[AB]'", m => Regex.Replace(m.Value, @"\d+|[AB]", "_"));
                failures[kind] = failures.GetValueOrDefault(kind) + 1;
            }
        }

        return true;
    }
}
