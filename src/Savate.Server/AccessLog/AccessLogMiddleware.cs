using Microsoft.AspNetCore.Http;
using Savate.Server.Http;

namespace Savate.Server.AccessLog;

/// <summary>
/// Logs each request Kestrel serves, once it is done, with the bytes of its response. Listeners served on
/// the bare socket and accepted sources are logged where they end (<see cref="ListenerAdmission.Leave"/>,
/// <see cref="SourceRunner"/>), with their own byte counts; so an accepted source (its 200) is not logged twice.
/// </summary>
internal static class AccessLogMiddleware
{
    public static async Task InvokeAsync(HttpContext context, RequestDelegate next, AccessLogWriter log, TimeProvider time)
    {
        var started = time.GetTimestamp();
        var request = context.Request;
        var isSource = (HttpMethods.IsPut(request.Method) || HttpMethods.IsPost(request.Method) || request.Method == "SOURCE")
            && !(request.Path.Value ?? "/").StartsWith("/admin/", StringComparison.Ordinal);
        CountingStream? counter = null;
        if (!isSource)
        {
            counter = new CountingStream(context.Response.Body);
            context.Response.Body = counter;
        }
        try
        {
            await next(context).ConfigureAwait(false);
        }
        finally
        {
            if (!(isSource && context.Response.StatusCode == 200))
            {
                BasicAuth.TryParse(request.Headers.Authorization, out var user, out _);
                log.LogRequest(context.Connection.RemoteIpAddress?.ToString() ?? "-", user, request.Method,
                    request.Path.Value + request.QueryString.Value, request.Protocol, context.Response.StatusCode,
                    counter?.Written ?? 0, request.Headers.Referer, request.Headers.UserAgent, time.GetElapsedTime(started));
            }
        }
    }

    /// <summary>Counts what goes through to the response body.</summary>
    private sealed class CountingStream(Stream inner) : Stream
    {
        public long Written { get; private set; }

        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Flush() => inner.Flush();

        public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count)
        {
            inner.Write(buffer, offset, count);
            Written += count;
        }

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            await inner.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
            Written += buffer.Length;
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
    }
}
