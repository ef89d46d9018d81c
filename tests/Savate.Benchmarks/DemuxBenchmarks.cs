using System.Buffers;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;
using Savate.Flv;
using Savate.Mpegts;

namespace Savate.Benchmarks;

/// <summary>
/// FLV demux: FlvReader over ~8 MB of real tags (samples/sample.flv repeated), in one buffer and in
/// 4 KB segments. One operation is one tag (OperationsPerInvoke), so Allocated is bytes per tag and
/// GB/s = average tag size / Mean (the average is printed by GlobalSetup and in docs/benchmarks.md).
/// </summary>
[MemoryDiagnoser]
[SimpleJob(RunStrategy.Throughput, warmupCount: 3, iterationCount: 5)]
public class FlvDemuxBenchmarks
{
    // sample.flv repeated to 8 MB holds this many tags (8,009,155 bytes, 686.8 bytes per tag); checked in GlobalSetup.
    private const int Tags = 11_662;

    private byte[] _data = [];
    private ReadOnlySequence<byte> _single;
    private ReadOnlySequence<byte> _segmented;

    [GlobalSetup]
    public void Setup()
    {
        _data = SampleData.Flv(out var tags);
        if (tags != Tags)
        {
            throw new InvalidOperationException($"sample.flv changed: {tags} tags in {_data.Length} bytes; update Tags.");
        }
        _single = new ReadOnlySequence<byte>(_data);
        _segmented = SampleData.Segmented(_data, 4096);
        Console.WriteLine($"// FLV input: {_data.Length} bytes, {tags} tags, {_data.Length / (double)tags:0.0} bytes per tag");
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Tags)]
    public long OneBuffer() => ReadAll(_single);

    [Benchmark(OperationsPerInvoke = Tags)]
    public long Segments4K() => ReadAll(_segmented);

    private static long ReadAll(ReadOnlySequence<byte> data)
    {
        var reader = new SequenceReader<byte>(data);
        var flv = new FlvReader(null);
        long keyframes = 0;
        while (flv.TryReadTag(ref reader, out var tag))
        {
            keyframes += tag.IsKeyframe ? 1 : 0;
        }
        return keyframes;
    }
}

/// <summary>
/// TS demux: TsDemuxer over samples/sample.ts repeated to ~8 MB, in one buffer and in 4 KB segments.
/// One operation is one 188-byte packet, so GB/s = 188 / Mean.
/// </summary>
[MemoryDiagnoser]
[SimpleJob(RunStrategy.Throughput, warmupCount: 3, iterationCount: 5)]
public class TsDemuxBenchmarks
{
    private const int Packets = 42_975;

    private byte[] _data = [];
    private ReadOnlySequence<byte> _single;
    private ReadOnlySequence<byte> _segmented;
    private TsDemuxer _demuxer = null!;

    [GlobalSetup]
    public void Setup()
    {
        _data = SampleData.Ts(out var packets);
        if (packets != Packets)
        {
            throw new InvalidOperationException($"sample.ts changed: {packets} packets; update Packets.");
        }
        _single = new ReadOnlySequence<byte>(_data);
        _segmented = SampleData.Segmented(_data, 4096);
        // One demuxer for the whole run, as for a live source: the input is one continuous stream.
        _demuxer = new TsDemuxer();
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Packets)]
    public long OneBuffer() => ReadAll(_single);

    [Benchmark(OperationsPerInvoke = Packets)]
    public long Segments4K() => ReadAll(_segmented);

    private long ReadAll(ReadOnlySequence<byte> data)
    {
        var reader = new SequenceReader<byte>(data);
        long randomAccess = 0;
        while (_demuxer.TryRead(ref reader, out var packet))
        {
            randomAccess += packet.IsRandomAccess ? 1 : 0;
        }
        return randomAccess;
    }
}
