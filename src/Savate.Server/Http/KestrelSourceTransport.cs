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

    public PipeReader Body => _context.Request.BodyReader;

    public CancellationToken Aborted => _context.RequestAborted;

    // Kestrel sends 100 Continue itself when the body is first read.
    public ValueTask ContinueAsync() => ValueTask.CompletedTask;

    public async ValueTask AcceptAsync()
    {
        // Start a read first: that is what makes Kestrel send 100 Continue, which must precede the 200.
        var firstRead = Body.ReadAsync(Aborted);
        _context.Response.StatusCode = 200;
        _context.Response.Headers.CacheControl = "no-cache";
        await _context.Response.StartAsync(Aborted).ConfigureAwait(false);
        await _context.Response.Body.FlushAsync(Aborted).ConfigureAwait(false);
        var result = await firstRead.ConfigureAwait(false);
        Body.AdvanceTo(result.Buffer.Start);
    }

    public async ValueTask RefuseAsync(int statusCode, string message)
    {
        if (_context.Response.HasStarted)
        {
            _context.Abort();
            return;
        }
        await HttpResponses.WritePlainAsync(_context, statusCode, message).ConfigureAwait(false);
    }

    public void Abort() => _context.Abort();
}
