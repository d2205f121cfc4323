using System.Runtime.Versioning;

namespace NatMap.Iptables.Tests;

/// <summary>
/// Each target framework's tests run on that framework's own runtime: the net8.0 build on .NET 8 (self-contained, see
/// the project file), not rolled forward onto .NET 10, where it would test nothing of .NET 8.
/// </summary>
public sealed class RuntimeTests
{
    [Fact]
    public void Runtime_IsTheTargetFrameworksOwnMajorVersion()
    {
        var target = new FrameworkName(AppContext.TargetFrameworkName ?? throw new InvalidOperationException("No target framework name."));

        Console.WriteLine($"runtime: {target.Identifier} {target.Version} tests on .NET {Environment.Version} ({System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription})");
        Environment.Version.Major.Should().Be(target.Version.Major, $"the {target} build must run on its own runtime, not {System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription}");
    }
}
