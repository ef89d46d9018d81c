using Savate.Server.Streaming;

namespace Savate.Server.Tests.Fakes;

/// <summary>
/// An <see cref="IDirectListenerSink"/> in memory, as the send loops drive a bare socket: the join's write and every
/// send are taken at once and counted, or (park) the first send is left pending as a full socket's would be, until
/// <see cref="Complete"/>.
/// </summary>
internal sealed class DirectSink(bool park = false) : IDirectListenerSink
{
    private readonly Lock _lock = new();
    private TaskCompletionSource _sent = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private ReadOnlyMemory<byte>[] _kept = [];
    private int _joins;

    /// <summary>Completed by the join's write (the head and the first batch, through <see cref="WriteAsync"/>).</summary>
    public TaskCompletionSource Joined { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>How many writes went through <see cref="WriteAsync"/> (the join's).</summary>
    public int Joins => Volatile.Read(ref _joins);

    /// <summary>Completed when the first send is parked (park only).</summary>
    public TaskCompletionSource Parked { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>A copy of the parked batch's bytes when it was parked.</summary>
    public byte[] Expected { get; private set; } = [];

    /// <summary>The parked batch's bytes as they are now (what the socket engine would still send).</summary>
    public IEnumerable<byte> Pending => _kept.SelectMany(m => m.ToArray());

    /// <summary>Completes at the next send taken at once.</summary>
    public Task NextSend
    {
        get
        {
            lock (_lock)
            {
                return _sent.Task;
            }
        }
    }

    public ValueTask<bool> WriteAsync(ReadOnlyMemory<ReadOnlyMemory<byte>> buffers, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _joins);
        Joined.TrySetResult();
        return new ValueTask<bool>(true);
    }

    public DirectSendResult Send(ReadOnlySpan<ReadOnlyMemory<byte>> buffers, long bytes, Listener owner)
    {
        if (park && !Parked.Task.IsCompleted)
        {
            owner.RetainBatch();
            _kept = buffers.ToArray();
            Expected = [.. Pending];
            Parked.TrySetResult();
            return DirectSendResult.Pending;
        }
        TaskCompletionSource sent;
        lock (_lock)
        {
            sent = _sent;
            _sent = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
        sent.TrySetResult();
        return DirectSendResult.Done;
    }

    /// <summary>The parked send is done: the socket took the rest.</summary>
    public void Complete(Listener owner)
    {
        _kept = [];
        owner.OnDirectSendCompleted(true);
    }

    public void Abort()
    {
    }
}
