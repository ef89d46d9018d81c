using System.Globalization;

using Xunit;

namespace Savate.Server.Tests.Hls;

/// <summary>A media playlist as the tests read it: the tags they check, and each segment with its EXTINF.</summary>
internal sealed record MediaPlaylist(string Text, int TargetDuration, long MediaSequence, long DiscontinuitySequence, IReadOnlyList<PlaylistSegment> Segments)
{
    public static MediaPlaylist Parse(string text)
    {
        var lines = text.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("#EXTM3U", lines[0]);
        int? target = null;
        long? sequence = null;
        long discontinuitySequence = 0;
        var segments = new List<PlaylistSegment>();
        double? duration = null;
        var discontinuity = false;
        foreach (var line in lines.Skip(1))
        {
            if (line.StartsWith("#EXT-X-TARGETDURATION:", StringComparison.Ordinal))
            {
                target = int.Parse(line["#EXT-X-TARGETDURATION:".Length..], CultureInfo.InvariantCulture);
            }
            else if (line.StartsWith("#EXT-X-MEDIA-SEQUENCE:", StringComparison.Ordinal))
            {
                sequence = long.Parse(line["#EXT-X-MEDIA-SEQUENCE:".Length..], CultureInfo.InvariantCulture);
            }
            else if (line.StartsWith("#EXT-X-DISCONTINUITY-SEQUENCE:", StringComparison.Ordinal))
            {
                discontinuitySequence = long.Parse(line["#EXT-X-DISCONTINUITY-SEQUENCE:".Length..], CultureInfo.InvariantCulture);
            }
            else if (line == "#EXT-X-DISCONTINUITY")
            {
                discontinuity = true;
            }
            else if (line.StartsWith("#EXTINF:", StringComparison.Ordinal))
            {
                duration = double.Parse(line["#EXTINF:".Length..].TrimEnd(','), CultureInfo.InvariantCulture);
            }
            else if (!line.StartsWith('#'))
            {
                Assert.NotNull(duration);
                Assert.NotNull(sequence);
                segments.Add(new PlaylistSegment(sequence!.Value + segments.Count, line, duration!.Value, discontinuity));
                duration = null;
                discontinuity = false;
            }
        }
        Assert.NotNull(target);
        Assert.NotNull(sequence);
        return new MediaPlaylist(text, target!.Value, sequence!.Value, discontinuitySequence, segments);
    }
}

internal sealed record PlaylistSegment(long Sequence, string Uri, double Duration, bool Discontinuity);
