namespace Savate.Relay.Tests.Infrastructure;

public static class Eventually
{
    /// <summary>Polls <paramref name="condition"/> until true, failing after <paramref name="timeoutMs"/>.</summary>
    public static async Task TrueAsync(Func<bool> condition, int timeoutMs = 5000, string? because = null, Func<string>? describe = null)
    {
        var deadline = DateTime.UtcNow.AddMilliseconds(timeoutMs);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"Condition not met within {timeoutMs} ms{(because is null ? string.Empty : ": " + because)}{(describe is null ? string.Empty : "; " + describe())}");
            }

            await Task.Delay(10);
        }
    }
}
