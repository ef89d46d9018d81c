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
/// answered here and streamed straight from the ring (<see cref="RawListener"/>). It reads the first request
/// head of every connection, under the connection's deadline (request-head-timeout from the accept, kept by
/// <see cref="ConnectionGate"/>) and the caps of <see cref="RequestHeadLimits"/>, answering a bad one (400, 408,
/// 414, 431) itself; anything else goes on to Kestrel untouched, its head complete and unconsumed.
/// </summary>
internal sealed class RawSourceMiddleware(MountRegistry registry, ConnectionGate gate, SourceRefusals refusals, Auth.AccessControl access, AddressLimits limits, ILogger<RawSourceMiddleware> logger)
{
    // After refusing a head, what the client already sent is read and dropped for this long (at most this
    // much), so that closing does not reset the connection before the client has read the answer.
    private static readonly TimeSpan s_drainTime = TimeSpan.FromSeconds(1);
    private const long DrainBytes = 256 * 1024;

    public async Task OnConnectionAsync(ConnectionContext connection, ConnectionDelegate next)
    {
        if (IsHttp2(connection))
        {
            // HTTP/2 negotiated by ALPN (https:// listen URLs): no HTTP/1 head to read; Kestrel's HTTP/2 reads its
            // own headers under its own limits. The connection is no longer the gate's to time.
            gate.Release(connection.Features.Get<IConnectionSocketFeature>()?.Socket);
            await next(connection).ConfigureAwait(false);
            return;
        }
        var (head, listenerMount, socket) = await ReadHeadAsync(connection).ConfigureAwait(false);
        if (head is null)
        {
            // Refused, timed out, shed or gone: answered (or not) and closed already.
            return;
        }
        if (head.IsRawSource)
        {
            await HandleAsync(connection, head).ConfigureAwait(false);
        }
        else if (listenerMount is not null)
        {
            await RawListener.HandleAsync(new KestrelListenerConnection(connection, socket!), head, registry, listenerMount, access, limits, logger).ConfigureAwait(false);
        }
        else
        {
            await next(connection).ConfigureAwait(false);
        }
    }

    private static bool IsHttp2(ConnectionContext connection) =>
        connection.Features.Get<Microsoft.AspNetCore.Server.Kestrel.Core.Features.ITlsApplicationProtocolFeature>() is { } alpn && alpn.ApplicationProtocol.Span.SequenceEqual("h2"u8);

    // Stands for "not HTTP/1 in clear text" (a TLS handshake): Kestrel's, untouched.
    private static readonly RawRequestHead s_notHttp = new() { Method = "", Target = "", Version = "" };

    /// <summary>
    /// Reads the first request head of a connection under its deadline (request-head-timeout from the accept)
    /// and the caps of <see cref="RequestHeadLimits"/>. Returns the head with the pipe advanced past it when it
    /// is served here (a raw source or listener), or with nothing consumed when it is Kestrel's, so Kestrel
    /// parses the same bytes at once. Null when the connection was answered with an error (400, 408, 414, 431)
    /// or dropped.
    /// </summary>
    private async Task<(RawRequestHead? Head, Mount? ListenerMount, System.Net.Sockets.Socket? Socket)> ReadHeadAsync(ConnectionContext connection)
    {
        var input = connection.Transport.Input;
        // Raw listeners write to the socket itself: only over a plain TCP socket (not TLS, not a test transport).
        var socket = connection.Features.Get<IConnectionSocketFeature>()?.Socket;
        var rawListeners = socket is not null && connection.Features.Get<ITlsConnectionFeature>() is null;
        using var pending = gate.Track(socket);
        var reader = default(RequestHeadReader);
        try
        {
            while (true)
            {
                var result = await input.ReadAsync(pending.Token).ConfigureAwait(false);
                var buffer = result.Buffer;
                if (reader.Examined == 0 && !buffer.IsEmpty && buffer.FirstSpan[0] == 0x16)
                {
                    // A TLS ClientHello: Kestrel's (and its handshake timeout's).
                    input.AdvanceTo(buffer.Start);
                    return (s_notHttp, null, socket);
                }
                RawRequestHead? head;
                SequencePosition end;
                try
                {
                    if (!reader.TryRead(buffer, out head, out end))
                    {
                        if (result.IsCompleted)
                        {
                            // Closed in the middle of its head.
                            input.AdvanceTo(buffer.End);
                            return default;
                        }
                        input.AdvanceTo(buffer.Start, buffer.End);
                        continue;
                    }
                }
                catch (BadRequestHeadException e)
                {
                    input.AdvanceTo(buffer.End);
                    await RefuseAsync(connection, e.StatusCode, BadRequestHeadException.Describe(e.Reason)).ConfigureAwait(false);
                    return default;
                }
                if (head.Path is null && (head.Target != "*" || head.IsRawSource))
                {
                    input.AdvanceTo(buffer.End);
                    await RefuseAsync(connection, 400, $"Bad path {head.Target}: {head.PathError}").ConfigureAwait(false);
                    return default;
                }
                // Unknown paths stay Kestrel's (404); only known mounts are taken over.
                var listenerMount = rawListeners && !head.IsRawSource ? head.ListenerMount(registry) : null;
                // Served here: the head is consumed. Kestrel's: consume and examine nothing, so its first read sees the same bytes at once.
                input.AdvanceTo(head.IsRawSource || listenerMount is not null ? end : buffer.Start);
                return (head, listenerMount, socket);
            }
        }
        catch (OperationCanceledException) when (pending.End == PendingEnd.TimedOut)
        {
            await RefuseAsync(connection, 408, $"The request head did not arrive within {gate.Timeout.TotalSeconds:0.###} s").ConfigureAwait(false);
            return default;
        }
        catch (Exception e) when (e is OperationCanceledException or ConnectionAbortedException or IOException)
        {
            // Shed by the gate, reset by the peer, or the server is stopping.
            connection.Abort(new ConnectionAbortedException("Request head not finished"));
            return default;
        }
    }

