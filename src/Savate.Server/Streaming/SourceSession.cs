using System.Buffers;
using System.IO.Pipelines;
using Savate.Flv;
using Savate.Mpegts;
using Savate.Server.Configuration;
using Savate.Server.Streaming.Ingest;

namespace Savate.Server.Streaming;

internal enum SourceEnd
{
    /// <summary>The encoder closed its body (or connection).</summary>
    Completed,
    /// <summary>Nothing arrived for source-timeout.</summary>
    TimedOut,
    /// <summary>The bytes were not the mount's format.</summary>
    BadData,
    /// <summary>The connection broke.</summary>
    ConnectionLost,
    /// <summary>The server is stopping, or an operator kicked the source.</summary>
    Cancelled,
    /// <summary>A limit was exceeded: the minimum data rate, or the partial-input budget.</summary>
    OverLimit,
}

/// <summary>The outcome of a source session, with the reason in words for the log.</summary>
internal readonly record struct SourceResult(SourceEnd End, string Reason);

/// <summary>
/// One encoder pushing into one mount, whatever the transport (Kestrel body, raw connection, file,
/// relay). It reads the body, feeds the container ingest, and hands the mount back when done.
/// </summary>
internal sealed class SourceSession(Mount mount, string remote, string? userAgent = null, SourceGuard? guard = null)
{
    private readonly CancellationTokenSource _kick = new();
    private string? _dropReason;

    public Mount Mount { get; } = mount;

    public string Remote { get; } = remote;

    public string? UserAgent { get; } = userAgent;

    public DateTimeOffset ConnectedAt { get; } = DateTimeOffset.UtcNow;

    public long BytesIn => Interlocked.Read(ref _bytesIn);

    public MountFormat Format { get; private set; }

    private long _bytesIn;

    /// <summary>The server-wide limits this source is held to (null for tests that need none).</summary>
    public SourceGuard? Guard => guard;

    /// <summary>Ends the session (admin kill, shutdown).</summary>
    public void Kick() => _kick.Cancel();

    /// <summary>Ends the session for going over a limit (it reports <see cref="SourceEnd.OverLimit"/> with <paramref name="reason"/>).</summary>
    public void Drop(string reason)
    {
        Interlocked.CompareExchange(ref _dropReason, reason, null);
        _kick.Cancel();
    }

    /// <summary>
    /// Waits for enough bytes to tell the format (when the Content-Type did not). Returns
    /// <see cref="MountFormat.Auto"/> if the bytes are neither FLV nor MPEG-TS, null if the body ended or timed out first.
    /// </summary>
    public static async ValueTask<MountFormat?> SniffAsync(PipeReader body, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(timeout);
        try
        {
            while (true)
            {
                var result = await body.ReadAsync(cts.Token).ConfigureAwait(false);
                var decision = FormatSniffer.Sniff(result.Buffer, result.IsCompleted);
                if (decision is not null || result.IsCompleted)
                {
                    body.AdvanceTo(result.Buffer.Start);
                    return decision ?? MountFormat.Auto;
                }
                body.AdvanceTo(result.Buffer.Start, result.Buffer.End);
            }
        }
        catch (OperationCanceledException)
        {
            return null;
        }
    }

    /// <summary>How the session ended, once <see cref="RunAsync"/> returned; null before (or if it never ran).</summary>
    public SourceEnd? End { get; private set; }

    /// <summary>Reads the body into the mount until it ends. The caller has claimed the mount and fixed the format.</summary>
    public async Task<SourceResult> RunAsync(PipeReader body, MountFormat format, CancellationToken cancellationToken)
    {
        var result = await RunSessionAsync(body, format, cancellationToken).ConfigureAwait(false);
        End = result.End;
        return result;
    }

