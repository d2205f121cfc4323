using System.Reflection;

namespace NatMap.Iptables.Tests.Configuration;

public sealed class NatMapOptionsSnapshotTests
{
    /// <summary>A value unlike the default for each type an option has; a new option of another type fails the test.</summary>
    private static object Changed(PropertyInfo property, object? current) => property.PropertyType switch
    {
        var t when t == typeof(string) => "changed-" + property.Name,
        var t when t == typeof(bool) => !(bool)current!,
        var t when t == typeof(TimeSpan) || t == typeof(TimeSpan?) => TimeSpan.FromSeconds(1234),
        { IsEnum: true } t => Enum.GetValues(t).Cast<object>().First(v => !v.Equals(current)),
        var t => throw new InvalidOperationException($"NatMapOptions.{property.Name} has a type ({t}) this test cannot change yet: add it here."),
    };

    [Fact]
    public void Snapshot_EverySettableProperty_IsCopied()
    {
        var properties = typeof(NatMapOptions).GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(static p => p.CanWrite).ToList();
        var options = new NatMapOptions();
        foreach (var property in properties)
        {
            property.SetValue(options, Changed(property, property.GetValue(options)));
        }

        var snapshot = options.Snapshot();

        properties.Should().HaveCountGreaterThan(10);
        foreach (var property in properties)
        {
            property.GetValue(snapshot).Should().Be(property.GetValue(options), $"Snapshot must copy NatMapOptions.{property.Name}");
        }

        snapshot.Should().NotBeSameAs(options);
    }
}
