using System.CommandLine;
using System.Text.Json;
using NatMap.Iptables;

namespace NatMap.Cli;

/// <summary>The command tree and what each command does.</summary>
internal static class Commands
{
    private const string DryRunNote =
        "# dry run: reads the host and prints the commands that would change it; nothing was changed. Add --apply to run them.";

    // Common options: recursive, so every command takes them.
    private static readonly Option<string?> Netns = new("--netns") { Description = "Run every command in network namespace NAME (ip netns exec).", HelpName = "NAME", Recursive = true };
    private static readonly Option<string> Iptables = new("--iptables") { Description = "The IPv4 program, e.g. iptables-legacy.", HelpName = "PROGRAM", DefaultValueFactory = _ => NatMapDefaults.IptablesPath, Recursive = true };
    private static readonly Option<string> Ip6tables = new("--ip6tables") { Description = "The IPv6 program, e.g. ip6tables-legacy.", HelpName = "PROGRAM", DefaultValueFactory = _ => NatMapDefaults.Ip6tablesPath, Recursive = true };
    private static readonly Option<string> Ip = new("--ip") { Description = "The iproute2 program.", HelpName = "PROGRAM", DefaultValueFactory = _ => NatMapDefaults.IpPath, Recursive = true };
    private static readonly Option<string> Sysctl = new("--sysctl") { Description = "The sysctl program.", HelpName = "PROGRAM", DefaultValueFactory = _ => NatMapDefaults.SysctlPath, Recursive = true };
    private static readonly Option<string> Conntrack = new("--conntrack") { Description = "The conntrack program.", HelpName = "PROGRAM", DefaultValueFactory = _ => NatMapDefaults.ConntrackPath, Recursive = true };
    private static readonly Option<bool> NoIpv6 = new("--no-ipv6") { Description = "Leave ip6tables alone.", Recursive = true };
    private static readonly Option<string> Chain = new("--chain") { Description = "The chain name.", HelpName = "NAME", DefaultValueFactory = _ => NatMapDefaults.ChainName, Recursive = true };
    private static readonly Option<string> CommentPrefix = new("--comment-prefix") { Description = "The prefix of every rule comment.", HelpName = "TEXT", DefaultValueFactory = _ => NatMapDefaults.CommentPrefix, Recursive = true };
    private static readonly Option<bool> PerRule = new("--per-rule") { Description = "One iptables process per rule instead of one iptables-restore batch per family.", Recursive = true };

    private static readonly Option<bool> Apply = new("--apply") { Description = "Run the commands. Without it nothing changes: the host is read and the commands are printed." };
    private static readonly Option<bool> Json = new("--json") { Description = "Print machine-readable JSON." };

    public static RootCommand Build(CliEnvironment env)
    {
        var root = new RootCommand("""
            natmap: publish ports through Linux NAT with NatMap.Iptables.
            Commands that change the host only print what they would run unless --apply is given.
            Exit codes: 0 done, 1 a command failed, 2 a usage or validation error (nothing run), 3 audit found an exposure.
            """);
        foreach (var option in new Option[] { Netns, Iptables, Ip6tables, Ip, Sysctl, Conntrack, NoIpv6, Chain, CommentPrefix, PerRule })
        {
            root.Options.Add(option);
        }

        root.Subcommands.Add(Changing("setup", "Create the chains, jumps and guards (idempotent).", env, (manager, _, ct) => manager.SetupAsync(ct)));
        root.Subcommands.Add(Changing("flush", "Remove everything natmap owns, in both families.", env, (manager, _, ct) => manager.FlushAllAsync(ct)));
        root.Subcommands.Add(Objects("add", "Install a mapping or NAT rule.", install: true, env));
        root.Subcommands.Add(Objects("remove", "Remove a mapping or NAT rule.", install: false, env));
        root.Subcommands.Add(ListCommand(env));
        root.Subcommands.Add(SyncCommand(env));
        root.Subcommands.Add(AuditCommand(env));
        return root;
    }

