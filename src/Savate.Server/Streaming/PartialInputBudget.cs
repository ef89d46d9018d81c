namespace Savate.Server.Streaming;

/// <summary>
/// The server-wide budget for partial input: bytes that sources hold for tags or packets not yet complete (what their
/// body pipes keep unconsumed). Each source reports what it holds after every read; when the total goes over the budget,
/// the source holding the most is dropped. Without it, 200 sources each part-way through a 4 MiB tag held 1.35 GB.
/// </summary>
internal sealed class PartialInputBudget(Func<long> limit)
{
    private readonly object _lock = new();
    private readonly Dictionary<SourceSession, long> _held = [];
    private long _total;

    /// <summary>The budget now (server.partial-input-budget, read at each check so a reload applies).</summary>
    public long Limit => limit();

    /// <summary>Bytes held by all sources now.</summary>
    public long Total
    {
        get
        {
            lock (_lock)
            {
                return _total;
            }
        }
    }

    /// <summary>
    /// Records that <paramref name="session"/> holds <paramref name="held"/> bytes. When the total is over the budget, returns
    /// the source to drop (the one holding the most, maybe this one), with what it held and the total; it is no longer
    /// counted. Null when within budget.
    /// </summary>
    public (SourceSession Session, long Held, long Total)? Update(SourceSession session, long held)
    {
        lock (_lock)
        {
            _total += held - _held.GetValueOrDefault(session);
            if (held > 0)
            {
                _held[session] = held;
            }
            else
            {
                _held.Remove(session);
            }
            if (_total <= limit())
            {
                return null;
            }
            var total = _total;
            var victim = session;
            var most = held;
            foreach (var (other, bytes) in _held)
            {
                if (bytes > most)
                {
                    victim = other;
                    most = bytes;
                }
            }
            _held.Remove(victim);
            _total -= most;
            return (victim, most, total);
        }
    }

    /// <summary>The source ended: it holds nothing any more.</summary>
    public void Remove(SourceSession session) => Update(session, 0);
}
