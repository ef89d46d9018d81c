using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Savate.Server.Streaming;

/// <summary>
/// The CPU time the calling thread has used, in <see cref="Stopwatch"/> ticks: how busy a send loop really is. Wall
/// time overstates it whenever the loop's thread waits for a core (the load beside the server, another process):
/// measured with wall time, the pacer stretched the flush at 5,000 listeners when the loops used 31% of a core each
/// (docs/benchmarks.md, round 4). Linux's CLOCK_THREAD_CPUTIME_ID; elsewhere, wall time.
/// </summary>
internal static partial class ThreadCpuClock
{
    private const int ClockThreadCpuTime = 3;
    private static bool s_unavailable = !OperatingSystem.IsLinux();

    /// <summary>Now, on the calling thread's CPU clock (or the wall clock where there is none): compare two readings of one thread only.</summary>
    public static long Now()
    {
        if (!Volatile.Read(ref s_unavailable))
        {
            try
            {
                if (ClockGetTime(ClockThreadCpuTime, out var time) == 0)
                {
                    var nanoseconds = (time.Seconds * 1_000_000_000) + time.Nanoseconds;
                    return Stopwatch.Frequency == 1_000_000_000 ? nanoseconds : (long)(nanoseconds * (Stopwatch.Frequency / 1e9));
                }
            }
            catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
            {
            }
            Volatile.Write(ref s_unavailable, true);
        }
        return Stopwatch.GetTimestamp();
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [LibraryImport("libc", EntryPoint = "clock_gettime")]
    private static partial int ClockGetTime(int clock, out TimeSpec time);
}
