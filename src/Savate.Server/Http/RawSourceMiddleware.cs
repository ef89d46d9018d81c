using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;
using Savate.Server.Streaming;

namespace Savate.Server.Http;

/// <summary>
/// Connection middleware for the requests best served below Kestrel's HTTP layer. Sources Kestrel cannot
/// read: Icecast's SOURCE method (often with an ICE/1.0 version) and PUT/POST with neither Content-Length
/// nor Transfer-Encoding, whose body (ffmpeg's icecast://) runs until the connection closes, where RFC 7230
/// (and so Kestrel) sees an empty body. And listeners: GET/HEAD on a known mount, over a plain socket, are
/// answered here and streamed straight from the ring (<see cref="RawListener"/>). It peeks at the request
/// head without consuming it; anything else goes on to Kestrel untouched.
/// </summary>
internal sealed class RawSourceMiddleware(MountRegistry registry, SourceRefusals refusals, ILogger<RawSourceMiddleware> logger)
{
    // Request heads are small; a longer one is Kestrel's to refuse (431).
    private const int MaxHeadBytes = 16 * 1024;

    public async Task OnConnectionAsync(ConnectionContext connection, ConnectionDelegate next)
    {
        var input = connection.Transport.Input;
        // Raw listeners write to the socket itself: only over a plain TCP socket (not TLS, not a test transport).
        var socket = connection.Features.Get<IConnectionSocketFeature>()?.Socket;
        var rawListeners = socket is not null && connection.Features.Get<ITlsConnectionFeature>() is null;
        RawRequestHead? head = null;
        Mount? listenerMount = null;
        try
        {
            while (true)
            {
                var result = await input.ReadAsync(connection.ConnectionClosed).ConfigureAwait(false);
                var buffer = result.Buffer;
                var decision = RawRequestHead.TryParse(buffer, out var parsed, out var headEnd, rawListeners);
                if (decision == HeadDecision.NeedMore && !result.IsCompleted && buffer.Length < MaxHeadBytes)
                {
                    input.AdvanceTo(buffer.Start, buffer.End);
                    continue;
                }
                if (decision == HeadDecision.Parsed && parsed!.IsRawSource)
                {
                    head = parsed;
                    input.AdvanceTo(headEnd);
                }
                else if (decision == HeadDecision.Parsed && parsed!.ListenerMount(registry) is { } mount)
                {
                    // Unknown paths stay Kestrel's (404); only known mounts are taken over.
                    head = parsed;
                    listenerMount = mount;
                    input.AdvanceTo(headEnd);
                }
                else
                {
                    // Consume nothing and examine nothing: Kestrel's first read sees the same bytes at once.
                    input.AdvanceTo(buffer.Start);
                }
                break;
            }
        }
        catch (OperationCanceledException)
        {
            return;
        }

        if (head is null)
        {
            await next(connection).ConfigureAwait(false);
            return;
        }
        if (listenerMount is not null)
        {
            await RawListener.HandleAsync(new KestrelListenerConnection(connection, socket!), head.IsHead, head.UserAgent, registry, listenerMount).ConfigureAwait(false);
            return;
        }
        await HandleAsync(connection, head).ConfigureAwait(false);
    }

    private async Task HandleAsync(ConnectionContext connection, RawRequestHead head)
    {
        var remote = connection.RemoteEndPoint?.ToString() ?? "unknown";
        var transport = new RawSourceTransport(connection, head);
        var admission = SourceAdmission.Admit(registry, head.Path, head.Authorization, head.ContentType, remote, head.UserAgent, head.ExpectsContinue);
        try
        {
            if (!admission.IsAccepted)
            {
                await refusals.RefuseAsync(transport, admission, head.Path, remote, head.Authorization).ConfigureAwait(false);
                return;
            }
            await SourceRunner.RunAsync(admission, transport, logger).ConfigureAwait(false);
        }
        finally
        {
            await connection.Transport.Output.CompleteAsync().ConfigureAwait(false);
            await connection.Transport.Input.CompleteAsync().ConfigureAwait(false);
        }
    }

    private sealed class RawSourceTransport(ConnectionContext connection, RawRequestHead head) : ISourceTransport
    {
        private bool _continued;
        private bool _answered;

        public PipeReader Body => connection.Transport.Input;

        public CancellationToken Aborted => connection.ConnectionClosed;

        public async ValueTask ContinueAsync()
        {
            if (head.ExpectsContinue && !_continued)
            {
                _continued = true;
                await WriteAsync("HTTP/1.1 100 Continue\r\n\r\n"u8.ToArray()).ConfigureAwait(false);
            }
        }

        public async ValueTask AcceptAsync()
        {
            await ContinueAsync().ConfigureAwait(false);
            _answered = true;
            await WriteAsync(Encoding.ASCII.GetBytes($"{head.ResponseVersion} 200 OK\r\nServer: Savate\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n")).ConfigureAwait(false);
        }

        public async ValueTask RefuseAsync(int statusCode, string message)
        {
            if (_answered)
            {
                Abort();
                return;
            }
            _answered = true;
            await WriteAsync(HttpResponses.RawPlain(head.ResponseVersion, statusCode, message)).ConfigureAwait(false);
        }

        public void Abort() => connection.Abort(new ConnectionAbortedException("Source dropped"));

