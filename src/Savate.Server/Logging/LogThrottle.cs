namespace Savate.Server.Logging;

/// <summary>
/// Rate-limits log lines about hostile or repeated events: the first event of a key is logged, the ones
/// that follow within <c>window</c> are only counted, and the next event after the window is logged with
/// that count ("and N more"). A key is whatever the caller wants limited together: a client address, a
/// connection id, or "address|mount|reason". The table of keys is bounded (<c>maxKeys</c>): when it is
/// full, stale keys are dropped, and if all are fresh every new key shares one overflow entry, so a flood
/// from many addresses still logs about one line per window and holds bounded memory.
/// </summary>
public sealed class LogThrottle
{
    /// <summary>The key that new keys share while the table is full of fresh ones.</summary>
    public const string OverflowKey = "*";

    private readonly object _lock = new();
    private readonly Dictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private readonly TimeProvider _time;
    private readonly long _windowTicks;
    private readonly int _maxKeys;

    /// <param name="time">The clock.</param>
    /// <param name="window">How long after a logged event the same key is only counted.</param>
    /// <param name="maxKeys">At most this many keys are remembered, the overflow entry included (at least 2).</param>
    public LogThrottle(TimeProvider time, TimeSpan window, int maxKeys = 4096)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(window, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxKeys, 2);
        _time = time;
        _windowTicks = (long)(window.TotalSeconds * time.TimestampFrequency);
        _maxKeys = maxKeys;
    }

    /// <summary>Keys remembered now (for tests and diagnostics).</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _entries.Count;
            }
        }
    }

    /// <summary>
    /// Counts one event of <paramref name="key"/> and says whether to log it. When true,
    /// <paramref name="suppressed"/> is how many events of that key were not logged since the last one
    /// that was (0 for the first).
    /// </summary>
    public bool ShouldLog(string key, out long suppressed)
    {
        var now = _time.GetTimestamp();
        lock (_lock)
        {
            if (!_entries.TryGetValue(key, out var entry))
            {
                // One slot stays free for the overflow entry.
                if (_entries.Count >= _maxKeys - 1)
                {
                    Prune(now);
                }
                if (_entries.Count >= _maxKeys - 1)
                {
                    key = OverflowKey;
                    _entries.TryGetValue(key, out entry);
                }
            }

            if (entry is null)
            {
                _entries[key] = new Entry { LoggedAt = now };
                suppressed = 0;
                return true;
            }

            if (now - entry.LoggedAt >= _windowTicks)
            {
                suppressed = entry.Suppressed;
                entry.Suppressed = 0;
                entry.LoggedAt = now;
                return true;
            }

            entry.Suppressed++;
            suppressed = 0;
            return false;
        }
    }

    private void Prune(long now)
    {
        List<string>? stale = null;
        foreach (var (key, entry) in _entries)
        {
            // A key whose window has passed with nothing suppressed holds nothing worth keeping; one with
            // suppressed events is kept until its next event reports them (or it is two windows old).
            if (now - entry.LoggedAt >= 2 * _windowTicks || (now - entry.LoggedAt >= _windowTicks && entry.Suppressed == 0))
            {
                (stale ??= []).Add(key);
            }
        }
        if (stale is not null)
        {
            foreach (var key in stale)
            {
                _entries.Remove(key);
            }
        }
    }

    private sealed class Entry
    {
        public long LoggedAt;
        public long Suppressed;
    }
}
