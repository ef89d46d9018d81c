namespace Savate.Relay;

/// <summary>
/// Logs a run of identical failures once: the first is logged, the identical ones that follow are counted, and
/// if the run goes on, one line per <c>interval</c> reports how many there were meanwhile. A different failure
/// starts a new run (and is logged at once); <see cref="TryEnd"/> ends the run when the relay recovers.
/// Thread-safe: the relay loop and its timers call it.
/// </summary>
internal sealed class RepeatLog(TimeProvider time, TimeSpan interval)
{
    private readonly Lock _lock = new();
    private string? _key;
    private long _unlogged;
    private long _total;
    private long _loggedAt;

    /// <summary>A run of failures is going on.</summary>
    public bool Active
    {
        get
        {
            lock (_lock)
            {
                return _key is not null;
            }
        }
    }

    /// <summary>Counts one failure; true when it is to be logged, with <paramref name="repeats"/> identical ones not logged since the last line.</summary>
    public bool ShouldLog(string key, out long repeats)
    {
        var now = time.GetTimestamp();
        lock (_lock)
        {
            if (_key != key)
            {
                _key = key;
                _unlogged = 0;
                _total = 1;
                _loggedAt = now;
                repeats = 0;
                return true;
            }
            _total++;
            if (time.GetElapsedTime(_loggedAt, now) >= interval)
            {
                repeats = _unlogged + 1;
                _unlogged = 0;
                _loggedAt = now;
                return true;
            }
            _unlogged++;
            repeats = 0;
            return false;
        }
    }

    /// <summary>Ends the run; false when there was none. <paramref name="total"/> is how many failures it counted.</summary>
    public bool TryEnd(out long total)
    {
        lock (_lock)
        {
            total = _total;
            if (_key is null)
            {
                return false;
            }
            _key = null;
            _unlogged = 0;
            _total = 0;
            return true;
        }
    }
}
