using System.Globalization;
using System.Text;

namespace Savate.Relay;

/// <summary>
/// What a slave tells its master on each poll of the stream list, in request headers (an Icecast master ignores
/// them): where listeners reach it and how loaded it is, overall and per mount it relays from that master. The
/// poll carries the relay credentials, so the master takes the announcement only from an authenticated slave.
/// </summary>
/// <param name="PublicUrl">The slave's base URL for listeners (absolute http or https).</param>
/// <param name="Listeners">Listeners on the slave now.</param>
/// <param name="MaxListeners">The slave's server-wide max-listeners.</param>
/// <param name="PollInterval">How often the slave polls: the master forgets it after three intervals without a poll.</param>
/// <param name="Mounts">The mounts the slave relays from this master: listeners now and the mount's own max (null: none).</param>
public sealed record SlaveAnnouncement(Uri PublicUrl, int Listeners, int MaxListeners, TimeSpan PollInterval, IReadOnlyDictionary<string, (int Listeners, int? MaxListeners)> Mounts)
{
    /// <summary>Header: the slave's public URL.</summary>
    public const string PublicUrlHeader = "X-Savate-Public-Url";

    /// <summary>Header: listeners on the slave now (an integer).</summary>
    public const string ListenersHeader = "X-Savate-Listeners";

    /// <summary>Header: the slave's max-listeners (an integer).</summary>
    public const string MaxListenersHeader = "X-Savate-Max-Listeners";

    /// <summary>Header: the slave's poll interval in seconds (a decimal number).</summary>
    public const string PollIntervalHeader = "X-Savate-Poll-Interval";

    /// <summary>
    /// Header: the mounts the slave relays, space-separated <c>PATH=LISTENERS</c> or <c>PATH=LISTENERS/MAX</c>
    /// (a mount path has no whitespace; the numbers follow its last <c>=</c>).
    /// </summary>
    public const string MountsHeader = "X-Savate-Mounts";

    // Far below Kestrel's 32 KiB head: mounts that do not fit are left out (they are not redirect targets).
    private const int MaxMountsHeaderChars = 16 * 1024;

    /// <summary>The headers of this announcement, name and value.</summary>
    public IEnumerable<KeyValuePair<string, string>> ToHeaders()
    {
        yield return new(PublicUrlHeader, PublicUrl.AbsoluteUri.TrimEnd('/'));
        yield return new(ListenersHeader, Listeners.ToString(CultureInfo.InvariantCulture));
        yield return new(MaxListenersHeader, MaxListeners.ToString(CultureInfo.InvariantCulture));
        yield return new(PollIntervalHeader, PollInterval.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture));
        var mounts = new StringBuilder();
        foreach (var (path, load) in Mounts.OrderBy(m => m.Key, StringComparer.Ordinal))
        {
            var entry = load.MaxListeners is { } max
                ? string.Create(CultureInfo.InvariantCulture, $"{path}={load.Listeners}/{max}")
                : string.Create(CultureInfo.InvariantCulture, $"{path}={load.Listeners}");
            if (mounts.Length + entry.Length + 1 > MaxMountsHeaderChars)
            {
                break;
            }
            mounts.Append(mounts.Length > 0 ? " " : "").Append(entry);
        }
        yield return new(MountsHeader, mounts.ToString());
    }

    /// <summary>
    /// Reads an announcement from a poll's headers (<paramref name="header"/> returns a header's value or null).
    /// Null when there is none or it is malformed: a public URL that is not an absolute http(s) URL without user,
    /// query or fragment, or counts that are not numbers.
    /// </summary>
    public static SlaveAnnouncement? Parse(Func<string, string?> header)
    {
        ArgumentNullException.ThrowIfNull(header);
        if (header(PublicUrlHeader) is not { Length: > 0 and <= 2048 } url
            || !Uri.TryCreate(url.Trim(), UriKind.Absolute, out var publicUrl)
            || (publicUrl.Scheme != Uri.UriSchemeHttp && publicUrl.Scheme != Uri.UriSchemeHttps)
            || publicUrl.UserInfo.Length > 0 || publicUrl.Query.Length > 0 || publicUrl.Fragment.Length > 0
            || !TryCount(header(ListenersHeader), out var listeners)
            || !TryCount(header(MaxListenersHeader), out var maxListeners))
        {
            return null;
        }

        var interval = TimeSpan.FromSeconds(10);
        if (double.TryParse(header(PollIntervalHeader), NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) && seconds is > 0 and < 86_400)
        {
            interval = TimeSpan.FromSeconds(seconds);
        }

        var mounts = new Dictionary<string, (int, int?)>(StringComparer.Ordinal);
        foreach (var entry in (header(MountsHeader) ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            var equals = entry.LastIndexOf('=');
            if (equals < 2 || entry[0] != '/' || mounts.Count >= 10_000)
            {
                continue;
            }

            var numbers = entry.AsSpan(equals + 1);
            var slash = numbers.IndexOf('/');
            int? max = null;
            if (slash >= 0)
            {
                if (!TryCount(numbers[(slash + 1)..].ToString(), out var m))
                {
                    continue;
                }
                max = m;
                numbers = numbers[..slash];
            }

            if (TryCount(numbers.ToString(), out var count))
            {
                mounts[entry[..equals]] = (count, max);
            }
        }

        return new SlaveAnnouncement(publicUrl, listeners, maxListeners, interval, mounts);
    }

    private static bool TryCount(string? text, out int value) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value);
}
