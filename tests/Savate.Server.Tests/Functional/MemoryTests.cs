using System.Net.Sockets;
using System.Text;
using Savate.Server.Tests.Infrastructure;
using Xunit;

namespace Savate.Server.Tests.Functional;

/// <summary>
/// Issue 9, point 7: 200 sources each holding a partly sent 4 MiB tag. The partial-input budget drops most of them, and
/// the server's resident memory comes back near its baseline after they leave (the server as its own process, so that
/// its RSS is its own). It runs alone: on a loaded CI run, beside the other tests, RSS twice failed to come back in time.
/// </summary>
[Collection(nameof(MemoryTests))]
public sealed class MemoryTests
{
    private const string Config = """
        server:
          source-password: change-me
          source-timeout: 120s
          source-min-rate: 0
          max-dynamic-mounts: 300
        """;

    [Fact]
    public async Task PartialTagAttack_BudgetDropsSources_AndRssReturnsNearBaseline()
    {
        await using var server = await ChildServer.StartAsync(Config);
        await Task.Delay(3000);
        var baseline = server.RssBytes();
        // The process's own descriptors (assemblies, pipes, the listen socket): about 200 with every package loaded.
        var baselineFds = server.NonFileFdCount();

        // A tag that declares 4 MiB - 1, and 3.5 MiB of it.
        const int Size = 4 * 1024 * 1024 - 1;
        var start = new byte[] { (byte)'F', (byte)'L', (byte)'V', 1, 5, 0, 0, 0, 9, 0, 0, 0, 0, 9, Size >> 16 & 0xFF, Size >> 8 & 0xFF, Size & 0xFF, 0, 0, 0, 0, 0, 0, 0, 0x17 };
        var body = new byte[3584 * 1024];
        var auth = SourceLimitsTests.Auth;
        var sockets = new List<Socket>();
        long peak = baseline;
        try
        {
            for (var i = 0; i < 200; i++)
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                sockets.Add(socket);
                await socket.ConnectAsync("127.0.0.1", server.Port);
                await socket.SendAsync(Encoding.ASCII.GetBytes($"PUT /p{i}.flv HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {auth}\r\nContent-Type: video/x-flv\r\n\r\n"), SocketFlags.None);
                var answer = new byte[1024];
                using (var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10)))
                {
                    await socket.ReceiveAsync(answer, SocketFlags.None, cts.Token);
                }
                try
                {
                    using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                    await socket.SendAsync(start, SocketFlags.None, cts.Token);
                    await socket.SendAsync(body, SocketFlags.None, cts.Token);
                }
                catch (Exception e) when (e is SocketException or OperationCanceledException)
                {
                    // Dropped by the budget while sending.
                }
                peak = Math.Max(peak, server.RssBytes());
            }
            await Wait.UntilAsync(() => server.Output.Contains("partial-input-budget", StringComparison.Ordinal), TimeSpan.FromSeconds(10), "sources dropped by the budget");
            peak = Math.Max(peak, server.RssBytes());
        }
        finally
        {
            foreach (var socket in sockets)
            {
                socket.Dispose();
            }
        }

        // Unbounded, this was 1.35 GB at the peak and 1.32 GB a minute later; the budget is 64 MiB. Giving memory back
        // takes the trimmer two 10 s checks with little allocated (Hosting/MemoryTrimmer), which a loaded machine can push past a minute.
        Assert.True(peak - baseline < 400L * 1024 * 1024, $"peak RSS {peak >> 20} MB over a baseline of {baseline >> 20} MB");
        var limit = baseline + 64L * 1024 * 1024;
        try
        {
            await Wait.UntilAsync(() => server.RssBytes() < limit, TimeSpan.FromSeconds(120), "RSS back within 64 MB of its baseline");
        }
        catch (TimeoutException)
        {
            // Said after the wait, not before: the RSS then, and what the trimmer logged.
            Assert.Fail($"RSS {server.RssBytes() >> 20} MB after 120 s, not back within 64 MB of its baseline {baseline >> 20} MB "
                + $"(peak {peak >> 20} MB); the trimmer said: "
                + string.Join(" | ", server.Output.Split('\n').Where(l => l.Contains("Memory trimmed", StringComparison.Ordinal))));
        }
        // Every dynamic mount the attack made is removed once its 2 s grace is over. Twice it was not: a grace timer
        // firing a few ms early kept half of them in grace for good, then (rarely) one whose grace ended between
        // that early evaluation and a second look at the clock (Mount.OnGraceOver).
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{server.Port}") };
        var mounts = "";
        try
        {
            await Wait.UntilAsync(async () =>
            {
                using var status = System.Text.Json.JsonDocument.Parse(await http.GetStringAsync("/status.json"));
                mounts = status.RootElement.GetProperty("mounts").GetRawText();
                return status.RootElement.GetProperty("mounts").GetArrayLength() == 0;
            }, TimeSpan.FromSeconds(30), "every dynamic mount of the attack removed after its grace");
        }
        catch (TimeoutException)
        {
            Assert.Fail($"mounts left 30 s after the attack: {mounts}");
        }
        // Sockets, pipes and epoll sets (files are the runtime's assemblies, opened as code is first used: a source's
        // password check loads the crypto assembly, the first connection starts the socket watcher's epoll set).
        Assert.True(server.NonFileFdCount() < baselineFds + 10, $"{server.NonFileFdCount()} descriptors other than files open against {baselineFds} before the attack: {server.FdSummary()}");
    }
}

/// <summary>The memory test measures the process's RSS over minutes: nothing else may run beside it.</summary>
[CollectionDefinition(nameof(MemoryTests), DisableParallelization = true)]
public sealed class MemoryTestsCollection;
