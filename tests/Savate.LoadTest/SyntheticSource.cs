using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Savate.Flv;
using Savate.Mpegts;

namespace Savate.LoadTest;

/// <summary>
/// A live source pushed over HTTP at a fixed bitrate: one video frame (keyframe every GOP) plus one audio
/// frame every 1/fps s, each video frame carrying a <see cref="Marker"/>. Frames are built in place in
/// one reusable buffer; nothing is allocated per frame.
/// </summary>
internal sealed class SyntheticSource
{
    // avcC of a 640x360 baseline stream: never decoded, only needs to look right to a parser.
    private static readonly byte[] s_avcC =
    [
        0x01, 0x42, 0xC0, 0x1E, 0xFF, 0xE1, 0x00, 0x0A,
        0x67, 0x42, 0xC0, 0x1E, 0xD9, 0x00, 0xA0, 0x2F, 0xF9, 0x70,
        0x01, 0x00, 0x04, 0x68, 0xCE, 0x3C, 0x80,
    ];

    private const int VideoPid = 0x100;
    private const int AudioPid = 0x101;
    private const int PmtPid = 0x1000;
    private const int AudioShareBytesPerSecond = 16_000; // 128 kbit/s of "AAC"
    private const int KeyframeWeight = 10;               // a keyframe is about 10 P-frames

    private readonly Options _options;
    private readonly IPEndPoint _endpoint;
    private readonly byte[] _frame = new byte[4 * 1024 * 1024];
    private readonly byte[] _cc = new byte[0x2000];
    private long _bytesSent;
    private long _frames;
    private long _maxLateTicks;

    private readonly Uri _url;

    public SyntheticSource(Options options, IPEndPoint endpoint, Uri? url = null)
    {
        _options = options;
        _endpoint = endpoint;
        _url = url ?? options.SourceUrl;
    }

    public long BytesSent => Interlocked.Read(ref _bytesSent);

    public long Frames => Interlocked.Read(ref _frames);

    /// <summary>How late the worst frame left against its schedule (a saturated tool shows here first).</summary>
    public double MaxLateMs => Interlocked.Read(ref _maxLateTicks) * 1000.0 / Stopwatch.Frequency;

    public string? Error { get; private set; }

    public string? Response { get; private set; }

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(_endpoint, cancellationToken).ConfigureAwait(false);
            var chunked = _options.SourceMethod == "post-chunked";
            var auth = Convert.ToBase64String(Encoding.UTF8.GetBytes($"{_options.SourceUser}:{_options.SourcePassword}"));
            var contentType = _options.Format == StreamFormat.Flv ? "video/x-flv" : "video/mp2t";
            var head = new StringBuilder()
                .Append(chunked ? "POST " : "PUT ").Append(_url.PathAndQuery).Append(" HTTP/1.1\r\n")
                .Append("Host: ").Append(_url.Authority).Append("\r\n")
                .Append("Authorization: Basic ").Append(auth).Append("\r\n")
                .Append("Content-Type: ").Append(contentType).Append("\r\n")
                .Append("User-Agent: Savate.LoadTest\r\n")
                .Append("Ice-Public: 0\r\nIce-Name: load\r\n");
            if (chunked)
            {
                head.Append("Transfer-Encoding: chunked\r\n");
            }
            head.Append("\r\n");
            await socket.SendAsync(Encoding.ASCII.GetBytes(head.ToString()), SocketFlags.None, cancellationToken).ConfigureAwait(false);
            _ = DrainResponseAsync(socket, cancellationToken);

            var fps = _options.Fps;
            var framesPerGop = Math.Max(1, (int)Math.Round(_options.Gop.TotalSeconds * fps));
            var bytesPerFrame = _options.BitsPerSecond / 8.0 / fps;
            var audioBytes = (int)Math.Min(AudioShareBytesPerSecond / fps, bytesPerFrame / 4);
            var videoPerGop = (bytesPerFrame - audioBytes) * framesPerGop;
            var pBytes = (int)(videoPerGop / (framesPerGop - 1 + KeyframeWeight));
            var keyBytes = (int)(videoPerGop - pBytes * (framesPerGop - 1));
            var start = Stopwatch.GetTimestamp();
            var frameTicks = Stopwatch.Frequency / (double)fps;

