using System.Diagnostics;
using Savate.Server.Streaming;
using Savate.Server.Tests.Infrastructure;
using Xunit;

namespace Savate.Server.Tests.Functional;

/// <summary>Kernel TCP memory (issue 9, point 8): under pressure, a listener that stopped reading goes at max-lag.</summary>
public sealed class KernelMemoryTests
{
    private const string Config = """
        server:
          source-password: change-me
          listener-send-buffer: 16KiB
        mounts:
          - path: /live.flv
            format: flv
            max-lag: 1s
            evict-lag: 60s
            buffer: 90s
        """;

    [Fact]
    public async Task StalledListener_UnderTcpMemoryPressure_IsEvictedAtMaxLagNotEvictLag()
    {
        var dir = Directory.CreateTempSubdirectory("savate-tcpmem-");
        try
        {
            // The kernel's figures, faked: TCP memory above tcp_mem's min.
            var sockstat = Path.Combine(dir.FullName, "sockstat");
            var tcpMem = Path.Combine(dir.FullName, "tcp_mem");
            File.WriteAllText(tcpMem, "1000 2000 3000\n");
            File.WriteAllText(sockstat, "TCP: inuse 1 orphan 0 tw 0 alloc 1 mem 1500\n");
            await using var server = await TestServer.StartAsync(Config);
            server.Registry.TcpMemory = new TcpMemoryMonitor(TimeProvider.System, sockstat, tcpMem);
            using var push = Ffmpeg.PushFlvChunkedPost(server.SourceUrl("/live.flv"));
            await LiveFanOutTests.WaitForMediaAsync(server, "/live.flv", mediaMs: 1000);
            var mount = server.Registry.Find("/live.flv")!;

            await using var stalled = await RawHttp.ConnectAsync(server.Port, receiveBuffer: 4096);
            await stalled.SendAsync("GET /live.flv HTTP/1.1\r\nHost: x\r\n\r\n");
            var clock = Stopwatch.StartNew();
            await Wait.UntilAsync(() => mount.Stats.Evictions == 1, TimeSpan.FromSeconds(30), "the stalled listener to be evicted");

            // evict-lag is 60 s: only the pressure rule evicts this early.
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"evicted after {clock.Elapsed.TotalSeconds:0.0} s");
            Assert.Contains(server.Logs.Entries, e => e.EventId == 112 && e.Message.Contains("above"));
            var decode = await Ffmpeg.DecodeAsync(server.Url("/live.flv").ToString(), seconds: 2);
            SourceLimitsTests.AssertCleanDecode(decode, minVideoFrames: 40);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}
