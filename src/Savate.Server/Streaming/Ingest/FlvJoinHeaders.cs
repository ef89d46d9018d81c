using Savate.Flv;

namespace Savate.Server.Streaming.Ingest;

/// <summary>
/// FLV header (with PreviousTagSize0), onMetaData, and the latest video and audio sequence headers. The
/// sequence headers are stamped with the join time; onMetaData always with 0, as at the start of a file:
/// libavformat (ffprobe, ffmpeg, VLC, mpv) reads a script tag with any other timestamp as a data packet and
/// lists an extra data stream, which VLC then buffers for and which keeps <c>ffmpeg -t</c> from ever ending.
/// </summary>
internal sealed class FlvJoinHeaders(byte[] fileHeader, byte[]? metadata, byte[]? videoConfig, byte[]? audioConfig, IReadOnlyList<string> codecs)
    : JoinHeaders
{
    public byte[] FileHeader { get; } = fileHeader;

    public byte[]? Metadata { get; } = metadata;

    public byte[]? VideoConfig { get; } = videoConfig;

    public byte[]? AudioConfig { get; } = audioConfig;

    public override IReadOnlyList<string> Codecs { get; } = codecs;

    public override byte[] BuildJoin(long time) => Build(time, includeFileHeader: true);

    public override byte[] BuildUpdate(long time) => Build(time, includeFileHeader: false);

    private byte[] Build(long time, bool includeFileHeader)
    {
        var length = (includeFileHeader ? FileHeader.Length : 0)
            + (Metadata?.Length ?? 0) + (VideoConfig?.Length ?? 0) + (AudioConfig?.Length ?? 0);
        var result = new byte[length];
        var offset = 0;
        if (includeFileHeader)
        {
            FileHeader.CopyTo(result, 0);
            offset = FileHeader.Length;
        }
        if (Metadata is not null)
        {
            Metadata.CopyTo(result, offset);
            FlvTagHeader.WriteTimestamp(result.AsSpan(offset), 0);
            offset += Metadata.Length;
        }
        foreach (var tag in (ReadOnlySpan<byte[]?>)[VideoConfig, AudioConfig])
        {
            if (tag is null)
            {
                continue;
            }
            tag.CopyTo(result, offset);
            FlvTagHeader.WriteTimestamp(result.AsSpan(offset), (uint)Math.Max(time, 0));
            offset += tag.Length;
        }
        return result;
    }
}
