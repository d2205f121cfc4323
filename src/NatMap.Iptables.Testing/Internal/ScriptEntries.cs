namespace NatMap.Iptables.Testing.Internal;

/// <summary>Counts down an entry's remaining uses, removing it after its last.</summary>
internal static class ScriptEntries
{
    public static void UseOnce<T>(this List<T> entries, int index, int? remaining, Func<int, T> withRemaining)
    {
        if (remaining is not { } left)
        {
            return;
        }

        if (left == 1)
        {
            entries.RemoveAt(index);
        }
        else
        {
            entries[index] = withRemaining(left - 1);
        }
    }
}
