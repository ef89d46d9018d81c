using System.Runtime.InteropServices;
using Savate.Server.Hosting;
using Xunit;

namespace Savate.Server.Tests.Functional;

public sealed class NativeHeapTests
{
    [Fact]
    public void Trim_GivesFreedCHeapPagesBack()
    {
        // What the JIT leaves in glibc's arenas: chunks freed below one still in use, so glibc's own trimming of the
        // heap's top cannot reach them.
        const int Chunks = 2048;
        const int ChunkSize = 16 * 1024;
        var chunks = new nint[Chunks];
        var pattern = new byte[ChunkSize];
        Array.Fill(pattern, (byte)0xA5);
        for (var i = 0; i < Chunks; i++)
        {
            // malloc, written so that its pages are resident.
            chunks[i] = Marshal.AllocHGlobal(ChunkSize);
            Marshal.Copy(pattern, 0, chunks[i], ChunkSize);
        }
        try
        {
            // The last one (the highest, as they were cut one after the other from the arena's top) stays.
            for (var i = 0; i < Chunks - 1; i++)
            {
                Marshal.FreeHGlobal(chunks[i]);
            }
            var before = RssAnonKb();

            Assert.True(NativeHeap.Trim());

            var after = RssAnonKb();
            // 32 MiB were freed; most of it must leave the process (other threads allocate meanwhile).
            Assert.True(before - after > 16 * 1024, $"anonymous RSS {before} KB before the trim, {after} KB after");
        }
        finally
        {
            Marshal.FreeHGlobal(chunks[^1]);
        }
    }

    [Fact]
    public void TrimmerTrimsTheCHeap_AfterTheJitCompiled()
    {
        var trimmer = new MemoryTrimmer(TimeProvider.System, Microsoft.Extensions.Logging.Abstractions.NullLogger<MemoryTrimmer>.Instance);

        // The process compiled methods before this (the test host did): the first check trims.
        Assert.True(trimmer.TrimNativeHeap());
        Assert.True(trimmer.TrimNativeHeap(force: true));
    }

    private static long RssAnonKb()
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith("RssAnon:", StringComparison.Ordinal))
            {
                return long.Parse(line.AsSpan(8).Trim().TrimEnd("kB").Trim(), System.Globalization.CultureInfo.InvariantCulture);
            }
        }
        throw new InvalidOperationException("no RssAnon in /proc/self/status");
    }
}
