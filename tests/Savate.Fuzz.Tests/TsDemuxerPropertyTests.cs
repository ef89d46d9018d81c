using System.Buffers;
using CsCheck;
using Savate.Fuzz.Targets;
using Savate.Fuzz.Tests.TestSupport;
using Savate.Mpegts;
using Savate.Mpegts.Tests.TestSupport;

namespace Savate.Fuzz.Tests;

/// <summary>
/// Properties of <see cref="TsDemuxer"/>: on any input only <see cref="TsFormatException"/> escapes and the result
/// does not depend on how the bytes are split into reads; valid generated streams, after any garbage, read back exactly.
/// </summary>
public class TsDemuxerPropertyTests
{
    private static readonly byte[][] s_samples = Mutations.Corpus("ts", ".ts");
    private static readonly byte[] s_streamTypes = [0x1B, 0x24, 0x0F, 0x03, 0x06, 0x15, 0x81];

    [Fact]
    public void TryRead_ArbitraryBytes_ThrowsOnlyTsFormatExceptionWhateverTheSplit()
    {
        var noSync = 0;
        Gen.Select(Gen.Byte.Array[0, 4000], Gen.Int[1, 500], Gen.Bool).Sample((input, readSize, shortLimit) =>
        {
            var outcome = Check(input, readSize, shortLimit);
            if (outcome.Contains("error:NoSync"))
            {
                Interlocked.Increment(ref noSync);
            }
        }, iter: 1000);

        Assert.True(noSync > 0, "no input was refused for lack of sync");
    }

    [Fact]
    public void TryRead_SyncBytesAtRandomStrides_ThrowsOnlyTsFormatExceptionWhateverTheSplit()
    {
        // Random bytes rarely look like TS: put 0x47 at the stride, with packets torn and shifted, to reach resync.
        var packet = Gen.Select(Gen.Byte.Array[187], Gen.Int[0, 9], (rest, tear) => tear == 0 ? rest[..(rest.Length / 2)] : [0x47, .. rest]);
        Gen.Select(packet.Array[0, 30], Gen.Int[1, 500], Gen.Bool).Sample((packets, readSize, shortLimit) =>
        {
            Check([.. packets.SelectMany(p => p)], readSize, shortLimit);
        }, iter: 500);
    }

    [Fact]
    public void TryRead_MutatedSamples_ThrowsOnlyTsFormatExceptionWhateverTheSplit()
    {
        var packets = 0L;
        Gen.Select(Mutations.Of(s_samples), Gen.Int[1, 700], Gen.Bool).Sample((input, readSize, shortLimit) =>
        {
            var outcome = Check(input, readSize, shortLimit);
            Interlocked.Add(ref packets, outcome.Count(o => char.IsAsciiDigit(o[0])));
        }, iter: 1000);

        Assert.True(packets > 0);
    }

    [Fact]
    public void TryRead_GeneratedStreamAfterGarbage_RoundTripsWhateverTheSplit()
    {
        var pmtPid = Gen.Int[0x20, 0x1FFE].Where(pid => pid is < 0x100 or > 0x103);
        var streamType = Gen.Int[0, s_streamTypes.Length - 1].Select(i => s_streamTypes[i]);
        var stream = Gen.Select(pmtPid, streamType.Array[1, 4],
            (pmtPid, streamTypes) => (PmtPid: pmtPid, Streams: streamTypes.Select((type, i) => (Type: type, Pid: 0x100 + i)).ToArray()));
        var packet = Gen.Select(Gen.Int[0, 3], Gen.Bool, Gen.Byte.Array[0, 184], (stream, pusi, payload) => (Stream: stream, Pusi: pusi, Payload: payload));
        var garbage = Gen.Byte.Array[0, 400].Select(bytes => bytes.Where(b => b != 0x47).ToArray());
        Gen.Select(stream, packet.Array[1, 60], garbage, Gen.Int[1, 800]).Sample((program, packets, junk, readSize) =>
        {
            var builder = new TsBuilder().Add(junk);
            builder.Pat(1, program.PmtPid);
            builder.Pmt(program.PmtPid, 1, program.Streams[0].Pid, 0, [.. program.Streams.Select(s => (s.Type, s.Pid, Array.Empty<byte>()))]);
            var expected = new List<(int Pid, byte[] Bytes)>();
            foreach (var (index, pusi, payload) in packets)
            {
                var pid = program.Streams[index % program.Streams.Length].Pid;
                var bytes = TsBuilder.Packet(pid, pusi, builder.NextCc(pid), payload);
                builder.Add(bytes);
                expected.Add((pid, bytes));
            }
            var input = builder.ToArray();

            var read = ReadAll(input, readSize, out var demuxer);

            Assert.Equal(junk.Length, demuxer.SkippedBytes);
            Assert.Equal(2 + expected.Count, read.Count);
            Assert.Equal(0, read[0].Pid);
            Assert.Equal(program.PmtPid, read[1].Pid);
            Assert.True(read[1].ProgramChanged);
            var info = Assert.IsType<TsProgramInfo>(demuxer.Program);
            Assert.Equal(program.PmtPid, info.PmtPid);
            Assert.Equal(program.Streams.Select(s => (s.Type, s.Pid)), info.Streams.Select(s => (s.StreamType, s.Pid)));
            for (var i = 0; i < expected.Count; i++)
            {
                Assert.Equal(expected[i].Pid, read[i + 2].Pid);
                Assert.Equal(expected[i].Bytes, read[i + 2].Bytes);
                Assert.Equal(info.Streams.First(s => s.Pid == expected[i].Pid).Kind, read[i + 2].Kind);
            }
        }, iter: 300);
    }

    private static List<string> Check(byte[] input, int readSize, bool shortLimit)
    {
        var options = shortLimit ? new TsDemuxerOptions { MaxResyncBytes = 512 } : new TsDemuxerOptions();
        var whole = TsTarget.Read(input, input.Length + 1, options);
        var split = TsTarget.Read(input, readSize, options);
        Assert.Equal(whole, split);
        return whole;
    }

    private static List<(int Pid, TsPacketKind Kind, bool ProgramChanged, byte[] Bytes)> ReadAll(byte[] input, int readSize, out TsDemuxer demuxer)
    {
        var packets = new List<(int, TsPacketKind, bool, byte[])>();
        demuxer = new TsDemuxer();
        var consumed = 0;
        for (var available = Math.Min(readSize, input.Length); ; available = Math.Min(available + readSize, input.Length))
        {
            var reader = new SequenceReader<byte>(Segments.Split(input.AsMemory(consumed, available - consumed), readSize));
            while (demuxer.TryRead(ref reader, out var packet))
            {
                packets.Add((packet.Header.Pid, packet.Kind, packet.ProgramChanged, packet.Bytes.ToArray()));
            }
            consumed += (int)reader.Consumed;
            if (available == input.Length)
            {
                return packets;
            }
        }
    }
}
