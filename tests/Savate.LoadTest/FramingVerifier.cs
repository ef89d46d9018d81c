using System.Buffers.Binary;

namespace Savate.LoadTest;

/// <summary>
/// Checks what a sampled listener got first: FLV header, the sequence headers before the first frame,
/// a keyframe first; or for TS, 188-byte sync, PAT and PMT before the first video PES, which has
/// random_access_indicator set. Keeps at most 1 MB, then gives its verdict.
/// </summary>
internal sealed class FramingVerifier(StreamFormat format)
{
    private const int MaxBytes = 1024 * 1024;
    private byte[] _bytes = new byte[64 * 1024];
    private int _length;

    /// <summary>Null until decided; then true, or false with <see cref="Failure"/>.</summary>
    public bool? Ok { get; private set; }

    public string? Failure { get; private set; }

    public void Feed(ReadOnlySpan<byte> data)
    {
        if (Ok is not null)
        {
            return;
        }
        if (_length + data.Length > _bytes.Length)
        {
            Array.Resize(ref _bytes, Math.Min(MaxBytes, Math.Max(_bytes.Length * 2, _length + data.Length)));
        }
        var take = Math.Min(data.Length, _bytes.Length - _length);
        data[..take].CopyTo(_bytes.AsSpan(_length));
        _length += take;
        var verdict = format == StreamFormat.Flv ? CheckFlv(_bytes.AsSpan(0, _length)) : CheckTs(_bytes.AsSpan(0, _length));
        if (verdict is null && _length >= MaxBytes)
        {
            verdict = "no video frame in the first 1 MB";
        }
        if (verdict is not null)
        {
            Ok = verdict.Length == 0;
            Failure = Ok == true ? null : verdict;
            _bytes = [];
        }
    }

    /// <summary>Null: need more bytes. Empty: good. Else the reason.</summary>
    private static string? CheckFlv(ReadOnlySpan<byte> s)
    {
        if (s.Length < 3)
        {
            return null;
        }
        if (s[0] != 'F' || s[1] != 'L' || s[2] != 'V')
        {
            return $"no FLV header at the start of the body (starts {Convert.ToHexString(s[..Math.Min(8, s.Length)])})";
        }
        if (s.Length < 13)
        {
            return null;
        }
        var pos = (int)BinaryPrimitives.ReadUInt32BigEndian(s[5..]) + 4;
        bool videoConfig = false, audioConfig = false;
        while (pos + 11 <= s.Length)
        {
            var type = s[pos] & 0x1F;
            var size = (s[pos + 1] << 16) | (s[pos + 2] << 8) | s[pos + 3];
            if (type is not (8 or 9 or 18))
            {
                return $"bad tag type {type} at body offset {pos}";
            }
            if (pos + 11 + size + 4 > s.Length)
            {
                return null;
            }
            var data = s.Slice(pos + 11, size);
            var previous = BinaryPrimitives.ReadUInt32BigEndian(s[(pos + 11 + size)..]);
            if (previous != 11 + size)
            {
                return $"PreviousTagSize {previous} != {11 + size} at body offset {pos}";
            }
            if (type == 9 && size >= 2)
            {
                var codec = data[0] & 0x0F;
                if (codec == 7 && data[1] == 0)
                {
                    videoConfig = true;
                }
                else if (codec == 7 && data[1] == 1)
                {
                    if (!videoConfig)
                    {
                        return "video frame before the AVC sequence header";
                    }
                    if (!audioConfig)
                    {
                        return "video frame before the AAC sequence header";
                    }
                    return (data[0] >> 4) == 1 ? "" : "first video frame is not a keyframe";
                }
            }
            else if (type == 8 && size >= 2 && (data[0] >> 4) == 10)
            {
                if (data[1] == 0)
                {
                    audioConfig = true;
                }
                else if (!audioConfig)
                {
                    return "AAC frame before the AAC sequence header";
                }
            }
            pos += 11 + size + 4;
        }
        return null;
    }

    private static string? CheckTs(ReadOnlySpan<byte> s)
    {
        bool pat = false, pmt = false;
        for (var pos = 0; pos + 188 <= s.Length; pos += 188)
        {
            var p = s.Slice(pos, 188);
            if (p[0] != 0x47)
            {
                return $"no sync byte at body offset {pos}";
            }
            var pusi = (p[1] & 0x40) != 0;
            var pid = ((p[1] & 0x1F) << 8) | p[2];
            if (pid == 0)
            {
                pat = true;
            }
            else if (pid == 0x1000)
            {
                pmt = pat;
            }
            else if (pid == 0x100 && pusi)
            {
                if (!pat || !pmt)
                {
                    return "video PES before PAT and PMT";
                }
                var hasAdaptation = (p[3] & 0x20) != 0;
                var rai = hasAdaptation && p[4] > 0 && (p[5] & 0x40) != 0;
                return rai ? "" : "first video PES is not a random access point";
            }
        }
        return null;
    }
}
