#!/usr/bin/env dotnet
// Turns the benchmark CSVs (backend,n,metric,value,unit) into PNGs with ScottPlot:
//   dotnet run benchmarks/plot.cs -- benchmarks/results benchmarks/plots
// One plot per operation (every metric in ms: cost against N, log-log, a line per backend; the operation's floor, run
// by hand, is a dashed line of the same colour; the issue's nftables targets a dotted red line), and one of the data plane (every dataplane-PATH-ratio metric: ratio against N, a line per
// backend and path). It draws whatever rows exist; a later row for the same backend, N and metric wins.
// A file-based app on purpose: it is in no project, so the solution's build and CI never compile it.
#:package ScottPlot@5.1.59
#:property TreatWarningsAsErrors=false
#:property AnalysisLevel=none
#:property EnforceCodeStyleInBuild=false
#:property ManagePackageVersionsCentrally=false

using System.Globalization;
using ScottPlot;

var input = args.Length > 0 ? args[0] : "benchmarks/results";
var output = args.Length > 1 ? args[1] : "benchmarks/plots";
Directory.CreateDirectory(output);

var files = Directory.Exists(input) ? Directory.GetFiles(input, "*.csv").Order(StringComparer.Ordinal).ToArray() : [input];
var rows = new Dictionary<(string Backend, int N, string Metric), (double Value, string Unit)>();
foreach (var file in files)
{
    foreach (var line in File.ReadLines(file).Skip(1))
    {
        var cells = line.Split(',');
        if (cells.Length != 5 || !int.TryParse(cells[1], CultureInfo.InvariantCulture, out var n)
            || !double.TryParse(cells[3], CultureInfo.InvariantCulture, out var value))
        {
            continue;
        }

        rows[(cells[0], n, cells[2])] = (value, cells[4]);
    }
}

Console.WriteLine($"plot: {rows.Count} figures from {files.Length} file(s)");

// The issue's targets at 20,000 and 50,000 mappings with the nftables backend, drawn as a dotted red line.
var Targets = new Dictionary<string, double>(StringComparer.Ordinal) { ["install-one"] = 150, ["remove-one"] = 150, ["noop-sync"] = 300 };
var backends = rows.Keys.Select(k => k.Backend).Distinct().Order(StringComparer.Ordinal).ToList();
Color ColorOf(string backend) => new ScottPlot.Palettes.Category10().GetColor(backends.IndexOf(backend));

// Operations: every metric in ms, the floor drawn on its operation's plot.
var operations = rows.Where(r => r.Value.Unit == "ms" && r.Key.Metric.EndsWith("-ms", StringComparison.Ordinal))
    .Select(r => Operation(r.Key.Metric)).Distinct().Order(StringComparer.Ordinal).ToList();
foreach (var operation in operations)
{
    var plot = new Plot();
    foreach (var backend in backends)
    {
        foreach (var (metric, floor) in new[] { ($"{operation}-ms", false), (FloorMetric(operation), true) })
        {
            var points = rows.Where(r => r.Key.Backend == backend && r.Key.Metric == metric && r.Key.N > 0 && r.Value.Value > 0)
                .OrderBy(r => r.Key.N).Select(r => (X: Math.Log10(r.Key.N), Y: Math.Log10(r.Value.Value))).ToArray();
            if (points.Length == 0)
            {
                continue;
            }

            var line = plot.Add.Scatter(points.Select(p => p.X).ToArray(), points.Select(p => p.Y).ToArray(), ColorOf(backend));
            line.LegendText = floor ? $"{backend}: floor ({Floor(backend, operation)})" : backend;
            line.LineWidth = 2;
            line.MarkerSize = 7;
            if (floor)
            {
                line.LinePattern = LinePattern.Dashed;
            }
        }
    }

    var shown = rows.Where(r => r.Key.Metric == $"{operation}-ms" || r.Key.Metric == FloorMetric(operation)).ToList();
    if (Targets.TryGetValue(operation, out var target))
    {
        var limit = plot.Add.HorizontalLine(Math.Log10(target), 1, Colors.Red, LinePattern.Dotted);
        limit.LegendText = $"target for nftables: {target} ms";
        shown.Add(new(("target", 0, "target"), (target, "ms")));
    }

    LogAxis(plot.Axes.Bottom, shown.Select(r => (double)r.Key.N).Distinct(), isN: true);
    LogAxis(plot.Axes.Left, shown.Select(r => r.Value.Value), isN: false);
    plot.Title($"{operation}: cost against the number of mappings");
    plot.XLabel("mappings (N), log scale");
    plot.YLabel("ms, log scale");
    plot.ShowLegend(Alignment.UpperLeft);
    Save(plot, operation);
}

