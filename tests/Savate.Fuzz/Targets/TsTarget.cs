using System.Buffers;
using Savate.Mpegts;

namespace Savate.Fuzz.Targets;

/// <summary>
/// <see cref="TsDemuxer"/> on arbitrary bytes: only <see cref="TsFormatException"/> may escape, and demuxing the
/// bytes whole or as a live body finds the same packets, program and error. Each packet also goes through
/// the rewrites a mount applies to hostile input (<see cref="TsRewriter"/>): they must not throw either.
/// </summary>
internal static class TsTarget
{
    public static void Run(byte[] input)
    {
        // A short resync limit now and then, so that the NoSync path is reached with small inputs.
        var options = input.Length > 0 && input[^1] == 0xFF ? new TsDemuxerOptions { MaxResyncBytes = 512 } : new TsDemuxerOptions();
        var whole = Read(input, input.Length + 1, options);
        var split = Read(input, Segments.SplitSize(input), options);
        if (!whole.SequenceEqual(split))
        {
            throw new FuzzInvariantException(
                $"TS demuxer: whole input gives [{string.Join(", ", whole)}], read {Segments.SplitSize(input)} bytes at a time gives [{string.Join(", ", split)}]");
        }
    }

    internal static List<string> Read(byte[] input, int readSize, TsDemuxerOptions options)
    {
        var seen = new List<string>();
        var demuxer = new TsDemuxer(options);
        var consumed = 0;
        Span<byte> copy = stackalloc byte[TsPacketHeader.PacketSize];
        try
        {
            for (var available = Math.Min(readSize, input.Length); ; available = Math.Min(available + readSize, input.Length))
            {
                var buffer = Segments.Split(input.AsMemory(consumed, available - consumed), readSize);
                var reader = new SequenceReader<byte>(buffer);
                while (demuxer.TryRead(ref reader, out var packet))
                {
                    var offset = consumed + reader.Consumed - TsPacketHeader.PacketSize;
                    var h = packet.Header;
                    seen.Add($"{offset}:{h.Pid}/{packet.Kind}/{h.PayloadUnitStart}/{h.ContinuityCounter}/{packet.IsRandomAccess}/{packet.Pts}/{packet.Dts}/{packet.ProgramChanged}/{packet.SkippedBytes}");
                    if (packet.Bytes.Length != TsPacketHeader.PacketSize || packet.Bytes.FirstSpan[0] != TsPacketHeader.SyncByte)
                    {
                        throw new FuzzInvariantException($"TS packet at {offset} is {packet.Bytes.Length} bytes, or does not start with 0x47");
                    }
                    if (packet.ProgramChanged)
                    {
                        var program = demuxer.Program;
                        seen.Add(program is null ? "program:none" : $"program:{program.ProgramNumber}/{program.PmtPid}/{program.PcrPid}/{string.Join('+', program.Streams)}");
                        if (program is not null && demuxer.ProgramPackets.Length % TsPacketHeader.PacketSize != 0)
                        {
                            throw new FuzzInvariantException($"TS program packets are {demuxer.ProgramPackets.Length} bytes, not a multiple of 188");
                        }
                    }
                    packet.Bytes.CopyTo(copy);
                    Rewrite(copy, packet);
                }
                consumed += (int)reader.Consumed;
                if (available == input.Length)
                {
                    break;
                }
            }
        }
        catch (TsFormatException e)
        {
            // After the error the demuxer is done with: how much garbage it had consumed by then depends on the reads.
            seen.Add($"error:{e.Reason}");
            return seen;
        }
        seen.Add($"skipped:{demuxer.SkippedBytes}");
        return seen;
    }

    private static void Rewrite(Span<byte> packet, in TsPacketInfo info)
    {
        TsRewriter.SetContinuityCounter(packet, (info.Header.ContinuityCounter + 1) & 0x0F);
        TsRewriter.ShiftTimestamps(packet, 90_000L * 3600);
        TsRewriter.SetDiscontinuityIndicator(packet);
        if (info.Kind is TsPacketKind.Pat or TsPacketKind.Pmt)
        {
            TsRewriter.TrySetPsiVersion(packet, 7);
        }
    }
}