    private async Task<SourceResult> RunSessionAsync(PipeReader body, MountFormat format, CancellationToken cancellationToken)
    {
        Format = format;
        var ingest = ContainerIngest.Create(Mount, format);
        Mount.AttachLiveIngest(this, ingest);
        var timeout = Mount.Server.SourceTimeout;
        var minRate = Mount.Server.SourceMinRate;
        var time = Mount.Time;
        var windowStart = time.GetTimestamp();
        long windowBytes = 0;
        // The connection going away (the client closed right after sending, or it reset) does not cancel a read:
        // it ends the pending one (CancelPendingRead), and what had arrived is still read and published.
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(_kick.Token);
        using var abort = cancellationToken.UnsafeRegister(static b => ((PipeReader)b!).CancelPendingRead(), body);
        var aborted = false;
        using var timer = new CancellationTokenSource();
        using var both = CancellationTokenSource.CreateLinkedTokenSource(linked.Token, timer.Token);
        long pending = 0;
        long reportedSkips = 0;
        try
        {
            while (true)
            {
                timer.CancelAfter(timeout);
                ReadResult result;
                if (!aborted)
                {
                    result = await body.ReadAsync(both.Token).ConfigureAwait(false);
                }
                else if (!body.TryRead(out result))
                {
                    return new SourceResult(SourceEnd.ConnectionLost, "connection closed by the client before the end of its body");
                }
                timer.CancelAfter(Timeout.InfiniteTimeSpan);
                var buffer = result.Buffer;
                var fresh = buffer.Length - pending;
                if (fresh > 0)
                {
                    Interlocked.Add(ref _bytesIn, fresh);
                    Mount.Stats.AddBytesIn(fresh);
                    windowBytes += fresh;
                }
                var consumed = ingest.Process(buffer);
                ingest.Flush();
                var held = buffer.Slice(consumed).Length;
                if (guard is not null && held != pending && guard.Budget.Update(this, held) is { } over)
                {
                    over.Session.Drop($"held {over.Held} bytes of incomplete input, the most when all sources held {over.Total} (partial-input-budget {guard.Budget.Limit})");
                }
                pending = held;
                body.AdvanceTo(consumed, buffer.End);
                if (ingest is TsIngest ts && ts.SkippedBytes > reportedSkips)
                {
                    // Junk TS resyncs on every read: one line per client address per window, with the bytes skipped meanwhile.
                    if (guard is null || guard.HostileLog.ShouldLog($"{SourceGuard.AddressOf(Remote)}|resync", out _))
                    {
                        StreamingLog.TsResync(Mount.Logger, Mount.Path, ts.SkippedBytes - reportedSkips);
                        reportedSkips = ts.SkippedBytes;
                    }
                }
                // Kestrel's MinRequestBodyDataRate, per source-timeout window (the first window is the grace period).
                var elapsed = time.GetElapsedTime(windowStart);
                if (elapsed >= timeout)
                {
                    if (minRate > 0 && windowBytes < minRate * elapsed.TotalSeconds)
                    {
                        return new SourceResult(SourceEnd.OverLimit,
                            $"{windowBytes / elapsed.TotalSeconds:0.#} bytes/s over {elapsed.TotalSeconds:0.#} s, below source-min-rate {minRate} bytes/s");
                    }
                    windowStart = time.GetTimestamp();
                    windowBytes = 0;
                }
                if (aborted && fresh <= 0 && !result.IsCompleted)
                {
                    // Nothing more arrived before the connection went: what there was is published.
                    return new SourceResult(SourceEnd.ConnectionLost, "connection closed by the client before the end of its body");
                }
                if (result.IsCanceled && !result.IsCompleted && cancellationToken.IsCancellationRequested)
                {
                    aborted = true;
                    continue;
                }
                if (result.IsCompleted || result.IsCanceled)
                {
                    return pending > 0
                        ? new SourceResult(SourceEnd.Completed, $"body ended with {pending} bytes of an incomplete {(format == MountFormat.Flv ? "tag" : "packet")}")
                        : new SourceResult(SourceEnd.Completed, "end of stream");
                }
            }
        }
        catch (OperationCanceledException) when (timer.IsCancellationRequested && !linked.IsCancellationRequested)
        {
            return new SourceResult(SourceEnd.TimedOut, $"no data for {timeout.TotalSeconds:0.###} s");
        }
        catch (OperationCanceledException) when (Volatile.Read(ref _dropReason) is { } reason)
        {
            return new SourceResult(SourceEnd.OverLimit, reason);
        }
        catch (OperationCanceledException)
        {
            return _kick.IsCancellationRequested
                ? new SourceResult(SourceEnd.Cancelled, "kicked")
                : new SourceResult(SourceEnd.ConnectionLost, "connection aborted");
        }
        catch (FlvFormatException e)
        {
            return new SourceResult(SourceEnd.BadData, $"invalid FLV ({e.Reason}): {e.Message}");
        }
        catch (TsFormatException e)
        {
            return new SourceResult(SourceEnd.BadData, $"invalid MPEG-TS ({e.Reason}): {e.Message}");
        }
        catch (IOException e)
        {
            // Kestrel's BadHttpRequestException (bad chunk framing) and ConnectionResetException are IOExceptions.
            return new SourceResult(SourceEnd.ConnectionLost, e.Message);
        }
        finally
        {
            guard?.Budget.Remove(this);
            ingest.Abandon();
        }
    }
}
