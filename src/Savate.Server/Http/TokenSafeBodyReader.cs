using System.IO.Pipelines;

namespace Savate.Server.Http;

/// <summary>
/// Kestrel's request body reader, read with cancellation tokens safely. Kestrel marks its body "reading" before it
/// awaits, and a read that a token cancels (an <see cref="OperationCanceledException"/>) never clears that mark: every
/// later read, including Kestrel's own drain of the body after the request, then fails with "Reading is already in
/// progress" and the connection ends abnormally. This reader never hands Kestrel a token: a token ends the pending read
/// with <see cref="PipeReader.CancelPendingRead"/>, which Kestrel completes cleanly, and the read is then given back
/// (advanced to its start) before the <see cref="OperationCanceledException"/> is thrown. What was read stays unread.
/// </summary>
internal sealed class TokenSafeBodyReader(PipeReader inner) : PipeReader
{
    // Set by CancelPendingRead from a caller: a cancelled result is then theirs, returned as is. Any other cancelled
    // result came from a token (this read's, or a late one from a read that had already completed).
    private int _callerCancelled;

    public override async ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        while (true)
        {
            ReadResult result;
            using (cancellationToken.UnsafeRegister(static r => ((PipeReader)r!).CancelPendingRead(), inner))
            {
                result = await inner.ReadAsync(CancellationToken.None).ConfigureAwait(false);
            }
            if (!result.IsCanceled || Interlocked.Exchange(ref _callerCancelled, 0) == 1)
            {
                return result;
            }
            if (cancellationToken.IsCancellationRequested)
            {
                inner.AdvanceTo(result.Buffer.Start);
                throw new OperationCanceledException(cancellationToken);
            }
            // A token that fired after its read had completed: not a cancellation of this one.
            if (!result.Buffer.IsEmpty || result.IsCompleted)
            {
                return new ReadResult(result.Buffer, isCanceled: false, result.IsCompleted);
            }
            inner.AdvanceTo(result.Buffer.Start);
        }
    }

    public override bool TryRead(out ReadResult result)
    {
        if (!inner.TryRead(out result))
        {
            return false;
        }
        if (result.IsCanceled && Interlocked.Exchange(ref _callerCancelled, 0) == 0)
        {
            result = new ReadResult(result.Buffer, isCanceled: false, result.IsCompleted);
        }
        return true;
    }

    public override void AdvanceTo(SequencePosition consumed) => inner.AdvanceTo(consumed);

    public override void AdvanceTo(SequencePosition consumed, SequencePosition examined) => inner.AdvanceTo(consumed, examined);

    public override void CancelPendingRead()
    {
        Volatile.Write(ref _callerCancelled, 1);
        inner.CancelPendingRead();
    }

    public override void Complete(Exception? exception = null) => inner.Complete(exception);
}
