using System.Buffers;

namespace Savate.Mpegts.Tests.TestSupport;

/// <summary>What a test compares between two reads of the same input.</summary>
internal sealed record PacketRecord(string Hex, int Pid, TsPacketKind Kind, bool IsRandomAccess, long Pts, long Dts, bool ProgramChanged, int SkippedBytes)
{
    public static PacketRecord From(in TsPacketInfo p) =>
        new(Convert.ToHexString(p.Bytes.ToArray()), p.Header.Pid, p.Kind, p.IsRandomAccess, p.Pts, p.Dts, p.ProgramChanged, p.SkippedBytes);
}

internal static class Demux
{
    public static string FixturePath(string name) => Path.Combine(AppContext.BaseDirectory, "Fixtures", name);

    public static byte[] Fixture(string name) => File.ReadAllBytes(FixturePath(name));

    /// <summary>Reads everything available from one sequence, as a single delivery.</summary>
    public static List<PacketRecord> ReadAll(ReadOnlySequence<byte> sequence, TsDemuxer? demuxer = null)
    {
        demuxer ??= new TsDemuxer();
        var reader = new SequenceReader<byte>(sequence);
        var packets = new List<PacketRecord>();
        while (demuxer.TryRead(ref reader, out var packet))
        {
            Assert.Equal(TsPacketHeader.PacketSize, packet.Bytes.Length);
            packets.Add(PacketRecord.From(packet));
        }

        return packets;
    }

    public static List<PacketRecord> ReadAll(byte[] data, TsDemuxer? demuxer = null) => ReadAll(new ReadOnlySequence<byte>(data), demuxer);

    /// <summary>
    /// Delivers the input in chunks (as a socket would), keeping the unconsumed bytes like a Pipe
    /// does between reads: each call sees what is left plus the new chunk.
    /// </summary>
    public static List<PacketRecord> ReadChunked(byte[] data, Func<int> nextChunkSize, TsDemuxer? demuxer = null)
    {
        demuxer ??= new TsDemuxer();
        var packets = new List<PacketRecord>();
        var consumed = 0;
        var available = 0;
        while (available < data.Length)
        {
            available = Math.Min(data.Length, available + Math.Max(1, nextChunkSize()));
            var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(data, consumed, available - consumed));
            while (demuxer.TryRead(ref reader, out var packet))
            {
                packets.Add(PacketRecord.From(packet));
            }

            consumed += (int)reader.Consumed;
        }

        return packets;
    }
}