            var length = _options.Format == StreamFormat.Flv ? WriteFlvPreamble(_frame.AsSpan(SendOffset)) : 0;
            for (long n = 0; !cancellationToken.IsCancellationRequested; n++)
            {
                var due = start + (long)(n * frameTicks);
                var wait = due - Stopwatch.GetTimestamp();
                if (wait > Stopwatch.Frequency / 1000)
                {
                    await Task.Delay(TimeSpan.FromTicks(wait * TimeSpan.TicksPerSecond / Stopwatch.Frequency), cancellationToken).ConfigureAwait(false);
                }
                var late = Stopwatch.GetTimestamp() - due;
                if (late > _maxLateTicks)
                {
                    Interlocked.Exchange(ref _maxLateTicks, late);
                }
                var keyframe = n % framesPerGop == 0;
                var timeMs = (uint)(n * 1000 / fps);
                var body = _frame.AsSpan(SendOffset + length);
                // The frame follows the stream bytes sent so far (the body only, no chunk framing; this loop is
                // their only writer) and whatever this round already holds (the FLV preamble, first round only).
                var frameOffset = _bytesSent + length;
                length += _options.Format == StreamFormat.Flv
                    ? WriteFlvFrame(body, frameOffset, keyframe, timeMs, keyframe ? keyBytes : pBytes, audioBytes)
                    : WriteTsFrame(body, frameOffset, keyframe, n, fps, keyframe ? keyBytes : pBytes, audioBytes);
                var total = Frame(chunked, length, out var offset);
                await socket.SendAsync(_frame.AsMemory(offset, total), SocketFlags.None, cancellationToken).ConfigureAwait(false);
                Interlocked.Add(ref _bytesSent, length);
                Interlocked.Increment(ref _frames);
                length = 0;
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (Exception e) when (e is SocketException or IOException or ObjectDisposedException)
        {
            if (!cancellationToken.IsCancellationRequested)
            {
                Error = $"source connection: {e.Message}";
            }
        }
    }

    // Room in front of the frame for the chunk-size line.
    private const int SendOffset = 16;

    /// <summary>Wraps the frame at SendOffset in chunked framing if needed; returns the span to send.</summary>
    private int Frame(bool chunked, int length, out int offset)
    {
        if (!chunked)
        {
            offset = SendOffset;
            return length;
        }
        Span<byte> sizeLine = stackalloc byte[16];
        length.TryFormat(sizeLine, out var digits, "X");
        sizeLine[digits++] = (byte)'\r';
        sizeLine[digits++] = (byte)'\n';
        offset = SendOffset - digits;
        sizeLine[..digits].CopyTo(_frame.AsSpan(offset));
        _frame[SendOffset + length] = (byte)'\r';
        _frame[SendOffset + length + 1] = (byte)'\n';
        return digits + length + 2;
    }

    private async Task DrainResponseAsync(Socket socket, CancellationToken cancellationToken)
    {
        var buffer = new byte[4096];
        try
        {
            var n = await socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken).ConfigureAwait(false);
            if (n > 0)
            {
                var text = Encoding.ASCII.GetString(buffer, 0, n);
                Response = text.Split("\r\n")[0];
            }
            while (n > 0)
            {
                n = await socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }
    }

    private int WriteFlvPreamble(Span<byte> destination)
    {
        var length = 0;
        FlvHeader.Write(destination, hasAudio: true, hasVideo: true);
        length += FlvHeader.SizeWithPreviousTagSize;
        byte[] metadata = FlvTags.BuildOnMetaData(0,
        [
            new("duration", 0), new("width", 640), new("height", 360), new("framerate", _options.Fps),
            new("videocodecid", 7), new("audiocodecid", 10), new("videodatarate", _options.BitsPerSecond / 1000.0),
            new("encoder", "Savate.LoadTest"),
        ]);
        metadata.CopyTo(destination[length..]);
        length += metadata.Length;
        byte[] avc = [0x17, 0x00, 0x00, 0x00, 0x00, .. s_avcC];
        length += FlvTags.Write(destination[length..], FlvTagType.Video, 0, avc);
        length += FlvTags.Write(destination[length..], FlvTagType.Audio, 0, [0xAF, 0x00, 0x12, 0x10]);
        return length;
    }

    // The marker's place in the video tag data: after the AVC packet header (frame type/codec, packet
    // type, composition time: 5), the NALU length (4) and the NAL header (1).
    private const int FlvMarkerInData = 5 + 4 + 1;

