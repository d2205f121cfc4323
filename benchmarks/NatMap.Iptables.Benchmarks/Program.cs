using BenchmarkDotNet.Running;
using NatMap.Iptables.Benchmarks;

switch (args.Length > 0 ? args[0] : string.Empty)
{
    case "kernel":
        return await KernelScale.RunAsync(args[1..]);
    case "dataplane":
        return await DataPlane.RunAsync(args[1..]);
    case "dp-client": // run by the data-plane benchmark inside a namespace
        return await DataPlane.ClientAsync(args[1..]);
    case "dp-server": // the same
        return await DataPlane.ServerAsync(args[1..]);
    default:
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
        return 0;
}
