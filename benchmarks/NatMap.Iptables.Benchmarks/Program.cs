using BenchmarkDotNet.Running;
using NatMap.Iptables.Benchmarks;

if (args.Length > 0 && args[0] == "kernel")
{
    return await KernelScale.RunAsync(args[1..]);
}

BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
return 0;