    /// <summary>
    /// Video tag (frame type, AVC NALU packet, one length-prefixed NALU holding the marker, zero padded) then an AAC tag.
    /// <paramref name="streamOffset"/> is where <paramref name="destination"/> starts in the source's stream.
    /// </summary>
    private static int WriteFlvFrame(Span<byte> destination, long streamOffset, bool keyframe, uint timeMs, int videoTotal, int audioTotal)
    {
        var overhead = FlvTags.GetTotalSize(0);
        var videoData = Math.Max(FlvMarkerInData + Marker.Size, videoTotal - overhead);
        FlvTagHeader.Write(destination, FlvTagType.Video, videoData, timeMs);
        var data = destination.Slice(FlvTagHeader.Size, videoData);
        data.Clear();
        data[0] = keyframe ? (byte)0x17 : (byte)0x27;
        data[1] = 0x01;
        BinaryPrimitives.WriteInt32BigEndian(data[5..], videoData - 9);
        data[9] = keyframe ? (byte)0x65 : (byte)0x41;
        BinaryPrimitives.WriteUInt32BigEndian(destination[(FlvTagHeader.Size + videoData)..], (uint)(FlvTagHeader.Size + videoData));
        var length = FlvTags.GetTotalSize(videoData);

        var audioData = Math.Max(3, audioTotal - overhead);
        var audio = destination[length..];
        FlvTagHeader.Write(audio, FlvTagType.Audio, audioData, timeMs);
        var a = audio.Slice(FlvTagHeader.Size, audioData);
        a.Clear();
        a[0] = 0xAF;
        a[1] = 0x01;
        BinaryPrimitives.WriteUInt32BigEndian(audio[(FlvTagHeader.Size + audioData)..], (uint)(FlvTagHeader.Size + audioData));
        length += FlvTags.GetTotalSize(audioData);

        // The timestamp is taken last, just before the frame goes to the socket.
        Marker.Write(data[FlvMarkerInData..], Marker.Now(), streamOffset + FlvTagHeader.Size + FlvMarkerInData);
        return length;
    }

    // The marker's place in the first video packet: TS header (4), adaptation field (length byte + 7:
    // flags and PCR), PES header with PTS (14), AUD (6), slice NAL start code and header (5).
    private const int TsMarkerInPacket = 4 + 8 + 14 + 6 + 5;

    // Compile-time check that the marker fits in that packet: a negative value does not convert to byte.
    private const byte TsRoomAfterMarker = 188 - TsMarkerInPacket - Marker.Size;

    /// <summary>PAT and PMT on keyframes, one video PES with the marker in its first packet, one audio PES.</summary>
    private int WriteTsFrame(Span<byte> destination, long streamOffset, bool keyframe, long n, int fps, int videoBytes, int audioBytes)
    {
        var length = 0;
        if (keyframe)
        {
            length += WritePsi(destination[length..], 0, BuildPat());
            length += WritePsi(destination[length..], PmtPid, BuildPmt());
        }
        var pts = 90_000 + n * 90_000 / fps;

        // Video: first packet carries an 8-byte adaptation field (RAI on keyframes, PCR), the PES header (14) and the ES.
        var videoPackets = Math.Max(1, (videoBytes - length) / 188);
        var markerAt = length + TsMarkerInPacket;
        for (var i = 0; i < videoPackets; i++)
        {
            var p = destination.Slice(length, 188);
            p.Clear();
            p[0] = 0x47;
            p[1] = (byte)((i == 0 ? 0x40 : 0) | (VideoPid >> 8));
            p[2] = VideoPid & 0xFF;
            var payload = 4;
            if (i == 0)
            {
                p[3] = (byte)(0x30 | NextCc(VideoPid));
                p[4] = 7;
                p[5] = (byte)((keyframe ? 0x40 : 0) | 0x10);
                var pcr = pts - 9000;
                p[6] = (byte)(pcr >> 25);
                p[7] = (byte)(pcr >> 17);
                p[8] = (byte)(pcr >> 9);
                p[9] = (byte)(pcr >> 1);
                p[10] = (byte)(((pcr & 1) << 7) | 0x7E);
                p[11] = 0;
                payload = 12;
                var pes = p[payload..];
                pes[0] = 0; pes[1] = 0; pes[2] = 1; pes[3] = 0xE0;
                pes[4] = 0; pes[5] = 0; // unbounded (video)
                pes[6] = 0x80; pes[7] = 0x80; pes[8] = 5;
                WritePts(pes[9..], 0x20, pts);
                var es = pes[14..];
                // AUD, then an IDR or non-IDR slice NAL whose body starts with the marker.
                ReadOnlySpan<byte> aud = [0, 0, 0, 1, 0x09, 0xF0];
                aud.CopyTo(es);
                es[6] = 0; es[7] = 0; es[8] = 0; es[9] = 1; es[10] = keyframe ? (byte)0x65 : (byte)0x41;
            }
            else
            {
                p[3] = (byte)(0x10 | NextCc(VideoPid));
            }
            length += 188;
        }

        // Audio: one PES, PES_packet_length set, padded with an adaptation-field stuffing in its last packet.
        var audioPackets = Math.Max(1, audioBytes / 188);
        for (var i = 0; i < audioPackets; i++)
        {
            var p = destination.Slice(length, 188);
            p.Fill(0xFF);
            p[0] = 0x47;
            p[1] = (byte)((i == 0 ? 0x40 : 0) | (AudioPid >> 8));
            p[2] = AudioPid & 0xFF;
            p[3] = (byte)(0x10 | NextCc(AudioPid));
            if (i == 0)
            {
                var pes = p[4..];
                var pesLength = audioPackets * 184 - 6;
                pes[0] = 0; pes[1] = 0; pes[2] = 1; pes[3] = 0xC0;
                BinaryPrimitives.WriteUInt16BigEndian(pes[4..], (ushort)pesLength);
                pes[6] = 0x80; pes[7] = 0x80; pes[8] = 5;
                WritePts(pes[9..], 0x20, pts);
                ReadOnlySpan<byte> adts = [0xFF, 0xF1, 0x50, 0x80, 0x00, 0x1F, 0xFC];
                adts.CopyTo(pes[14..]);
            }
            length += 188;
        }

        Marker.Write(destination[markerAt..], Marker.Now(), streamOffset + markerAt);
        return length;
    }

