using Savate.Server.Streaming;
using Xunit;

namespace Savate.Server.Tests.Streaming;

public sealed class TcpMemoryMonitorTests
{
    [Fact]
    public void TryParseSockstat_KernelText_ReadsTcpMemPages()
    {
        const string Text = "sockets: used 49\nTCP: inuse 5 orphan 0 tw 812 alloc 6 mem 1234\nUDP: inuse 0 mem 7\n";
        Assert.True(TcpMemoryMonitor.TryParseSockstat(Text, out var pages));
        Assert.Equal(1234, pages);
    }

    [Theory]
    [InlineData("")]
    [InlineData("TCP: inuse 5 orphan 0\n")]
    [InlineData("TCP: inuse 5 mem -3\n")]
    public void TryParseSockstat_NoMemField_ReturnsFalse(string text) => Assert.False(TcpMemoryMonitor.TryParseSockstat(text, out _));

    [Fact]
    public void TryParseTcpMem_ThreeFields_ReadsThem()
    {
        Assert.True(TcpMemoryMonitor.TryParseTcpMem("287898\t383865\t575796\n", out var min, out var pressure, out var max));
        Assert.Equal((287898, 383865, 575796), (min, pressure, max));
        Assert.False(TcpMemoryMonitor.TryParseTcpMem("1 2", out _, out _, out _));
    }

    [Fact]
    public void UnderPressure_FollowsTheFilesAndMissingFilesMeanNone()
    {
        var dir = Directory.CreateTempSubdirectory("savate-tcpmem-");
        try
        {
            var sockstat = Path.Combine(dir.FullName, "sockstat");
            var tcpMem = Path.Combine(dir.FullName, "tcp_mem");
            File.WriteAllText(tcpMem, "100 200 300\n");
            File.WriteAllText(sockstat, "TCP: inuse 1 orphan 0 tw 0 alloc 1 mem 150\n");
            Assert.True(new TcpMemoryMonitor(TimeProvider.System, sockstat, tcpMem).UnderPressure);
            File.WriteAllText(sockstat, "TCP: inuse 1 orphan 0 tw 0 alloc 1 mem 50\n");
            Assert.False(new TcpMemoryMonitor(TimeProvider.System, sockstat, tcpMem).UnderPressure);
            Assert.False(new TcpMemoryMonitor(TimeProvider.System, Path.Combine(dir.FullName, "none"), tcpMem).UnderPressure);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}
