using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Savate.Server.Http;
using Savate.Server.Tests.Infrastructure;
using Savate.TestSupport;
using Xunit;

namespace Savate.Server.Tests.Http;

/// <summary>
/// Reading Kestrel's request body with a token that fires (Http/TokenSafeBodyReader.cs): the read ends, the next one
/// gets every byte, and Kestrel's own drain after the request does not fail ("Reading is already in progress").
/// </summary>
public sealed class TokenSafeBodyReaderTests
{
    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task KestrelBody_ReadCancelledByItsToken_NextReadGetsTheRestAndTheConnectionIsReused()
    {
        var (handled, logs) = await RunCancelledReadAsync(body => new TokenSafeBodyReader(body));

        Assert.Equal("read 1000 bytes after a cancelled read", handled);
        Assert.DoesNotContain(logs.Entries, e => e.Level >= LogLevel.Warning);
    }

    [Fact]
    public async Task KestrelBody_ReadCancelledByItsTokenWithoutTheWrapper_StaysReading()
    {
        // Why the wrapper exists: Kestrel's own reader never clears its reading mark after a token's cancellation.
        var (handled, _) = await RunCancelledReadAsync(body => body);

        Assert.Equal("InvalidOperationException: Reading is already in progress.", handled);
    }

    [Fact]
    public async Task Read_LateCancelFromAnEarlierToken_IsNotSeenAsACancellation()
    {
        var pipe = new Pipe();
        var reader = new TokenSafeBodyReader(pipe.Reader);
        // What a token's callback does when it fires just after its read completed.
        pipe.Reader.CancelPendingRead();

        var read = reader.ReadAsync().AsTask();
        await pipe.Writer.WriteAsync("abc"u8.ToArray());
        var result = await read.WaitAsync(s_wait);

        Assert.False(result.IsCanceled);
        Assert.Equal("abc", Encoding.ASCII.GetString(result.Buffer.ToArray()));
    }

    [Fact]
    public async Task Read_CancelPendingReadFromTheCaller_ReturnsACancelledResult()
    {
        var pipe = new Pipe();
        var reader = new TokenSafeBodyReader(pipe.Reader);

        var read = reader.ReadAsync().AsTask();
        reader.CancelPendingRead();
        var result = await read.WaitAsync(s_wait);

        Assert.True(result.IsCanceled);
    }

    [Fact]
    public async Task Read_TokenFires_ThrowsAndLeavesTheBytesUnread()
    {
        var pipe = new Pipe();
        var reader = new TokenSafeBodyReader(pipe.Reader);
        using var cts = new CancellationTokenSource();

        var read = reader.ReadAsync(cts.Token).AsTask();
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => read.WaitAsync(s_wait));
        await pipe.Writer.WriteAsync("xyz"u8.ToArray());
        var next = await reader.ReadAsync().AsTask().WaitAsync(s_wait);

        Assert.False(next.IsCanceled);
        Assert.Equal("xyz", Encoding.ASCII.GetString(next.Buffer.ToArray()));
    }

    /// <summary>
    /// A PUT of 1000 bytes whose first 100 come with the head: the handler reads them, then reads again with a token
    /// that fires while nothing arrives, then reads the 900 bytes sent after that. A GET on the same connection follows.
    /// </summary>
    private static async Task<(string Handled, LogCapture Logs)> RunCancelledReadAsync(Func<PipeReader, PipeReader> wrap)
    {
        var logs = new LogCapture();
        var cancelled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var handled = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders().AddProvider(logs);
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, 0));
        await using var app = builder.Build();
        app.Run(async context =>
        {
            if (HttpMethods.IsGet(context.Request.Method))
            {
                await context.Response.WriteAsync("second");
                return;
            }
            var body = wrap(context.Request.BodyReader);
            try
            {
                var first = await body.ReadAsync();
                long total = first.Buffer.Length;
                body.AdvanceTo(first.Buffer.End);
                using (var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(200)))
                {
                    await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await body.ReadAsync(cts.Token));
                }
                cancelled.SetResult();
                while (true)
                {
                    var result = await body.ReadAsync();
                    total += result.Buffer.Length;
                    body.AdvanceTo(result.Buffer.End);
                    if (result.IsCompleted)
                    {
                        break;
                    }
                }
                handled.SetResult($"read {total} bytes after a cancelled read");
            }
            catch (InvalidOperationException e)
            {
                handled.TrySetResult($"{e.GetType().Name}: {e.Message}");
                cancelled.TrySetResult();
                throw;
            }
            await context.Response.WriteAsync("first");
        });
        await app.StartAsync();
        var port = new Uri(app.Urls.First()).Port;

        await using var client = await RawHttp.ConnectAsync(port);
        byte[] request = [.. Encoding.ASCII.GetBytes("PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n"), .. new byte[100]];
        await client.SendAsync(request);
        await cancelled.Task.WaitAsync(s_wait);
        await client.SendAsync(new byte[900]);
        var outcome = await handled.Task.WaitAsync(s_wait);
        var (head, _) = await client.ReadHeadAsync(s_wait);
        if (outcome.StartsWith("read", StringComparison.Ordinal))
        {
            Assert.StartsWith("HTTP/1.1 200", head, StringComparison.Ordinal);
            await client.ReadAsync("first".Length, s_wait);
            await client.SendAsync("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
            var (second, _) = await client.ReadHeadAsync(s_wait);
            Assert.StartsWith("HTTP/1.1 200", second, StringComparison.Ordinal);
        }
        await app.StopAsync();
        return (outcome, logs);
    }
}