    private static Command Changing(string name, string description, CliEnvironment env, Func<IptablesManager, ParseResult, CancellationToken, Task> operation)
    {
        var command = new Command(name, description) { Apply };
        command.SetAction((parsed, ct) => Guarded(env, async () =>
        {
            var options = Options(parsed);
            await RunChangeAsync(env, parsed, options, name, manager => operation(manager, parsed, ct), ct).ConfigureAwait(false);
            return CliApp.Success;
        }));
        return command;
    }

    private static Command Objects(string name, string description, bool install, CliEnvironment env)
    {
        var command = new Command(name, description);
        foreach (var kind in ObjectOptions.Kinds)
        {
            var sub = new Command(kind.Name, kind.Description) { Apply };
            foreach (var option in kind.Options)
            {
                sub.Options.Add(option);
            }

            sub.SetAction((parsed, ct) => Guarded(env, async () =>
            {
                var options = Options(parsed);
                var state = kind.Build(parsed);
                if (install)
                {
                    var missing = await SetupCheck.MissingAsync(env.HostRunner(options), options, state, ct).ConfigureAwait(false);
                    if (missing is not null)
                    {
                        await env.Error.WriteLineAsync($"natmap: {missing}").ConfigureAwait(false);
                        return CliApp.Failed;
                    }
                }

                await RunChangeAsync(env, parsed, options, $"{name} {kind.Name}", manager => ObjectOptions.Run(manager, state, install, ct), ct).ConfigureAwait(false);
                return CliApp.Success;
            }));
            command.Subcommands.Add(sub);
        }

        return command;
    }

    private static Command ListCommand(CliEnvironment env)
    {
        var command = new Command("list", "Show what natmap owns on the host.") { Json };
        command.SetAction((parsed, ct) => Guarded(env, async () =>
        {
            var options = Options(parsed);
            var state = await new IptablesManager(env.HostRunner(options), options).ListAsync(ct).ConfigureAwait(false);
            if (parsed.GetValue(Json))
            {
                await env.Output.WriteLineAsync(NatMapStateJson.Serialize(state)).ConfigureAwait(false);
            }
            else
            {
                foreach (var line in Describe.State(state))
                {
                    await env.Output.WriteLineAsync(line).ConfigureAwait(false);
                }
            }

            return CliApp.Success;
        }));
        return command;
    }

    private static Command SyncCommand(CliEnvironment env)
    {
        var file = new Option<string>("--file") { Description = "The desired-state JSON document ('-' for standard input).", HelpName = "FILE", Required = true };
        var command = new Command("sync", "Make the host hold exactly the objects of a desired-state file: add what is missing, remove what is not in it.") { file, Apply, Json };
        command.SetAction((parsed, ct) => Guarded(env, async () =>
        {
            var options = Options(parsed);
            var path = parsed.GetValue(file)!;
            var text = path == "-"
                ? await Console.In.ReadToEndAsync(ct).ConfigureAwait(false)
                : await File.ReadAllTextAsync(path, ct).ConfigureAwait(false);
            var desired = NatMapStateJson.Parse(text);
            // A dry run reads through the dry-run runner, so a machine without iptables reads as an empty host.
            var reader = parsed.GetValue(Apply) ? env.HostRunner(options) : new DryRunCommandRunner(env.HostRunner(options), TextWriter.Null, env.Error);
            var current = await new IptablesManager(reader, options).ListAsync(ct).ConfigureAwait(false);
            var diff = StateDiff.Between(current, desired);
            var json = parsed.GetValue(Json);
            if (json)
            {
                await env.Output.WriteLineAsync(diff.ToJson(parsed.GetValue(Apply))).ConfigureAwait(false);
            }
            else
            {
                await env.Output.WriteLineAsync($"# sync: {Describe.Items(diff.Added).Count()} to add, {Describe.Items(diff.Removed).Count()} to remove, {diff.Unchanged} unchanged").ConfigureAwait(false);
                foreach (var line in diff.Lines())
                {
                    await env.Output.WriteLineAsync(line).ConfigureAwait(false);
                }
            }

            // Under --json the commands go to standard error, so standard output stays one JSON document.
            var commandsTo = json ? env.Error : env.Output;
            await RunChangeAsync(env with { Output = commandsTo }, parsed, options, "sync", manager => manager.SyncAsync(desired, ct), ct).ConfigureAwait(false);
            return CliApp.Success;
        }));
        return command;
    }

