namespace NatMap.Iptables.IntegrationTests.Infrastructure;

/// <summary>
/// The kernel tests that measure time or hold something global (a deadline, a repair bound, the xtables lock itself,
/// a flood of processes): xunit runs this collection after the parallel ones, alone, so the load of the other tests
/// neither stretches their timings nor meets their locks. Every other test class is its own collection and runs in
/// parallel (xunit.runner.json).
/// </summary>
[CollectionDefinition(nameof(RunAlone), DisableParallelization = true)]
public sealed class RunAlone;
