namespace NatMap.Iptables.Rules;

/// <summary>Where an added rule goes in its chain.</summary>
public enum RulePosition
{
    /// <summary>At the end of the chain (<c>-A</c>).</summary>
    Append,

    /// <summary>At the top of the chain (<c>-I</c>), so it is evaluated before rules other tools added.</summary>
    Top,
}
