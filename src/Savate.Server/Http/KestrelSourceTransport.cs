using System.IO.Pipelines;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core.Features;

namespace Savate.Server.Http;

/// <summary>A source whose body Kestrel frames (chunked or Content-Length).</summary>
internal sealed class KestrelSourceTransport : ISourceTransport
{
    private readonly HttpContext _context;

    public KestrelSourceTransport(HttpContext context)
    {
        _context = context;
        Body = new TokenSafeBodyReader(context.Request.BodyReader);
        // A live body is unbounded and may be slow at times: Kestrel's 30 MB cap and minimum data
        // rate are for uploads, not for encoders. source-timeout guards silent sources instead.
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } size)
        {
            size.MaxRequestBodySize = null;
        }
        if (context.Features.Get<IHttpMinRequestBodyDataRateFeature>() is { } rate)
        {
            rate.MinDataRate = null;
        }
    }

    public PipeReader Body { get; }

    public CancellationToken Aborted => _context.RequestAborted;

    // Kestrel sends 100 Continue itself when the body is first read.
    public ValueTask ContinueAsync() => ValueTask.CompletedTask;

    public async ValueTask AcceptAsync()
    {
        // Start a read first: that is what makes Kestrel send 100 Continue, which must precede the 200. Once the 200
        // is out the read is ended (a client that sends nothing is the session's to time out, not this wait's) and
        // given back: the session reads the same bytes again.
        using var firstReadEnd = CancellationTokenSource.CreateLinkedTokenSource(Aborted);
        var firstRead = Body.ReadAsync(firstReadEnd.Token);
        try
        {
            _context.Response.StatusCode = 200;
            _context.Response.Headers.CacheControl = "no-cache";
            // Not cancelled by the client leaving: a client that left is seen by the session's reads.
            await _context.Response.StartAsync(CancellationToken.None).ConfigureAwait(false);
            await _context.Response.Body.FlushAsync(CancellationToken.None).ConfigureAwait(false);
        }
        finally
        {
            firstReadEnd.Cancel();
            try
            {
                var result = await firstRead.ConfigureAwait(false);
                Body.AdvanceTo(result.Buffer.Start);
            }
            catch (Exception e) when (e is OperationCanceledException or IOException)
            {
                // Ended above, the client left, or its body is broken: the session's first read says so.
            }
        }
    }

    public async ValueTask RefuseAsync(int statusCode, string message)
    {
        if (_context.Response.HasStarted)
        {
            _context.Abort();
            return;
        }
        // An encoder streams its body blind (ffmpeg's http:// reads no answer before it closes): answer, then
        // close the connection, so that its next write fails. Left to itself Kestrel would drain the body for
        // seconds first (ffmpeg then streamed for 7 s and ended on "Broken pipe"). Closing with body bytes
        // unread resets the connection, which can take the answer with it: what the client sends meanwhile is
        // read and dropped for a moment first, so the answer reaches it (curl stops on it).
        _context.Response.Headers.Connection = "close";
        await HttpResponses.WritePlainAsync(_context, statusCode, message).ConfigureAwait(false);
        await _context.Response.CompleteAsync().ConfigureAwait(false);
        if (!await BodyDrain.DrainRefusedAsync(Body, Aborted).ConfigureAwait(false))
        {
            _context.Abort();
        }
    }

    public void Abort() => _context.Abort();
}
