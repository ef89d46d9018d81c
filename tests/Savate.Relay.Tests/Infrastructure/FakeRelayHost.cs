using System.Collections.Concurrent;

namespace Savate.Relay.Tests.Infrastructure;

/// <summary>Records what the relay hands to the server; listener counts are set by the test.</summary>
public sealed class FakeRelayHost : IRelayHost
{
    private readonly ConcurrentDictionary<string, int> _listeners = new();
    private readonly ConcurrentDictionary<string, TaskCompletionSource> _waiters = new();
    private long _bytes;

    public ConcurrentQueue<FeedCall> Feeds { get; } = new();

    public ConcurrentQueue<string> Discovered { get; } = new();

    public ConcurrentQueue<string> Retired { get; } = new();

    public long Bytes => Interlocked.Read(ref _bytes);

    public int WaitCalls;

    /// <summary>What FeedAsync returns after reading the body (Refused and BadData return at once).</summary>
    public RelayFeedResult Result { get; set; } = RelayFeedResult.Ended;

    public void SetListeners(string mount, int count)
    {
        _listeners[mount] = count;
        if (count > 0 && _waiters.TryRemove(mount, out var waiter))
        {
            waiter.TrySetResult();
        }
    }

    public int GetListenerCount(string mount) => _listeners.GetValueOrDefault(mount);

    public Task WaitForListenersAsync(string mount, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref WaitCalls);
        var waiter = _waiters.GetOrAdd(mount, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        if (GetListenerCount(mount) > 0)
        {
            _waiters.TryRemove(mount, out _);
            return Task.CompletedTask;
        }

        return waiter.Task.WaitAsync(cancellationToken);
    }

    public async Task<RelayFeedResult> FeedAsync(string mount, string? contentType, Stream body, CancellationToken cancellationToken)
    {
        var call = new FeedCall(mount, contentType, DateTimeOffset.UtcNow);
        Feeds.Enqueue(call);
        if (Result != RelayFeedResult.Ended)
        {
            call.End = DateTimeOffset.UtcNow;
            return Result;
        }

        var buffer = new byte[16 * 1024];
        try
        {
            int read;
            while ((read = await body.ReadAsync(buffer, cancellationToken)) > 0)
            {
                Interlocked.Add(ref call.BytesField, read);
                Interlocked.Add(ref _bytes, read);
            }
        }
        catch (IOException ex)
        {
            call.Error = ex;
        }
        finally
        {
            call.End = DateTimeOffset.UtcNow;
        }

        return RelayFeedResult.Ended;
    }

    public void MountDiscovered(string mount) => Discovered.Enqueue(mount);

    public void MountRetired(string mount) => Retired.Enqueue(mount);
}

public sealed class FeedCall(string mount, string? contentType, DateTimeOffset start)
{
    internal long BytesField;

    public string Mount { get; } = mount;

    public string? ContentType { get; } = contentType;

    public DateTimeOffset Start { get; } = start;

    public DateTimeOffset? End { get; set; }

    public Exception? Error { get; set; }

    public long Bytes => Interlocked.Read(ref BytesField);
}
