using System.Globalization;

namespace Savate.Server.Streaming;

/// <summary>
/// The kernel's TCP memory, against its limits: <c>/proc/net/sockstat</c> (<c>TCP: ... mem N</c>, in pages) and
/// <c>/proc/sys/net/ipv4/tcp_mem</c> (min, pressure, max, in pages). Above tcp_mem's min the kernel starts to regulate;
/// above its pressure threshold it shrinks every socket's buffers, healthy listeners and sources included. A listener that
/// stopped reading holds its whole send buffer (256 KiB, doubled by Linux, plus overhead: about 550 KB), so the server
/// acts first: while TCP memory is above min it evicts such listeners at <c>max-lag</c> instead of <c>evict-lag</c>, and
/// gives new listeners a quarter of <c>listener-send-buffer</c>.
/// </summary>
internal sealed class TcpMemoryMonitor
{
    // Read the two files at most this often (the lag monitor asks every 250 ms).
    private static readonly TimeSpan s_samplePeriod = TimeSpan.FromSeconds(1);

    private readonly string _sockstatPath;
    private readonly string _tcpMemPath;
    private readonly TimeProvider _time;
    private readonly object _lock = new();
    private long _sampledAt = long.MinValue;
    private TcpMemorySample _last;

    public TcpMemoryMonitor(TimeProvider time, string sockstatPath = "/proc/net/sockstat", string tcpMemPath = "/proc/sys/net/ipv4/tcp_mem")
    {
        _time = time;
        _sockstatPath = sockstatPath;
        _tcpMemPath = tcpMemPath;
    }

    /// <summary>The latest sample (re-read when older than a second); <see cref="TcpMemorySample.Known"/> is false off Linux.</summary>
    public TcpMemorySample Sample()
    {
        var now = _time.GetTimestamp();
        lock (_lock)
        {
            if (_sampledAt != long.MinValue && _time.GetElapsedTime(_sampledAt, now) < s_samplePeriod)
            {
                return _last;
            }
            _sampledAt = now;
            _last = Read();
            return _last;
        }
    }

    /// <summary>True while the kernel's TCP memory is above tcp_mem's min.</summary>
    public bool UnderPressure => Sample() is { Known: true } sample && sample.Pages > sample.MinPages;

    private TcpMemorySample Read()
    {
        try
        {
            if (TryParseSockstat(File.ReadAllText(_sockstatPath), out var pages) && TryParseTcpMem(File.ReadAllText(_tcpMemPath), out var min, out var pressure, out var max))
            {
                return new TcpMemorySample(true, pages, min, pressure, max);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Not Linux, or /proc hidden: no early eviction, evict-lag as configured.
        }
        return default;
    }

    /// <summary>The <c>mem</c> field of the <c>TCP:</c> line of /proc/net/sockstat (pages).</summary>
    public static bool TryParseSockstat(string text, out long pages)
    {
        pages = 0;
        foreach (var line in text.Split('\n'))
        {
            if (!line.StartsWith("TCP:", StringComparison.Ordinal))
            {
                continue;
            }
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            for (var i = 1; i + 1 < fields.Length; i++)
            {
                if (fields[i] == "mem")
                {
                    return long.TryParse(fields[i + 1], NumberStyles.None, CultureInfo.InvariantCulture, out pages);
                }
            }
        }
        return false;
    }

    /// <summary>/proc/sys/net/ipv4/tcp_mem: three page counts.</summary>
    public static bool TryParseTcpMem(string text, out long min, out long pressure, out long max)
    {
        min = pressure = max = 0;
        var fields = text.Split((char[])[' ', '\t', '\n'], StringSplitOptions.RemoveEmptyEntries);
        return fields.Length == 3
            && long.TryParse(fields[0], NumberStyles.None, CultureInfo.InvariantCulture, out min)
            && long.TryParse(fields[1], NumberStyles.None, CultureInfo.InvariantCulture, out pressure)
            && long.TryParse(fields[2], NumberStyles.None, CultureInfo.InvariantCulture, out max);
    }
}

/// <summary>One reading of the kernel's TCP memory, in pages.</summary>
internal readonly record struct TcpMemorySample(bool Known, long Pages, long MinPages, long PressurePages, long MaxPages);
