using Microsoft.Extensions.Logging;
using Savate.Relay;

namespace Savate.Server.Relaying;

/// <summary>
/// The slaves a master may send listeners to (<c>server.redirect</c>): each authenticated poll of the stream list
/// that announces a public URL (<see cref="SlaveAnnouncement"/>) adds or refreshes one, keyed by that URL; a slave
/// that stops polling is forgotten three of its poll intervals after its last poll. Thread-safe; one small lock,
/// taken by a poll or a redirect decision, never on a listener's send path.
/// </summary>
internal sealed partial class SlaveSet(TimeProvider time, ILogger logger)
{
    /// <summary>A slave is forgotten after this many poll intervals without a poll.</summary>
    public const int ExpiryIntervals = 3;

    private readonly object _lock = new();
    private readonly Dictionary<string, Slave> _slaves = new(StringComparer.Ordinal);

    /// <summary>Adds or refreshes the slave of an announcement.</summary>
    public void Announce(SlaveAnnouncement announcement)
    {
        var key = announcement.PublicUrl.AbsoluteUri.TrimEnd('/');
        var expires = time.GetUtcNow() + ExpiryIntervals * announcement.PollInterval;
        bool added;
        lock (_lock)
        {
            Purge();
            added = !_slaves.ContainsKey(key);
            // A fresh count: the redirects made since the last poll are in it (or gone again).
            _slaves[key] = new Slave(key, announcement, expires);
        }
        if (added)
        {
            SlaveJoined(logger, key, announcement.Mounts.Count, announcement.Listeners, announcement.MaxListeners);
        }
    }

    /// <summary>The slaves known now (expired ones dropped), for the status page.</summary>
    public IReadOnlyList<SlaveStatus> Snapshot()
    {
        lock (_lock)
        {
            Purge();
            return [.. _slaves.Values.OrderBy(s => s.Url, StringComparer.Ordinal).Select(s => new SlaveStatus(s.Url, s.Listeners, s.Announcement.MaxListeners, s.Expires, [.. s.Announcement.Mounts.Keys.Order(StringComparer.Ordinal)]))];
        }
    }

    /// <summary>
    /// The base URL of the slave with the most room for <paramref name="mount"/> (least load relative to its max,
    /// server-wide and for the mount), among those that relay it; null when none has room. The chosen slave is
    /// counted one listener fuller until its next poll, so a burst of redirects spreads over the slaves.
    /// </summary>
    public string? Pick(string mount)
    {
        lock (_lock)
        {
            Purge();
            Slave? best = null;
            double bestLoad = double.MaxValue;
            long bestRoom = 0;
            foreach (var slave in _slaves.Values)
            {
                if (!slave.Announcement.Mounts.TryGetValue(mount, out var onMount))
                {
                    continue;
                }
                var max = slave.Announcement.MaxListeners;
                long room = (long)max - slave.Listeners;
                double load = max > 0 ? (double)slave.Listeners / max : double.MaxValue;
                if (onMount.MaxListeners is { } mountMax)
                {
                    var mountListeners = onMount.Listeners + slave.Redirected(mount);
                    room = Math.Min(room, (long)mountMax - mountListeners);
                    load = Math.Max(load, mountMax > 0 ? (double)mountListeners / mountMax : double.MaxValue);
                }
                if (room <= 0)
                {
                    continue;
                }
                if (best is null || load < bestLoad || (load == bestLoad && room > bestRoom) || (load == bestLoad && room == bestRoom && string.CompareOrdinal(slave.Url, best.Url) < 0))
                {
                    best = slave;
                    bestLoad = load;
                    bestRoom = room;
                }
            }
            best?.CountRedirect(mount);
            return best?.Url;
        }
    }

    private void Purge()
    {
        var now = time.GetUtcNow();
        List<string>? gone = null;
        foreach (var slave in _slaves.Values)
        {
            if (slave.Expires <= now)
            {
                (gone ??= []).Add(slave.Url);
            }
        }
        if (gone is null)
        {
            return;
        }
        foreach (var url in gone)
        {
            _slaves.Remove(url);
            // Logging under the lock is a plain call (no callback into Savate), as everywhere a log is written.
            SlaveLeft(logger, url, ExpiryIntervals);
        }
    }

    private sealed class Slave(string url, SlaveAnnouncement announcement, DateTimeOffset expires)
    {
        private Dictionary<string, int>? _redirected;

        public string Url { get; } = url;

        public SlaveAnnouncement Announcement { get; } = announcement;

        public DateTimeOffset Expires { get; } = expires;

        /// <summary>Announced listeners plus those sent here since the announcement.</summary>
        public int Listeners { get; private set; } = announcement.Listeners;

        public int Redirected(string mount) => _redirected is not null && _redirected.TryGetValue(mount, out var n) ? n : 0;

        public void CountRedirect(string mount)
        {
            Listeners++;
            _redirected ??= new(StringComparer.Ordinal);
            _redirected[mount] = Redirected(mount) + 1;
        }
    }

    [LoggerMessage(EventId = 600, Level = LogLevel.Information, Message = "Slave {Url} announced itself: {Mounts} mounts relayed, {Listeners}/{MaxListeners} listeners; listeners may be redirected there")]
    private static partial void SlaveJoined(ILogger logger, string url, int mounts, int listeners, int maxListeners);

    [LoggerMessage(EventId = 601, Level = LogLevel.Information, Message = "Slave {Url} stopped polling ({Intervals} poll intervals): no more listeners are redirected there")]
    private static partial void SlaveLeft(ILogger logger, string url, int intervals);
}

/// <summary>A slave as the master knows it (status page).</summary>
internal sealed record SlaveStatus(string Url, int Listeners, int MaxListeners, DateTimeOffset Expires, IReadOnlyList<string> Mounts);
