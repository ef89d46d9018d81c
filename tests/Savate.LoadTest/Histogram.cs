using System.Diagnostics;

namespace Savate.LoadTest;

/// <summary>Lock-free latency histogram: 0.1 ms buckets up to 30 s, then one overflow bucket.</summary>
internal sealed class Histogram
{
    private const double BucketMs = 0.1;
    private readonly long[] _buckets = new long[300_001];
    private long _count;
    private long _maxTicks;

    public long Count => Interlocked.Read(ref _count);

    public void Add(long ticks)
    {
        if (ticks < 0)
        {
            ticks = 0;
        }
        var ms = ticks * 1000.0 / Stopwatch.Frequency;
        var bucket = (int)Math.Min(_buckets.Length - 1, ms / BucketMs);
        Interlocked.Increment(ref _buckets[bucket]);
        Interlocked.Increment(ref _count);
        var max = Volatile.Read(ref _maxTicks);
        while (ticks > max)
        {
            var seen = Interlocked.CompareExchange(ref _maxTicks, ticks, max);
            if (seen == max)
            {
                break;
            }
            max = seen;
        }
    }

    public double MaxMs => Interlocked.Read(ref _maxTicks) * 1000.0 / Stopwatch.Frequency;

    /// <summary>Upper edge of the bucket holding the q-quantile (ms), or NaN when empty.</summary>
    public double Percentile(double q)
    {
        var count = Count;
        if (count == 0)
        {
            return double.NaN;
        }
        var rank = (long)Math.Ceiling(q * count);
        long seen = 0;
        for (var i = 0; i < _buckets.Length; i++)
        {
            seen += _buckets[i];
            if (seen >= rank)
            {
                return (i + 1) * BucketMs;
            }
        }
        return MaxMs;
    }
}

internal static class Stats
{
    /// <summary>Nearest-rank percentile of a sorted array, or NaN when empty.</summary>
    public static double Percentile(double[] sorted, double q)
    {
        if (sorted.Length == 0)
        {
            return double.NaN;
        }
        var rank = (int)Math.Ceiling(q * sorted.Length);
        return sorted[Math.Clamp(rank - 1, 0, sorted.Length - 1)];
    }
}
