using System.Buffers;
using System.IO.Pipelines;

namespace Savate.Server.Http;

/// <summary>
/// A Content-Length body read straight from the connection (the raw source path): at most that many bytes, and
/// complete once they are all read, whether or not the connection is still open. Bytes past the body are never shown
/// (the connection closes after a source). A connection that ends first ends the body too, short.
/// </summary>
internal sealed class SizedBodyReader(PipeReader connection, long length) : PipeReader
{
    private long _left = length;
    private ReadOnlySequence<byte> _shown;
    // The last result was made up here (the body was already whole): nothing to give back to the connection.
    private bool _synthetic;

    /// <summary>Body bytes not read yet.</summary>
    public long Left => _left;

    public override async ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
    {
        if (_left == 0)
        {
            return Whole();
        }
        return Shape(await connection.ReadAsync(cancellationToken).ConfigureAwait(false));
    }

    public override bool TryRead(out ReadResult result)
    {
        if (_left == 0)
        {
            result = Whole();
            return true;
        }
        if (!connection.TryRead(out var read))
        {
            result = default;
            return false;
        }
        result = Shape(read);
        return true;
    }

    private ReadResult Whole()
    {
        _synthetic = true;
        _shown = ReadOnlySequence<byte>.Empty;
        return new ReadResult(_shown, isCanceled: false, isCompleted: true);
    }

    private ReadResult Shape(ReadResult read)
    {
        _synthetic = false;
        var buffer = read.Buffer;
        var whole = buffer.Length >= _left;
        _shown = whole ? buffer.Slice(0, _left) : buffer;
        return new ReadResult(_shown, read.IsCanceled, whole || read.IsCompleted);
    }

    public override void AdvanceTo(SequencePosition consumed) => AdvanceTo(consumed, consumed);

    public override void AdvanceTo(SequencePosition consumed, SequencePosition examined)
    {
        if (_synthetic)
        {
            return;
        }
        _left -= _shown.Slice(0, consumed).Length;
        // Examined past what was shown would hide bytes that are not the body's: nothing is examined beyond it.
        connection.AdvanceTo(consumed, examined);
    }

    public override void CancelPendingRead() => connection.CancelPendingRead();

    public override void Complete(Exception? exception = null) => connection.Complete(exception);
}