        private async ValueTask WriteAsync(byte[] bytes)
        {
            try
            {
                await connection.Transport.Output.WriteAsync(bytes, connection.ConnectionClosed).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or IOException or ConnectionAbortedException)
            {
                // The peer is gone; the body read will say so.
            }
        }
    }
}

internal enum HeadDecision
{
    NeedMore,
    Parsed,
    NotHttp,
}

/// <summary>A request head, parsed just enough to route a raw source.</summary>
internal sealed class RawRequestHead
{
    public required string Method { get; init; }
    public required string Path { get; init; }
    public required string Version { get; init; }
    public string? Authorization { get; init; }
    public string? ContentType { get; init; }
    public string? UserAgent { get; init; }
    public bool ExpectsContinue { get; init; }
    public bool HasLength { get; init; }

    /// <summary>SOURCE always; PUT/POST only without any body framing.</summary>
    public bool IsRawSource => Method == "SOURCE" || (Method is "PUT" or "POST" && !HasLength);

    /// <summary>GET or HEAD over HTTP/1.x: a listener, if the path is a mount.</summary>
    public bool IsListener => Method is "GET" or "HEAD" && Version is "HTTP/1.0" or "HTTP/1.1";

    /// <summary>The mount this request listens to, when it is a GET or HEAD for a known mount.</summary>
    public Mount? ListenerMount(MountRegistry registry) => IsListener ? MountPaths.FindListenable(registry, Path) : null;

    public bool IsHead => Method == "HEAD";

    public string ResponseVersion => Version == "HTTP/1.1" ? "HTTP/1.1" : "HTTP/1.0";

    /// <summary>
    /// Parses a request head that may be a raw source (and, with <paramref name="listeners"/>, a GET or HEAD);
    /// anything else is <see cref="HeadDecision.NotHttp"/> as soon as its method shows.
    /// </summary>
    public static HeadDecision TryParse(in ReadOnlySequence<byte> buffer, out RawRequestHead? head, out SequencePosition end, bool listeners = false)
    {
        head = null;
        end = buffer.Start;
        Span<byte> start = stackalloc byte[7];
        var startLength = (int)Math.Min(buffer.Length, start.Length);
        buffer.Slice(0, startLength).CopyTo(start);
        start = start[..startLength];
        if (!StartsWithAny(start, s_sourceMethods) && !(listeners && StartsWithAny(start, s_listenerMethods)))
        {
            return HeadDecision.NotHttp;
        }
        var reader = new SequenceReader<byte>(buffer);
        if (!reader.TryReadTo(out ReadOnlySequence<byte> headBytes, "\r\n\r\n"u8, advancePastDelimiter: true))
        {
            return HeadDecision.NeedMore;
        }
        end = reader.Position;
        var text = Encoding.Latin1.GetString(headBytes);
        var lines = text.Split("\r\n");
        var requestLine = lines[0].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (requestLine.Length != 3)
        {
            return HeadDecision.NotHttp;
        }
        string? authorization = null, contentType = null, userAgent = null;
        var expects = false;
        var hasLength = false;
        foreach (var line in lines.AsSpan(1))
        {
            var colon = line.IndexOf(':');
            if (colon <= 0)
            {
                continue;
            }
            var name = line[..colon].Trim();
            var value = line[(colon + 1)..].Trim();
            if (name.Equals("Authorization", StringComparison.OrdinalIgnoreCase))
            {
                authorization = value;
            }
            else if (name.Equals("Content-Type", StringComparison.OrdinalIgnoreCase))
            {
                contentType = value;
            }
            else if (name.Equals("User-Agent", StringComparison.OrdinalIgnoreCase))
            {
                userAgent = value;
            }
            else if (name.Equals("Expect", StringComparison.OrdinalIgnoreCase))
            {
                expects = value.Equals("100-continue", StringComparison.OrdinalIgnoreCase);
            }
            else if (name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase) || name.Equals("Transfer-Encoding", StringComparison.OrdinalIgnoreCase))
            {
                hasLength = true;
            }
        }
        var target = requestLine[1];
        if (Uri.TryCreate(target, UriKind.Absolute, out var absolute) && absolute.Scheme is "http" or "https")
        {
            target = absolute.AbsolutePath;
        }
        var query = target.IndexOfAny(['?', '#']);
        head = new RawRequestHead
        {
            Method = requestLine[0],
            Path = Uri.UnescapeDataString(query >= 0 ? target[..query] : target),
            Version = requestLine[2],
            Authorization = authorization,
            ContentType = contentType,
            UserAgent = userAgent,
            ExpectsContinue = expects,
            HasLength = hasLength,
        };
        return HeadDecision.Parsed;
    }

    private static readonly string[] s_sourceMethods = ["SOURCE ", "PUT ", "POST "];
    private static readonly string[] s_listenerMethods = ["GET ", "HEAD "];

    private static bool StartsWithAny(ReadOnlySpan<byte> start, string[] methods)
    {
        foreach (var method in methods)
        {
            var length = Math.Min(start.Length, method.Length);
            var matches = true;
            for (var i = 0; i < length; i++)
            {
                if (start[i] != method[i])
                {
                    matches = false;
                    break;
                }
            }
            if (matches)
            {
                return true;
            }
        }
        return false;
    }
}
