using Savate.Server.Logging;

namespace Savate.Server.Streaming;

/// <summary>
/// What every source is held to server-wide, beyond its own session: the partial-input budget, and the log throttle for
/// hostile input (one line per event kind and client address per window, with the count of what was not logged).
/// </summary>
internal sealed class SourceGuard
{
    // One line per address and kind of event every 10 s: junk TS resynced about 280 times a second before.
    private static readonly TimeSpan s_logWindow = TimeSpan.FromSeconds(10);

    public SourceGuard(Func<long> budget, TimeProvider time)
    {
        Budget = new PartialInputBudget(budget);
        HostileLog = new LogThrottle(time, s_logWindow);
    }

    public PartialInputBudget Budget { get; }

    public LogThrottle HostileLog { get; }

    /// <summary>The address part of a remote end point ("1.2.3.4:5678" → "1.2.3.4", "[::1]:80" → "[::1]").</summary>
    public static string AddressOf(string remote)
    {
        var colon = remote.LastIndexOf(':');
        return colon > 0 && remote.IndexOf(']', colon) < 0 && (remote[0] == '[' || remote.IndexOf(':') == colon) ? remote[..colon] : remote;
    }
}
