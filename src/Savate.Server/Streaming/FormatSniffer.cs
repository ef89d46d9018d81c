using System.Buffers;
using Savate.Flv;
using Savate.Server.Configuration;

namespace Savate.Server.Streaming;

/// <summary>Tells FLV from MPEG-TS by Content-Type, else by the first bytes.</summary>
internal static class FormatSniffer
{
    /// <summary>Bytes enough to decide: TS needs 0x47 at three strides from any of the first 188 offsets.</summary>
    public const int DecisiveLength = 4 * 188;

    public static MountFormat FromContentType(string? contentType)
    {
        if (string.IsNullOrWhiteSpace(contentType))
        {
            return MountFormat.Auto;
        }
        var semicolon = contentType.IndexOf(';');
        var mediaType = (semicolon >= 0 ? contentType[..semicolon] : contentType).Trim();
        if (mediaType.Equals("video/x-flv", StringComparison.OrdinalIgnoreCase)
            || mediaType.Equals("application/x-flv", StringComparison.OrdinalIgnoreCase)
            || mediaType.Equals("video/flv", StringComparison.OrdinalIgnoreCase))
        {
            return MountFormat.Flv;
        }
        if (mediaType.Equals("video/mp2t", StringComparison.OrdinalIgnoreCase)
            || mediaType.Equals("video/mpegts", StringComparison.OrdinalIgnoreCase)
            || mediaType.Equals("video/mpeg", StringComparison.OrdinalIgnoreCase))
        {
            return MountFormat.Mpegts;
        }
        return MountFormat.Auto;
    }

    // Media types of formats Savate does not carry, as audio encoders and libshout clients send them. Such a
    // client sends its body only after the answer, so sniffing would wait source-timeout for nothing.
    private static readonly HashSet<string> s_foreign = new(StringComparer.OrdinalIgnoreCase)
    {
        "audio/mpeg", "audio/mp3", "audio/mpeg3", "audio/x-mpeg", "audio/aac", "audio/aacp", "audio/x-aac",
        "audio/ogg", "video/ogg", "application/ogg", "audio/opus", "audio/flac", "audio/x-flac",
        "audio/webm", "video/webm", "audio/x-matroska", "video/x-matroska", "audio/wav", "audio/x-wav",
        "audio/mp4", "video/mp4",
    };

    /// <summary>
    /// True for the Content-Type of a known format that is neither FLV nor MPEG-TS (audio/mpeg, application/ogg,
    /// video/webm...): refused with 415 at once. Unknown and generic types (application/octet-stream) are sniffed.
    /// </summary>
    public static bool IsForeign(string? contentType)
    {
        if (string.IsNullOrWhiteSpace(contentType))
        {
            return false;
        }
        var semicolon = contentType.IndexOf(';');
        return s_foreign.Contains((semicolon >= 0 ? contentType[..semicolon] : contentType).Trim());
    }

    /// <summary>
    /// Decides from the first bytes. Returns null when more bytes could still decide (fewer than
    /// <see cref="DecisiveLength"/> and not final), <see cref="MountFormat.Auto"/> when it is neither.
    /// </summary>
    public static MountFormat? Sniff(in ReadOnlySequence<byte> data, bool final)
    {
        Span<byte> head = stackalloc byte[DecisiveLength];
        var length = (int)Math.Min(data.Length, DecisiveLength);
        data.Slice(0, length).CopyTo(head);
        head = head[..length];
        if (length >= 3 && FlvHeader.HasSignature(head))
        {
            return MountFormat.Flv;
        }
        for (var offset = 0; offset < 188 && offset + 2 * 188 < length; offset++)
        {
            if (head[offset] == 0x47 && head[offset + 188] == 0x47 && head[offset + 376] == 0x47)
            {
                return MountFormat.Mpegts;
            }
        }
        if (length < 3 && "FLV"u8.StartsWith(head) && !final)
        {
            return null;
        }
        return length >= DecisiveLength || final ? MountFormat.Auto : null;
    }
}
