namespace Baton.ClusterTests;

/// <summary>Waiting for what other processes do, and counting what they printed.</summary>
internal static class Eventually
{
    /// <summary>Polls <paramref name="condition"/> until it holds or <paramref name="timeout"/> passes.</summary>
    public static async Task<bool> WaitUntilAsync(Func<bool> condition, TimeSpan timeout, int pollMs = 100)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (condition()) return true;
            await Task.Delay(pollMs);
        }
        return condition();
    }

    /// <summary>How many lines of <paramref name="output"/> contain <paramref name="text"/>: a process's log is shared by the tests that use it, so wait for one more, not for any.</summary>
    public static int Lines(string output, string text) => output.Split('\n').Count(l => l.Contains(text, StringComparison.Ordinal));
}
