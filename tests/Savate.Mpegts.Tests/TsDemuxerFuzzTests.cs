using Savate.Mpegts.Tests.TestSupport;

namespace Savate.Mpegts.Tests;

/// <summary>Hostile input: only <see cref="TsFormatException"/> may escape, whatever the bytes.</summary>
public class TsDemuxerFuzzTests
{
    [Fact]
    public void TryRead_MutatedInputs_OnlyTsFormatExceptionEscapes()
    {
        var seeds = new[]
        {
            Demux.Fixture("h264_aac.ts")[..(60 * 188)],
            Demux.Fixture("hevc_aac.ts")[..(60 * 188)],
            Demux.Fixture("aac_only.ts")[..(30 * 188)],
        };
        var random = new Random(20240611);
        var noSync = 0;

        for (var iteration = 0; iteration < 3000; iteration++)
        {
            var input = Mutate(seeds[iteration % seeds.Length], random);
            var demuxer = new TsDemuxer(new TsDemuxerOptions
            {
                SyncConfirmPackets = random.Next(1, 4),
                MaxResyncBytes = random.Next(0, 4) == 0 ? 200 : 64 * 1024,
            });
            try
            {
                var chunk = random.Next(1, 2000);
                Demux.ReadChunked(input, () => chunk, demuxer);
            }
            catch (TsFormatException)
            {
                noSync++;
            }
        }

        // Some inputs are mangled beyond resync; most are not.
        Assert.InRange(noSync, 1, 2999);
    }

    private static byte[] Mutate(byte[] seed, Random random)
    {
        var data = new List<byte>(seed);
        var mutations = random.Next(1, 40);
        for (var i = 0; i < mutations && data.Count > 0; i++)
        {
            var at = random.Next(data.Count);
            switch (random.Next(8))
            {
                case 0:
                    data[at] = (byte)random.Next(256);
                    break;
                case 1:
                    data[at] ^= (byte)(1 << random.Next(8));
                    break;
                case 2:
                    data.RemoveRange(at, Math.Min(random.Next(1, 300), data.Count - at));
                    break;
                case 3:
                    data.InsertRange(at, Enumerable.Range(0, random.Next(1, 300)).Select(_ => (byte)random.Next(256)));
                    break;
                case 4:
                    // Hit the interesting bytes: header, adaptation length, pointer_field, section length.
                    var packetStart = at - (at % 188);
                    var offset = packetStart + random.Next(0, 12);
                    if (offset < data.Count)
                    {
                        data[offset] = (byte)random.Next(256);
                    }

                    break;
                case 5:
                    data.RemoveRange(at, data.Count - at);
                    break;
                case 6:
                    data.InsertRange(at, Enumerable.Repeat((byte)0x47, random.Next(1, 600)));
                    break;
                default:
                    var from = random.Next(data.Count);
                    var count = Math.Min(random.Next(1, 400), data.Count - from);
                    data.InsertRange(at, data.GetRange(from, count));
                    break;
            }
        }

        return [.. data];
    }
}
