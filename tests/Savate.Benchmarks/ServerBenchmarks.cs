using System.Buffers;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;
using Microsoft.Extensions.Logging.Abstractions;
using Savate.Server.Configuration;
using Savate.Server.Streaming;
using Savate.Server.Streaming.Ingest;

namespace Savate.Benchmarks;

internal static class Mounts
{
    public static Mount Create(MountFormat format = MountFormat.Flv) =>
        new(new MountConfig { Path = "/bench", Format = format }, new ServerConfig(), new SlicePool(), TimeProvider.System, NullLogger.Instance);
}

/// <summary>
/// Publishing into the ring: FlvIngest.Process over the FLV sample (repeated), fed as a source's reads
/// arrive (16 KB at a time, Flush after each read, as SourceSession does). One operation is one tag.
/// Each pass gets a fresh mount, so the ring trims as it does live (30 s of media, 64 MiB).
/// </summary>
[MemoryDiagnoser]
[SimpleJob(RunStrategy.Throughput, warmupCount: 3, iterationCount: 5)]
public class IngestBenchmarks
{
    private const int Tags = 11_662;
    private const int ReadSize = 16 * 1024;

    private byte[] _flv = [];
    private Mount _mount = null!;

    [GlobalSetup]
    public void Setup() => _flv = SampleData.Flv(out _);

    [IterationSetup]
    public void NewMount()
    {
        _mount?.Dispose();
        _mount = Mounts.Create();
    }

    [GlobalCleanup]
    public void Cleanup() => _mount?.Dispose();

    [Benchmark(Baseline = true, OperationsPerInvoke = Tags)]
    public long FlvIngestProcess()
    {
        var ingest = new FlvIngest(_mount);
        var start = 0;
        var end = 0;
        while (start < _flv.Length)
        {
            end = Math.Min(_flv.Length, end + ReadSize);
            var buffer = new ReadOnlySequence<byte>(_flv, start, end - start);
            var consumed = ingest.Process(buffer);
            ingest.Flush();
            start += (int)buffer.Slice(0, consumed).Length;
            if (end == _flv.Length && start < end)
            {
                break;
            }
        }
        ingest.Abandon();
        return _mount.Ring.Head;
    }
}

/// <summary>
/// Fan-out: one 5 KB slice (40 ms of a 1 Mbit/s stream) appended to the ring and N in-memory listeners
/// woken to send it to a sink that discards synchronously. Allocated / N is the allocation per slice
/// per listener (target 0). <see cref="CancellableToken"/> = true passes a cancellable token to the
/// listeners, as the HTTP path does (RequestAborted); false passes CancellationToken.None.
/// </summary>
[MemoryDiagnoser]
[SimpleJob(RunStrategy.Throughput, warmupCount: 3, iterationCount: 5)]
public class FanOutBenchmarks
{
    private const int SliceBytes = 5_000;

    private Mount _mount = null!;
    private DiscardSink _sink = null!;
    private CancellationTokenSource _stop = null!;
    private Task[] _listeners = [];
    private long _time;

    [Params(100, 1000, 5000)]
    public int N { get; set; }

    [Params(false, true)]
    public bool CancellableToken { get; set; }

    /// <summary>True: the listeners are on a direct sink, driven by the send loops (bare sockets); false: each its own async loop (Kestrel, TLS, tests).</summary>
    [Params(false, true)]
    public bool SendLoops { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _mount = Mounts.Create();
        _sink = SendLoops ? new DirectDiscardSink() : new DiscardSink();
        _stop = new CancellationTokenSource();
        var token = CancellableToken ? _stop.Token : CancellationToken.None;
        Append(keyframe: true);
        _listeners = new Task[N];
        for (var i = 0; i < N; i++)
        {
            var listener = new Listener(_mount, _sink, "bench");
            _mount.TryAddListener(listener);
            _listeners[i] = Task.Run(() => listener.RunAsync(token));
        }
        _sink.WaitFor(N);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _stop.Cancel();
        _mount.Dispose();
        Task.WaitAll(_listeners, TimeSpan.FromSeconds(10));
    }

    [Benchmark]
    public long PublishOneSlice()
    {
        var target = _sink.Writes + N;
        Append(keyframe: false);
        _mount.Signal.Set();
        _sink.WaitFor(target);
        return target;
    }

    private void Append(bool keyframe)
    {
        var slice = new Slice(SliceChunk.Rent(_mount.Pool, SliceBytes), 0, SliceBytes, _mount.Ring.Head, _time, _time + 40, keyframe, null);
        _time += 40;
        _mount.Ring.Append(slice);
    }

    /// <summary>A bare socket's sink as the send loops see it: every send taken at once.</summary>
    private sealed class DirectDiscardSink : DiscardSink, IDirectListenerSink
    {
        public DirectSendResult Send(ReadOnlySpan<ReadOnlyMemory<byte>> buffers, long bytes, Listener owner)
        {
            Count();
            return DirectSendResult.Done;
        }
    }

    private class DiscardSink : IListenerSink
    {
        private long _writes;

        protected void Count() => Interlocked.Increment(ref _writes);

        public long Writes => Volatile.Read(ref _writes);

        public ValueTask<bool> WriteAsync(ReadOnlyMemory<ReadOnlyMemory<byte>> buffers, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _writes);
            return new ValueTask<bool>(true);
        }

        public void Abort()
        {
        }

        public void WaitFor(long writes)
        {
            var spin = new SpinWait();
            while (Volatile.Read(ref _writes) < writes)
            {
                spin.SpinOnce();
            }
        }
    }
}
