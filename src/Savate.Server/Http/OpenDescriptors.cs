using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace Savate.Server.Http;

/// <summary>
/// How many descriptors this process has open, cheaply enough to ask at every burst of accepts with 20,000 open.
/// Listing /proc/self/fd with <see cref="Directory"/> costs a stat of every entry's target (each is a symlink, and the
/// runtime asks whether it points at a directory): at 10,000 sockets that was most of the accept thread's time.
/// <list type="number">
/// <item>Linux 6.2 and later give the count as the size of /proc/self/fd: one stat, no listing.</item>
/// <item>Otherwise readdir counts the entries, with no stat per entry.</item>
/// <item>Elsewhere (or without libc), the runtime's listing.</item>
/// </list>
/// </summary>
internal static partial class OpenDescriptors
{
    private const string Directory = "/proc/self/fd";

    // st_size's offset in glibc's struct stat on x86-64 and on arm64 (both 48); elsewhere the size is not read.
    private const int StatSizeOffset = 48;
    private const int StatBufferSize = 256;

    private static bool s_noStat;
    private static bool s_noReaddir;

    /// <summary>Descriptors open in this process (the one a listing opens is not counted).</summary>
    public static long Count()
    {
        if (!OperatingSystem.IsLinux())
        {
            return CountByListing();
        }
        if (!s_noStat && FromDirectorySize() is { } size)
        {
            return size;
        }
        if (!s_noReaddir && CountByReaddir() is { } counted)
        {
            return counted;
        }
        return CountByListing();
    }

    /// <summary>The size of /proc/self/fd, which Linux 6.2 and later set to the number of descriptors open; null before.</summary>
    internal static long? FromDirectorySize()
    {
        if (RuntimeInformation.ProcessArchitecture is not (Architecture.X64 or Architecture.Arm64))
        {
            s_noStat = true;
            return null;
        }
        try
        {
            Span<byte> buffer = stackalloc byte[StatBufferSize];
            if (Stat(Directory, buffer) != 0)
            {
                return null;
            }
            var size = BinaryPrimitives.ReadInt64LittleEndian(buffer[StatSizeOffset..]);
            if (size <= 0)
            {
                // An older kernel (size 0): list instead, from now on.
                s_noStat = true;
                return null;
            }
            return size;
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            s_noStat = true;
            return null;
        }
    }

    /// <summary>The entries of /proc/self/fd, counted with readdir (no stat); null when it cannot be opened.</summary>
    internal static long? CountByReaddir()
    {
        try
        {
            var dir = OpenDir(Directory);
            if (dir == IntPtr.Zero)
            {
                return null;
            }
            long entries = 0;
            try
            {
                while (ReadDir(dir) != IntPtr.Zero)
                {
                    entries++;
                }
            }
            finally
            {
                _ = CloseDir(dir);
            }
            // "." and "..", and the descriptor the listing itself holds.
            return Math.Max(0, entries - 3);
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            s_noReaddir = true;
            return null;
        }
    }

    /// <summary>The runtime's listing (a stat per entry); the limit's worth when nothing is left to list with.</summary>
    internal static long CountByListing()
    {
        try
        {
            return Math.Max(0, System.IO.Directory.EnumerateFileSystemEntries(Directory).LongCount() - 1);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return long.MaxValue / 2;
        }
    }

    [LibraryImport("libc", EntryPoint = "stat", StringMarshalling = StringMarshalling.Utf8, SetLastError = false)]
    private static partial int Stat(string path, Span<byte> buffer);

    [LibraryImport("libc", EntryPoint = "opendir", StringMarshalling = StringMarshalling.Utf8)]
    private static partial IntPtr OpenDir(string path);

    [LibraryImport("libc", EntryPoint = "readdir")]
    private static partial IntPtr ReadDir(IntPtr dir);

    [LibraryImport("libc", EntryPoint = "closedir")]
    private static partial int CloseDir(IntPtr dir);
}