// The data plane: dataplane-PATH-ratio, a line per backend and path.
var paths = rows.Keys.Select(k => k.Metric).Where(m => m.StartsWith("dataplane-", StringComparison.Ordinal) && m.EndsWith("-ratio", StringComparison.Ordinal))
    .Distinct().Order(StringComparer.Ordinal).ToList();
if (paths.Count > 0)
{
    var plot = new Plot();
    var patterns = new[] { LinePattern.Solid, LinePattern.Dashed, LinePattern.Dotted, LinePattern.DenselyDashed };
    foreach (var backend in backends)
    {
        foreach (var (metric, index) in paths.Select((m, i) => (m, i)))
        {
            var points = rows.Where(r => r.Key.Backend == backend && r.Key.Metric == metric && r.Key.N > 0)
                .OrderBy(r => r.Key.N).Select(r => (X: Math.Log10(r.Key.N), Y: r.Value.Value)).ToArray();
            if (points.Length == 0)
            {
                continue;
            }

            var line = plot.Add.Scatter(points.Select(p => p.X).ToArray(), points.Select(p => p.Y).ToArray(), ColorOf(backend));
            line.LegendText = $"{backend}, {metric["dataplane-".Length..^"-ratio".Length]}";
            line.LineWidth = 2;
            line.MarkerSize = 7;
            line.LinePattern = patterns[index % patterns.Length];
        }
    }

    // Issue 14's targets at 20,000 mappings: 0.8 with the nftables backend, 0.5 with the iptables ones.
    foreach (var (target, who) in new[] { (0.8, "nftables"), (0.5, "iptables") })
    {
        var limit = plot.Add.HorizontalLine(target, 1, Colors.Red, LinePattern.Dotted);
        limit.LegendText = $"target for {who} at 20,000: {target}";
    }

    LogAxis(plot.Axes.Bottom, rows.Where(r => paths.Contains(r.Key.Metric)).Select(r => (double)r.Key.N).Distinct(), isN: true);
    plot.Axes.SetLimitsY(0, Math.Max(1.1, rows.Where(r => paths.Contains(r.Key.Metric)).Select(r => r.Value.Value).DefaultIfEmpty(0).Max() + 0.1));
    plot.Title("data plane: new connections/s with N mappings over Setup alone");
    plot.XLabel("mappings (N), log scale");
    plot.YLabel("ratio to Setup alone (1 = no cost)");
    plot.ShowLegend(Edge.Right); // beside the data: a line per backend and path makes a long legend
    Save(plot, "dataplane", 1100, 700);
}

return 0;

static string Operation(string metric) =>
    metric.EndsWith("-floor-ms", StringComparison.Ordinal) ? metric[..^"-floor-ms".Length] : metric[..^"-ms".Length];

// The floor each operation is measured against (KernelScale): the no-op sync's is the same read as ListAsync's.
static string FloorMetric(string operation) => operation == "noop-sync" ? "list-floor-ms" : $"{operation}-floor-ms";

static string Floor(string backend, string operation) => (backend == "nftables", operation) switch
{
    (true, "list" or "noop-sync") => "nft -j list",
    (true, _) => "nft -f",
    (false, "list" or "noop-sync") => "iptables-save",
    (false, "install-one" or "remove-one") => "save + restore",
    _ => "iptables-restore",
};

// Log-scale ticks at 1, 2 and 5 times each power of ten in the data's range (ScottPlot draws log10 of the values),
// plus every N measured on the X axis, so a reader sees 2,000, 20,000 and 50,000 written out.
static void LogAxis(IAxis axis, IEnumerable<double> values, bool isN)
{
    var logs = values.Where(v => v > 0).Select(Math.Log10).ToList();
    if (logs.Count == 0)
    {
        return;
    }

    var ticks = new ScottPlot.TickGenerators.NumericManual();
    var marks = new SortedSet<double>(isN ? values : []);
    for (var decade = Math.Floor(logs.Min()) - 1; decade <= Math.Ceiling(logs.Max()); decade++)
    {
        foreach (var step in isN ? new[] { 1.0 } : [1.0, 2.0, 5.0])
        {
            var value = step * Math.Pow(10, decade);
            if (Math.Log10(value) >= logs.Min() - 0.15 && Math.Log10(value) <= logs.Max() + 0.15)
            {
                marks.Add(value);
            }
        }

        for (var minor = 2; minor < 10; minor++)
        {
            ticks.AddMinor(decade + Math.Log10(minor));
        }
    }

    foreach (var mark in marks)
    {
        ticks.AddMajor(Math.Log10(mark), mark.ToString(mark >= 1 ? "N0" : "G2", CultureInfo.InvariantCulture));
    }

    axis.TickGenerator = ticks;
}

void Save(Plot plot, string name, int width = 800, int height = 500)
{
    var path = Path.Combine(output, name + ".png");
    plot.SavePng(path, width, height);
    Console.WriteLine($"plot: {path}");
}
