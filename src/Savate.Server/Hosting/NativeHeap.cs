using System.Runtime.InteropServices;

namespace Savate.Server.Hosting;

/// <summary>
/// The C heap's free pages, given back to the OS. The runtime's JIT takes its working memory from malloc and frees it
/// after each method, but glibc keeps what is freed inside its arenas: after the burst of compiling (and recompiling
/// at the next tier) that a server's first load brings, the tiering thread's arena held about 13 MB of resident pages
/// with 3.5 MB in use (10,000 listeners: 9 MB of the RSS, docs/benchmarks.md round 8). <c>malloc_trim</c> releases
/// the free pages of every arena (MADV_DONTNEED on free chunks, not only the top of the heap); what is in use stays.
/// glibc only: elsewhere (musl, other systems) the first call finds no such function, and it is not tried again.
/// </summary>
internal static partial class NativeHeap
{
    private static volatile bool s_unsupported = !OperatingSystem.IsLinux();

    /// <summary>Gives the free pages back; false when there is no glibc heap to trim.</summary>
    public static bool Trim()
    {
        if (s_unsupported)
        {
            return false;
        }
        try
        {
            // The pad is what may stay at the top of the main heap: none.
            MallocTrim(0);
            return true;
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            s_unsupported = true;
            return false;
        }
    }

    [LibraryImport("libc", EntryPoint = "malloc_trim")]
    private static partial int MallocTrim(nuint pad);
}