    private int NextCc(int pid)
    {
        var cc = _cc[pid];
        _cc[pid] = (byte)((cc + 1) & 0x0F);
        return cc;
    }

    private static void WritePts(Span<byte> destination, byte prefix, long pts)
    {
        destination[0] = (byte)(prefix | (((pts >> 30) & 0x07) << 1) | 1);
        destination[1] = (byte)(pts >> 22);
        destination[2] = (byte)((((pts >> 15) & 0x7F) << 1) | 1);
        destination[3] = (byte)(pts >> 7);
        destination[4] = (byte)(((pts & 0x7F) << 1) | 1);
    }

    private int WritePsi(Span<byte> destination, int pid, ReadOnlySpan<byte> section)
    {
        var p = destination[..188];
        p.Fill(0xFF);
        p[0] = 0x47;
        p[1] = (byte)(0x40 | (pid >> 8));
        p[2] = (byte)pid;
        p[3] = (byte)(0x10 | NextCc(pid));
        p[4] = 0; // pointer_field
        section.CopyTo(p[5..]);
        return 188;
    }

    private static byte[] BuildPat()
    {
        byte[] s = [0x00, 0xB0, 0x0D, 0x00, 0x01, 0xC1, 0x00, 0x00, 0x00, 0x01, (byte)(0xE0 | (PmtPid >> 8)), PmtPid & 0xFF, 0, 0, 0, 0];
        BinaryPrimitives.WriteUInt32BigEndian(s.AsSpan(12), Crc32Mpeg2.Compute(s.AsSpan(0, 12)));
        return s;
    }

    private static byte[] BuildPmt()
    {
        byte[] s =
        [
            0x02, 0xB0, 0x17, 0x00, 0x01, 0xC1, 0x00, 0x00,
            (byte)(0xE0 | (VideoPid >> 8)), VideoPid & 0xFF, 0xF0, 0x00,
            0x1B, (byte)(0xE0 | (VideoPid >> 8)), VideoPid & 0xFF, 0xF0, 0x00,
            0x0F, (byte)(0xE0 | (AudioPid >> 8)), AudioPid & 0xFF, 0xF0, 0x00,
            0, 0, 0, 0,
        ];
        BinaryPrimitives.WriteUInt32BigEndian(s.AsSpan(22), Crc32Mpeg2.Compute(s.AsSpan(0, 22)));
        return s;
    }
}

/// <summary>
/// The sources of a run: one, or with <c>--mounts M</c> one per mount (<c>/load.flv</c> becomes <c>/load-0.flv</c> ..
/// <c>/load-{M-1}.flv</c>), each at the full bitrate. Figures are summed (bytes, frames) or the worst (lateness).
/// </summary>
internal sealed class SourceSet
{
    private readonly SyntheticSource[] _sources;

    public SourceSet(Options options, IPEndPoint endpoint)
    {
        _sources = new SyntheticSource[Math.Max(1, options.Mounts)];
        for (var i = 0; i < _sources.Length; i++)
        {
            _sources[i] = new SyntheticSource(options, endpoint, options.Mounts > 1 ? MountUrl(options.SourceUrl, i) : null);
        }
    }

    /// <summary>Mount <paramref name="index"/> of a multi-mount run: the index before the extension.</summary>
    public static Uri MountUrl(Uri url, int index)
    {
        var path = url.AbsolutePath;
        var dot = path.LastIndexOf('.');
        var name = dot > path.LastIndexOf('/') ? $"{path[..dot]}-{index}{path[dot..]}" : $"{path}-{index}";
        return new UriBuilder(url) { Path = name }.Uri;
    }

    public int Count => _sources.Length;

    public long BytesSent => _sources.Sum(s => s.BytesSent);

    public long Frames => _sources.Sum(s => s.Frames);

    public double MaxLateMs => _sources.Max(s => s.MaxLateMs);

    public string? Error => _sources.Select(s => s.Error).FirstOrDefault(e => e is not null);

    public string? Response => _sources[0].Response;

    public Task RunAsync(CancellationToken cancellationToken) => Task.WhenAll(_sources.Select(s => s.RunAsync(cancellationToken)));
}
