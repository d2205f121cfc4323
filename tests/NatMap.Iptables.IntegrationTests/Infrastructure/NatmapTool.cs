using System.Diagnostics;
using System.Reflection;

namespace NatMap.Iptables.IntegrationTests.Infrastructure;

/// <summary>The natmap tool as a separate process, pointed at a namespace and an iptables backend, as an operator runs it.</summary>
internal static class NatmapTool
{
    /// <summary>The newest net10.0 build of the tool in the source tree (the test project builds it first).</summary>
    public static string Path()
    {
        var project = typeof(NatmapTool).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "ProjectDirectory").Value!;
        var bin = System.IO.Path.GetFullPath(System.IO.Path.Combine(project, "..", "..", "src", "NatMap.Cli", "bin"));
        return Directory.EnumerateFiles(bin, "natmap", SearchOption.AllDirectories)
            .Where(p => p.Contains("net10.0", StringComparison.Ordinal))
            .OrderByDescending(File.GetLastWriteTimeUtc)
            .FirstOrDefault() ?? throw new InvalidOperationException($"The natmap tool is not built under {bin}.");
    }

    /// <summary>Runs <c>natmap ARGS --netns NS --iptables iptables-BACKEND --ip6tables ip6tables-BACKEND</c>; returns its exit code and output.</summary>
    public static async Task<(int Code, string Out, string Err)> RunAsync(string ns, string backend, params string[] args)
    {
        var start = new ProcessStartInfo(Path()) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in args.Concat(["--netns", ns, "--iptables", $"iptables-{backend}", "--ip6tables", $"ip6tables-{backend}"]))
        {
            start.ArgumentList.Add(arg);
        }

        var ct = TestContext.Current.CancellationToken;
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync(ct);
        var error = process.StandardError.ReadToEndAsync(ct);
        await process.WaitForExitAsync(ct);
        return (process.ExitCode, await output, await error);
    }
}
