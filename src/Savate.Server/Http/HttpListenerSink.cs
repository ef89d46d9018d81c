using System.Buffers;
using System.IO.Pipelines;
using Microsoft.AspNetCore.Http;
using Savate.Server.Streaming;

namespace Savate.Server.Http;

/// <summary>A listener's HTTP response: each batch is copied into Kestrel's pipe and flushed once.</summary>
internal sealed class HttpListenerSink(HttpContext context) : IListenerSink
{
    private readonly PipeWriter _writer = context.Response.BodyWriter;

    public async ValueTask<bool> WriteAsync(ReadOnlyMemory<ReadOnlyMemory<byte>> buffers, CancellationToken cancellationToken)
    {
        Copy(buffers.Span);
        var result = await _writer.FlushAsync(cancellationToken).ConfigureAwait(false);
        return !result.IsCompleted && !result.IsCanceled;
    }

    public void Abort() => context.Abort();

    private void Copy(ReadOnlySpan<ReadOnlyMemory<byte>> buffers)
    {
        foreach (var buffer in buffers)
        {
            _writer.Write(buffer.Span);
        }
    }
}
