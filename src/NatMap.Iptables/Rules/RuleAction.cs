namespace NatMap.Iptables.Rules;

/// <summary>What an iptables command does with a rule.</summary>
public enum RuleAction
{
    /// <summary>Add the rule: <c>-A</c> (append) or <c>-I</c> (insert at the top), as the rule's <see cref="RulePosition"/> says.</summary>
    Add,

    /// <summary>Delete the rule by its specification: <c>-D</c>.</summary>
    Delete,

    /// <summary>Check whether the rule exists: <c>-C</c> (exit code 0 when it does).</summary>
    Check,
}
