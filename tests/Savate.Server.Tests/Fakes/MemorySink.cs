using Savate.Server.Streaming;

namespace Savate.Server.Tests.Fakes;

/// <summary>
/// An <see cref="IListenerSink"/> in memory: records every batch, and can be <see cref="Block"/>ed to play
/// a peer that stopped reading (a write then completes only when unblocked or aborted).
/// </summary>
internal sealed class MemorySink : IListenerSink
{
    private readonly object _lock = new();
    private readonly MemoryStream _bytes = new();
    private readonly List<int> _batchSizes = [];
    private readonly List<byte[]> _batches = [];
    private TaskCompletionSource? _gate;
    private TaskCompletionSource _wrote = NewSource();
    private bool _aborted;

    /// <summary>Called inside WriteAsync after the batch is recorded (re-entrancy tests).</summary>
    public Action<MemorySink>? OnWrite { get; set; }

    public int AbortCount { get; private set; }

    public bool IsAborted
    {
        get
        {
            lock (_lock)
            {
                return _aborted;
            }
        }
    }

    /// <summary>Writes started (including blocked ones).</summary>
    public int WriteCount
    {
        get
        {
            lock (_lock)
            {
                return _batchSizes.Count;
            }
        }
    }

    /// <summary>Buffers in each batch.</summary>
    public int[] BatchSizes
    {
        get
        {
            lock (_lock)
            {
                return [.. _batchSizes];
            }
        }
    }

    /// <summary>The bytes of each batch, concatenated per batch.</summary>
    public byte[][] Batches
    {
        get
        {
            lock (_lock)
            {
                return [.. _batches];
            }
        }
    }

    public byte[] Bytes
    {
        get
        {
            lock (_lock)
            {
                return _bytes.ToArray();
            }
        }
    }

    /// <summary>Completes when a write starts after this was read.</summary>
    public Task NextWrite
    {
        get
        {
            lock (_lock)
            {
                return _wrote.Task;
            }
        }
    }

    public void Block()
    {
        lock (_lock)
        {
            _gate ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
    }

    public void Unblock()
    {
        TaskCompletionSource? gate;
        lock (_lock)
        {
            gate = _gate;
            _gate = null;
        }
        gate?.TrySetResult();
    }

    public async ValueTask<bool> WriteAsync(ReadOnlyMemory<ReadOnlyMemory<byte>> buffers, CancellationToken cancellationToken)
    {
        Task? gate;
        TaskCompletionSource wrote;
        lock (_lock)
        {
            if (_aborted)
            {
                return false;
            }
            var batch = new MemoryStream();
            foreach (var buffer in buffers.Span)
            {
                batch.Write(buffer.Span);
            }
            _batches.Add(batch.ToArray());
            _bytes.Write(batch.ToArray());
            _batchSizes.Add(buffers.Length);
            gate = _gate?.Task;
            wrote = _wrote;
            _wrote = NewSource();
        }
        wrote.TrySetResult();
        OnWrite?.Invoke(this);
        if (gate is not null)
        {
            await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        lock (_lock)
        {
            return !_aborted;
        }
    }

    public void Abort()
    {
        TaskCompletionSource? gate;
        lock (_lock)
        {
            AbortCount++;
            _aborted = true;
            gate = _gate;
            _gate = null;
        }
        gate?.TrySetResult();
    }

    private static TaskCompletionSource NewSource() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
