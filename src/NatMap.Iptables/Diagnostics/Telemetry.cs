using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Net.Sockets;

namespace NatMap.Iptables.Internal;

/// <summary>The manager's instruments and activities (see <see cref="NatMapTelemetry"/>).</summary>
internal sealed class Telemetry
{
    private static readonly ActivitySource Source = new(NatMapTelemetry.Name, typeof(Telemetry).Assembly.GetName().Version?.ToString());

    private static readonly Meter SharedMeter = new(NatMapTelemetry.Name, typeof(Telemetry).Assembly.GetName().Version?.ToString());

    private readonly Counter<long> _commands;
    private readonly Counter<long> _failures;
    private readonly Histogram<double> _duration;
    private readonly Counter<long> _rules;

    /// <summary>Instruments on a meter from <paramref name="meterFactory"/> (one per DI container), or on a shared meter.</summary>
    public Telemetry(IMeterFactory? meterFactory)
    {
        var meter = meterFactory?.Create(NatMapTelemetry.Name, typeof(Telemetry).Assembly.GetName().Version?.ToString()) ?? SharedMeter;
        _commands = meter.CreateCounter<long>(NatMapTelemetry.CommandsInstrument, "{process}", "Processes run.");
        _failures = meter.CreateCounter<long>(NatMapTelemetry.CommandFailuresInstrument, "{process}", "Processes that exited non-zero or did not finish.");
        _duration = meter.CreateHistogram<double>(NatMapTelemetry.OperationDurationInstrument, "s", "Duration of each operation.");
        _rules = meter.CreateCounter<long>(NatMapTelemetry.RuleChangesInstrument, "{rule}", "Rules added or deleted.");
    }

    public static Activity? StartOperation(string operation) => Source.StartActivity(operation);

    public static Activity? StartCommand(CommandSpec command)
    {
        var activity = Source.StartActivity(Program(command), ActivityKind.Client);
        activity?.SetTag("natmap.command", command.ToString());
        return activity;
    }

    public void CommandDone(CommandSpec command, int exitCode, Activity? activity)
    {
        var program = new KeyValuePair<string, object?>("natmap.program", Program(command));
        var code = new KeyValuePair<string, object?>("natmap.exit_code", exitCode.ToString(CultureInfo.InvariantCulture));
        _commands.Add(1, program, code);
        if (exitCode != 0)
        {
            _failures.Add(1, program, code);
            activity?.SetStatus(ActivityStatusCode.Error, $"exit code {exitCode}");
        }

        activity?.SetTag("natmap.exit_code", exitCode);
    }

    public void OperationDone(string operation, long startedAt, Exception? failure, Activity? activity)
    {
        _duration.Record(
            Stopwatch.GetElapsedTime(startedAt).TotalSeconds,
            new KeyValuePair<string, object?>("natmap.operation", operation),
            new KeyValuePair<string, object?>("natmap.outcome", failure is null ? "success" : "failure"));
        if (failure is not null)
        {
            activity?.SetStatus(ActivityStatusCode.Error, failure.Message);
        }
    }

    public void RulesChanged(AddressFamily family, IEnumerable<RuleChange> changes)
    {
        long added = 0, deleted = 0;
        foreach (var change in changes)
        {
            switch (change.Kind)
            {
                case ChangeKind.Append or ChangeKind.Insert:
                    added++;
                    break;
                case ChangeKind.Delete:
                    deleted++;
                    break;
            }
        }

        var familyTag = new KeyValuePair<string, object?>("natmap.family", family == AddressFamily.InterNetworkV6 ? "ipv6" : "ipv4");
        if (added > 0)
        {
            _rules.Add(added, familyTag, new KeyValuePair<string, object?>("natmap.change", "add"));
        }

        if (deleted > 0)
        {
            _rules.Add(deleted, familyTag, new KeyValuePair<string, object?>("natmap.change", "delete"));
        }
    }

    /// <summary>The program a command runs, past any <c>ip netns exec NAME</c>: <c>iptables-restore</c>, <c>sysctl</c>, …</summary>
    private static string Program(CommandSpec command) => Path.GetFileName(Shared.NetnsExec.Unwrap(command).Program);
}