    private static Command AuditCommand(CliEnvironment env)
    {
        var command = new Command("audit", "Who can reach each mapping? Traces the host's live ruleset, addresses and routes in the emulator, path by path.") { Json };
        command.SetAction((parsed, ct) => Guarded(env, async () =>
        {
            var options = Options(parsed);
            var report = await ExposureAudit.RunAsync(env.HostRunner(options), options, ct).ConfigureAwait(false);
            await env.Output.WriteLineAsync(parsed.GetValue(Json) ? report.ToJson() : report.ToTable()).ConfigureAwait(false);
            return report.Exposed ? CliApp.Exposed : CliApp.Success;
        }));
        return command;
    }

    /// <summary>Runs a change: printed against the real host's reads without --apply, run with it (with progress on a terminal).</summary>
    private static async Task RunChangeAsync(
        CliEnvironment env, ParseResult parsed, NatMapOptions options, string verb, Func<IptablesManager, Task> operation, CancellationToken ct)
    {
        var host = env.HostRunner(options);
        if (!parsed.GetValue(Apply))
        {
            await env.Error.WriteLineAsync(DryRunNote).ConfigureAwait(false);
            await operation(new IptablesManager(new DryRunCommandRunner(host, env.Output, env.Error), options)).ConfigureAwait(false);
            return;
        }

        if (!env.ShowProgress)
        {
            await operation(new IptablesManager(host, options)).ConfigureAwait(false);
            return;
        }

        var progress = new ProgressCommandRunner(host, env.Error, verb);
        try
        {
            await operation(new IptablesManager(progress, options)).ConfigureAwait(false);
        }
        finally
        {
            progress.Finish();
        }
    }

    private static NatMapOptions Options(ParseResult parsed)
    {
        var options = new NatMapOptions
        {
            NetworkNamespace = parsed.GetValue(Netns),
            IptablesPath = parsed.GetValue(Iptables)!,
            Ip6tablesPath = parsed.GetValue(Ip6tables)!,
            IpPath = parsed.GetValue(Ip)!,
            SysctlPath = parsed.GetValue(Sysctl)!,
            ConntrackPath = parsed.GetValue(Conntrack)!,
            ChainName = parsed.GetValue(Chain)!,
            CommentPrefix = parsed.GetValue(CommentPrefix)!,
            EnableIpv6 = !parsed.GetValue(NoIpv6),
            ApplyMode = parsed.GetValue(PerRule) ? RuleApplyMode.PerRule : RuleApplyMode.Batch,
        };

        // The manager validates its options (ArgumentException, exit 2) before anything reaches the host.
        _ = new IptablesManager(new PrintingCommandRunner(TextWriter.Null), options);
        return options;
    }

    /// <summary>Turns every failure into its exit code and one message on standard error; nothing throws out of a command.</summary>
    private static async Task<int> Guarded(CliEnvironment env, Func<Task<int>> action)
    {
        try
        {
            return await action().ConfigureAwait(false);
        }
        catch (NatMapStateException exception)
        {
            await env.Error.WriteLineAsync($"natmap: {exception.Message}").ConfigureAwait(false);
            return CliApp.Invalid;
        }
        catch (Exception exception) when (exception is UsageException or ArgumentException or FormatException
            or FileNotFoundException or DirectoryNotFoundException or UnauthorizedAccessException)
        {
            await env.Error.WriteLineAsync($"natmap: {exception.Message}").ConfigureAwait(false);
            return CliApp.Invalid;
        }
        catch (OperationCanceledException)
        {
            await env.Error.WriteLineAsync("natmap: cancelled.").ConfigureAwait(false);
            return CliApp.Failed;
        }
        catch (Exception exception)
        {
            await env.Error.WriteLineAsync($"natmap: {exception.Message}").ConfigureAwait(false);
            return CliApp.Failed;
        }
    }
}
