using System.Buffers;
using Savate.Server.Streaming.Ingest;

namespace Savate.Server.Streaming.Feeds;

/// <summary>
/// A listener sink that feeds another mount's stream into an ingest: how a mount plays another mount
/// as its fallback. The source mount's slices hold whole units, so nothing is normally left over; what
/// is (a unit cut by a batch limit) waits for the next batch.
/// </summary>
internal sealed class IngestSink(IContainerIngest ingest, CancellationTokenSource stop) : IListenerSink
{
    private byte[] _pending = new byte[64 * 1024];
    private int _pendingLength;

    public ValueTask<bool> WriteAsync(ReadOnlyMemory<ReadOnlyMemory<byte>> buffers, CancellationToken cancellationToken)
    {
        foreach (var buffer in buffers.Span)
        {
            Append(buffer.Span);
        }
        var sequence = new ReadOnlySequence<byte>(_pending, 0, _pendingLength);
        var consumed = (int)sequence.Slice(0, ingest.Process(sequence)).Length;
        ingest.Flush();
        _pending.AsSpan(consumed, _pendingLength - consumed).CopyTo(_pending);
        _pendingLength -= consumed;
        return ValueTask.FromResult(!stop.IsCancellationRequested);
    }

    public void Abort() => stop.Cancel();

    private void Append(ReadOnlySpan<byte> data)
    {
        if (_pendingLength + data.Length > _pending.Length)
        {
            Array.Resize(ref _pending, Math.Max(_pending.Length * 2, _pendingLength + data.Length));
        }
        data.CopyTo(_pending.AsSpan(_pendingLength));
        _pendingLength += data.Length;
    }
}
