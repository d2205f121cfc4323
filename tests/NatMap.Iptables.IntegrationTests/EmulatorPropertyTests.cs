using FsCheck;
using FsCheck.Fluent;
using NatMap.Iptables.IntegrationTests.Infrastructure;
using NatMap.Iptables.Testing;

namespace NatMap.Iptables.IntegrationTests;

/// <summary>
/// Random command sequences, run against FakeIptables and against the real iptables in a fresh namespace: after every
/// command the exit codes and the tables must be the same. The vocabulary is what iptables users type: chains made,
/// flushed and deleted, rules appended, inserted, checked and deleted by specification or number, and restore
/// batches, so most sequences also hit the error paths.
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
            from t in table from c in user select new[] { "restore", $"*{t}\n:{c} - [0:0]\nCOMMIT\n" });
    }

    private static string Quote(string token) => token.Contains(' ', StringComparison.Ordinal) ? $"\"{token}\"" : token;

    [Theory]
    [MemberData(nameof(Backends))]
    public void RandomCommandSequences_EmulatorAndKernelAgreeAfterEveryCommand(string backend)
    {
        var sequences = Gen.Choose(1, 12).SelectMany(n => Command().ArrayOf(n)).ToArbitrary();
        var cases = 0;
        var property = Prop.ForAll(sequences, commands =>
        {
            cases++;
#pragma warning disable xUnit1031 // FsCheck's properties are synchronous; each case runs real commands and waits for them.
            return AgreeAsync(backend, commands).GetAwaiter().GetResult();
#pragma warning restore xUnit1031
        });

        property.Check(Config.QuickThrowOnFailure.WithMaxTest(300));
        cases.Should().BeGreaterThanOrEqualTo(300);
    }

    /// <summary>Runs one sequence on both; on the first disagreement, fails with the command and both sides.</summary>
    private static async Task<bool> AgreeAsync(string backend, string[][] commands)
    {
        await using var ns = await TestNamespace.CreateAsync(backend);
        var fake = new FakeIptables { Backend = backend == "nft" ? FakeIptablesBackend.Nft : FakeIptablesBackend.Legacy };
        var runner = new CliWrapCommandRunner(TimeSpan.FromSeconds(30));
        foreach (var command in commands)
        {
            var (program, arguments, input) = command[0] == "restore"
                ? ($"iptables-{backend}-restore", (string[])["--noflush"], command[1])
                : ($"iptables-{backend}", command, (string?)null);
            var real = await runner.RunAsync(new CommandSpec("ip", ["netns", "exec", ns.Name, program, .. arguments], input));
            var emulated = await fake.RunAsync(new CommandSpec(program, arguments, input));
            var kernelSave = System.Text.RegularExpressions.Regex.Replace(await ns.SaveAsync(), @" \[\d+:\d+\]", string.Empty).TrimEnd();
            if (real.ExitCode != emulated.ExitCode || kernelSave != fake.Save().TrimEnd() || real.StandardOutput != emulated.StandardOutput)
            {
                throw new InvalidOperationException(
                    $"After {program} {string.Join(' ', arguments)} {input}: kernel exit {real.ExitCode} ({real.StandardError.Trim()}), emulator exit {emulated.ExitCode} ({emulated.StandardError.Trim()})\n" +
                    $"kernel:\n{kernelSave}\nemulator:\n{fake.Save()}\nsequence:\n{string.Join('\n', commands.Select(c => string.Join(' ', c)))}");
            }
        }

        return true;
    }
}
