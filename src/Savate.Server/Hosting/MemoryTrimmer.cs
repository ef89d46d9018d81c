using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Savate.Server.Hosting;

/// <summary>
/// Gives memory back after a peak. The GC only runs when something allocates, and a server whose hostile sources or
/// dynamic mounts just left may allocate little for a long time: the buffers they filled would stay committed (200
/// sources holding partial 4 MiB tags left 190 MB resident a minute after they left, docs/benchmarks.md). When the
/// process allocates little (under 16 MiB in a 10 s period: too little for the GC to reach the large buffers it left
/// behind soon) and the GC's committed memory grew by a quarter since the last trim (and is at least 32 MiB), one
/// aggressive, compacting collection hands what is free back to the OS. A server that allocates a lot collects on its
/// own and is not interrupted; a quiet one is trimmed once per peak (then again at up to six quiet checks, the minute
/// after), not periodically. ("Quiet" was once "no gen0
/// collection in the period": a server with a few timers allocating steadily never qualified, and its memory came back
/// only if something else made garbage.)
/// The C heap is trimmed too (<see cref="NativeHeap"/>), busy or quiet, after a period in which the JIT compiled
/// methods (its working memory is what the C heap keeps) and after each collection here.
/// </summary>
internal sealed partial class MemoryTrimmer(TimeProvider time, ILogger<MemoryTrimmer> logger) : BackgroundService
{
    private static readonly TimeSpan s_period = TimeSpan.FromSeconds(10);

    // Below this the GC's own decommit is enough.
    private const long Floor = 32L * 1024 * 1024;

    // Allocating less than this in a period is quiet.
    private const long QuietAllocation = 16L * 1024 * 1024;

    private long _lastAllocated = -1;
    private long _afterLastTrim = Floor;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(s_period, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                var collected = TrimIfIdle();
                TrimNativeHeap(collected);
            }
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }
    }

    // After a trim for a peak, this many more quiet checks trim again: what a peak held is not all let go at once
    // (Kestrel's memory pool evicts idle blocks over time; they are garbage only then), and once the reference is
    // the first trim's result, growth alone would never trim again. A minute of quiet checks; none on a busy server.
    private const int FollowUps = 6;
    private int _followUps;

    private long _compiledAtLastTrim;

    /// <summary>
    /// Trims the C heap when methods were compiled since the last trim (or when <paramref name="force"/>); true when
    /// it trimmed. Costs well under a millisecond with the server's twenty-odd arenas, and happens in the first minutes
    /// of load, when the JIT is busy, then seldom.
    /// </summary>
    public bool TrimNativeHeap(bool force = false)
    {
        var compiled = System.Runtime.JitInfo.GetCompiledMethodCount();
        if (!force && compiled == _compiledAtLastTrim)
        {
            return false;
        }
        _compiledAtLastTrim = compiled;
        return NativeHeap.Trim();
    }

    /// <summary>One check; true when it collected.</summary>
    public bool TrimIfIdle()
    {
        var allocated = GC.GetTotalAllocatedBytes();
        var quiet = _lastAllocated >= 0 && allocated - _lastAllocated < QuietAllocation;
        _lastAllocated = allocated;
        if (!quiet)
        {
            return false;
        }
        var committed = GC.GetGCMemoryInfo().TotalCommittedBytes;
        var grown = committed >= Math.Max(Floor, _afterLastTrim + _afterLastTrim / 4);
        var followUp = !grown && _followUps > 0 && committed >= Floor;
        if (!grown && !followUp)
        {
            return false;
        }
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        _lastAllocated = GC.GetTotalAllocatedBytes();
        var info = GC.GetGCMemoryInfo();
        var after = info.TotalCommittedBytes;
        _followUps = grown ? FollowUps : _followUps - 1;
        _afterLastTrim = after;
        Trimmed(logger, committed / (1024 * 1024), after / (1024 * 1024), info.HeapSizeBytes / (1024 * 1024), info.FragmentedBytes / (1024 * 1024), info.PinnedObjectsCount);
        return true;
    }

    [LoggerMessage(140, LogLevel.Information, "Memory trimmed while idle: GC committed {BeforeMib} MiB, now {AfterMib} MiB (heap {HeapMib} MiB, fragmented {FragmentedMib} MiB, {Pinned} pinned)")]
    private static partial void Trimmed(ILogger logger, long beforeMib, long afterMib, long heapMib, long fragmentedMib, long pinned);
}
