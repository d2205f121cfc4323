using System.Globalization;

namespace NatMap.Iptables.Benchmarks;

/// <summary>
/// Appends one row per figure to a CSV file, <c>backend,n,metric,value,unit</c> (the header when the file is new),
/// the format <c>benchmarks/plot.cs</c> reads. Each row is written at once, so a run cut short keeps what it measured.
/// </summary>
internal sealed class CsvFigures(string path, string backend)
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public void Time(int n, string metric, TimeSpan time) => Write(n, metric, time.TotalMilliseconds.ToString("0.0", Inv), "ms");

    public void Ratio(int n, string metric, double ratio) => Write(n, metric, ratio.ToString("0.000", Inv), "ratio");

    public void Count(int n, string metric, long count, string unit = "processes") => Write(n, metric, count.ToString(Inv), unit);

    /// <summary>A rate of new connections, <c>conn/s</c>.</summary>
    public void Rate(int n, string metric, double perSecond) => Write(n, metric, perSecond.ToString("0", Inv), "conn/s");

    private void Write(int n, string metric, string value, string unit)
    {
        var header = !File.Exists(path) || new FileInfo(path).Length == 0 ? "backend,n,metric,value,unit\n" : string.Empty;
        File.AppendAllText(path, string.Create(Inv, $"{header}{backend},{n},{metric},{value},{unit}\n"));
    }
}