    /// <summary>Answers a head that will not be read, logs it (rate-limited), and lets the client read the answer before the close.</summary>
    private async Task RefuseAsync(ConnectionContext connection, int statusCode, string reason)
    {
        var remote = connection.RemoteEndPoint?.ToString() ?? "unknown";
        gate.OnBadHead(remote, ConnectionGate.AddressOf(connection.RemoteEndPoint), $"{statusCode} {reason}");
        try
        {
            await connection.Transport.Output.WriteAsync(HttpResponses.RawPlain("HTTP/1.1", statusCode, reason)).ConfigureAwait(false);
            await BodyDrain.DrainAsync(connection.Transport.Input, s_drainTime, DrainBytes, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or ConnectionAbortedException or IOException or InvalidOperationException)
        {
            // Gone, or its output already closed: the close will do.
        }
        await connection.Transport.Output.CompleteAsync().ConfigureAwait(false);
        await connection.Transport.Input.CompleteAsync().ConfigureAwait(false);
    }

    private async Task HandleAsync(ConnectionContext connection, RawRequestHead head)
    {
        var remote = connection.RemoteEndPoint?.ToString() ?? "unknown";
        var address = AccessRequests.Resolve(connection.RemoteEndPoint, head, registry.Config.Server, ref remote);
        var transport = new RawSourceTransport(connection, head);
        // Per-address caps first (403): a source over them claims no mount and asks no hook.
        var lease = limits.TryAcquire(address ?? AddressLimits.KeyFor(connection.RemoteEndPoint), what: null, out var limited);
        try
        {
            Admission admission;
            try
            {
                admission = lease is null ? Admission.Refuse(403, limited) : await SourceAdmission.AdmitAsync(registry, access, AccessRequests.FromHead(head, address, remote), head.ContentType, head.ExpectsContinue,
                    connection.ConnectionClosed).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // Gone (or the server stopping) while a hook was asked.
                return;
            }
            if (!admission.IsAccepted)
            {
                await refusals.RefuseAsync(transport, admission, head.Path!, remote, head.Authorization).ConfigureAwait(false);
                registry.AccessLog?.LogRequest(AccessLog.AccessLogWriter.HostOf(remote), null, head.Method, head.Target, head.Version, admission.StatusCode, 0, null, head.UserAgent, TimeSpan.Zero);
                return;
            }
            await SourceRunner.RunAsync(admission, transport, logger).ConfigureAwait(false);
        }
        finally
        {
            lease?.Dispose();
            await connection.Transport.Output.CompleteAsync().ConfigureAwait(false);
            await connection.Transport.Input.CompleteAsync().ConfigureAwait(false);
        }
    }

    private sealed class RawSourceTransport(ConnectionContext connection, RawRequestHead head) : ISourceTransport
    {
        private bool _continued;
        private bool _answered;

        public PipeReader Body { get; } = head.ContentLength is { } length ? new SizedBodyReader(connection.Transport.Input, length) : connection.Transport.Input;

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
            if (Body is SizedBodyReader)
            {
                // A sized body sent blind (curl -T sends a small file without waiting for 100 Continue) must not
                // reset the connection before the client reads the answer: what it sends is dropped for a moment
                // first, as Kestrel did for it. (A body that runs until the close is an encoder's: it is closed on.)
                await BodyDrain.DrainRefusedAsync(Body, Aborted).ConfigureAwait(false);
            }
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
