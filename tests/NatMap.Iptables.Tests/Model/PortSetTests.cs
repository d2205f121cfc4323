namespace NatMap.Iptables.Tests.Model;

public sealed class PortSetTests
{
    public static TheoryData<string, string, int> ValidCases => new()
    {
        // text, iptables token, multiport slots
        { "80", "80", 1 },                                  // single port
        { "65535", "65535", 1 },                            // highest port
        { "1", "1", 1 },                                    // lowest port
        { "80,443", "80,443", 2 },                          // list
        { "8000-8100", "8000:8100", 2 },                    // range with dash
        { "8000:8100", "8000:8100", 2 },                    // range in iptables' own form
        { "80,8000-8100", "80,8000:8100", 3 },              // mixed
        { "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15", "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15", 15 }, // exactly the multiport limit
        { "1-2,3,4,5,6,7,8,9,10,11,12,13,14,15", "1:2,3,4,5,6,7,8,9,10,11,12,13,14,15", 15 }, // a range counts two
        { "22-22", "22", 1 },                               // a range of one port is one port
    };

    public static TheoryData<string> InvalidCases => new TheoryData<string>
    {
        "",                                    // empty
        "0",                                   // port 0
        "65536",                               // above the range
        "-1",                                  // sign
        "+80",                                 // sign
        " 80",                                 // whitespace
        "80 ",                                 // whitespace
        "80,",                                 // empty item
        ",80",                                 // empty item
        "80,,443",                             // empty item
        "8100-8000",                           // reversed range
        "80-",                                 // open range
        "abc",                                 // not a number
        "80\n-A INPUT -j ACCEPT",              // injection attempt
        "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16", // 16 slots
        "1-2,3-4,5,6,7,8,9,10,11,12,13,14,15,16", // 16 slots with two ranges
        "000080",                              // too many digits
        "٨٠",                                  // non-ASCII digits
    };

    [Theory]
    [MemberData(nameof(ValidCases))]
    public void Parse_ValidText_GivesIptablesTokenAndSlots(string text, string token, int slots)
    {
        var set = PortSet.Parse(text);

        set.ToString().Should().Be(token);
        set.Slots.Should().Be(slots);
        PortSet.Parse(set.ToString()).Should().Be(set, "the iptables token round-trips");
    }

    [Theory]
    [MemberData(nameof(InvalidCases))]
    public void TryParse_InvalidText_ReturnsFalseWithoutThrowing(string text)
    {
        PortSet.TryParse(text, out var set).Should().BeFalse();
        set.IsEmpty.Should().BeTrue();
    }

    [Theory]
    [MemberData(nameof(InvalidCases))]
    public void Parse_InvalidText_ThrowsFormatException(string text) =>
        FluentActions.Invoking(() => PortSet.Parse(text)).Should().Throw<FormatException>();

    [Fact]
    public void ParseAndTryParse_Null()
    {
        FluentActions.Invoking(() => PortSet.Parse(null!)).Should().Throw<ArgumentNullException>();
        PortSet.TryParse(null, out _).Should().BeFalse();
    }

    [Fact]
    public void Parse_TooManySlots_MessageNamesTheLimit() =>
        FluentActions.Invoking(() => PortSet.Parse("1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16"))
            .Should().Throw<FormatException>()
            .WithMessage("The port list needs 16 multiport slots; iptables allows at most 15, and a range counts as two.");

    [Fact]
    public void Constructor_Ranges_ValidatesTheLimit()
    {
        var ranges = Enumerable.Range(1, 8).Select(i => new PortRange(i * 10, (i * 10) + 1));

        FluentActions.Invoking(() => new PortSet(ranges)).Should().Throw<ArgumentException>().Which.ParamName.Should().Be("ranges");
    }

    [Fact]
    public void Constructor_ReversedRange_Throws() =>
        FluentActions.Invoking(() => new PortSet(100, 99)).Should().Throw<ArgumentOutOfRangeException>().Which.ParamName.Should().Be("last");

    [Theory]
    [InlineData(0)]
    [InlineData(65536)]
    [InlineData(-80)]
    public void Constructor_PortOutOfRange_Throws(int port) =>
        FluentActions.Invoking(() => new PortSet(port)).Should().Throw<ArgumentOutOfRangeException>();

    [Fact]
    public void Equality_ComparesThePortsHeld_WhateverTheOrderAndForm()
    {
        PortSet.Parse("80,443").Should().Be(PortSet.Parse("80,443"));
        PortSet.Parse("80,443").GetHashCode().Should().Be(PortSet.Parse("80,443").GetHashCode());
        PortSet.Parse("80,443").Should().Be(PortSet.Parse("443,80"));
        PortSet.Parse("443,80").GetHashCode().Should().Be(PortSet.Parse("80,443").GetHashCode());
        PortSet.Parse("80,81,82").Should().Be(PortSet.Parse("80-82")).And.NotBe(PortSet.Parse("80-83"));
        PortSet.Parse("80,81").Should().NotBe(PortSet.Parse("80,82"));
        PortSet.Parse("443,80").ToString().Should().Be("443,80", "the text is kept as written");
        (PortSet.Parse("8000-8100") == new PortSet(8000, 8100)).Should().BeTrue();
        ((PortSet)80).Should().Be(new PortSet(80));
    }

    [Fact]
    public void Default_IsEmpty()
    {
        default(PortSet).IsEmpty.Should().BeTrue();
        default(PortSet).ToString().Should().BeEmpty();
        default(PortSet).Ranges.Should().BeEmpty();
    }

    [Fact]
    public void Shape_SinglePortRangeAndList()
    {
        PortSet.Parse("80").IsSinglePort.Should().BeTrue();
        PortSet.Parse("80-81").IsSinglePort.Should().BeFalse();
        PortSet.Parse("80-81").IsMultiport.Should().BeFalse();
        PortSet.Parse("80,81").IsMultiport.Should().BeTrue();
    }
}
