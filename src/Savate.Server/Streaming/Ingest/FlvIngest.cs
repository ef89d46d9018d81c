using System.Buffers;
using Savate.Flv;

namespace Savate.Server.Streaming.Ingest;

/// <summary>
/// FLV feed → slices. Every tag is copied once into the slice being built, its timestamp rewritten
/// onto the mount's timeline. A video keyframe starts a new slice (a join point); the FLV header,
/// onMetaData and sequence headers are kept aside as join headers, so a late joiner gets the latest
/// ones. Media before this feed's first keyframe is dropped, and the feed's configuration is sent
/// in-band just before it, so a switch from one feed to the next lands on a keyframe with the right
/// sequence headers.
/// </summary>
internal sealed class FlvIngest : IngestBase
{
    // Audio-only streams: a join point at most every 500 ms keeps the keyframe index small.
    private const long AudioJoinInterval = 500;

    // A header that announces video but sends none for this long (ms of audio) is treated as audio-only.
    private const long AudioOnlyAfter = 3000;

    private FlvReader _reader;
    private byte[] _fileHeader = [];
    private byte[]? _metadata;
    private byte[]? _videoConfig;
    private byte[]? _audioConfig;
    private string? _videoCodec;
    private string? _audioCodec;
    private bool _audioOnly;
    private bool _sawVideo;
    private long _firstAudio = long.MinValue;
    private long _lastJoin = long.MinValue;
    private TimelineOffset _offset;

    public FlvIngest(IIngestTarget mount, FlvReaderOptions? options = null)
        : base(mount)
    {
        // A live source's tag larger than server.max-tag-size drops it (FlvError.TagTooLarge) before it is buffered.
        _reader = new FlvReader(options ?? new FlvReaderOptions { MaxTagDataSize = mount.MaxTagSize });
    }

    protected override SequencePosition Parse(in ReadOnlySequence<byte> buffer)
    {
        var reader = new SequenceReader<byte>(buffer);
        if (!_reader.HeaderRead)
        {
            if (!_reader.TryReadHeader(ref reader, out var header))
            {
                return reader.Position;
            }
            OnHeader(header);
        }
        while (_reader.TryReadTag(ref reader, out var tag))
        {
            OnTag(tag);
        }
        return reader.Position;
    }

    protected override void OnActivated()
    {
        _offset = default;
        _lastJoin = long.MinValue;
    }

    protected override void AppendConfiguration()
    {
        var time = Mount.Timeline.HasOutput ? Mount.Timeline.LastTime : 0;
        if (_metadata is not null)
        {
            // Script data at 0, as at the start of a file (see FlvJoinHeaders).
            FlvTagHeader.WriteTimestamp(Builder.Append(_metadata), 0);
        }
        foreach (var tag in (ReadOnlySpan<byte[]?>)[_videoConfig, _audioConfig])
        {
            if (tag is not null)
            {
                var span = Builder.Append(tag);
                FlvTagHeader.WriteTimestamp(span, (uint)time);
            }
        }
    }

    private void OnHeader(FlvHeader header)
    {
        _fileHeader = FlvHeader.ToArray(header.HasAudio, header.HasVideo);
        _audioOnly = !header.HasVideo;
        UpdateHeaders();
    }

    private void OnTag(in FlvTag tag)
    {
        switch (tag.Kind)
        {
            case FlvPacketKind.Metadata:
                _metadata = tag.Bytes.ToArray();
                UpdateHeaders();
                AppendConfigurationTag(tag);
                return;
            case FlvPacketKind.SequenceHeader when tag.Type == FlvTagType.Video:
                _videoConfig = tag.Bytes.ToArray();
                _videoCodec = Names.Of(tag.VideoCodec);
                UpdateHeaders();
                AppendConfigurationTag(tag);
                return;
            case FlvPacketKind.SequenceHeader:
                _audioConfig = tag.Bytes.ToArray();
                _audioCodec = Names.Of(tag.AudioCodec);
                UpdateHeaders();
                AppendConfigurationTag(tag);
                return;
            case FlvPacketKind.Media:
                break;
            default:
                if (Active && !WaitingForKeyframe)
                {
                    AppendInBand(tag);
                }
                return;
        }

        if (tag.Type == FlvTagType.Video)
        {
            _sawVideo = true;
            _audioOnly = false;
            if (_videoCodec is null)
            {
                _videoCodec = Names.Of(tag.VideoCodec);
                UpdateHeaders();
            }
            if (!(tag.IsKeyframe ? ActiveAtJoinPoint() : Active))
            {
                return;
            }
            if (tag.IsKeyframe)
            {
                var firstAfterSwitch = PendingConfiguration && Mount.Timeline.HasOutput;
                StartJoinPoint();
                if (firstAfterSwitch && tag.VideoCodec == FlvVideoCodec.Avc && _videoConfig is not null
                    && AvcParameterSets.TryBuildPrefix(_videoConfig, out var parameterSets, out _))
                {
                    AppendMediaWithPrefix(tag, parameterSets);
                    return;
                }
            }
            else if (WaitingForKeyframe)
            {
                return;
            }
            AppendMedia(tag, Track.Video);
            return;
        }

        if (tag.Type == FlvTagType.Audio)
        {
            if (_audioCodec is null)
            {
                _audioCodec = Names.Of(tag.AudioCodec);
                UpdateHeaders();
            }
            var sourceTime = tag.Timestamp + SourceOffset;
            if (_firstAudio == long.MinValue)
            {
                _firstAudio = sourceTime;
            }
            if (!_sawVideo && !_audioOnly && sourceTime - _firstAudio >= AudioOnlyAfter)
            {
                _audioOnly = true;
            }
            if (!(_audioOnly ? ActiveAtJoinPoint() : Active))
            {
                return;
            }
            if (_audioOnly && (WaitingForKeyframe || sourceTime - _lastJoin >= AudioJoinInterval || sourceTime < _lastJoin))
            {
                _lastJoin = sourceTime;
                StartJoinPoint();
            }
            else if (WaitingForKeyframe)
            {
                return;
            }
            AppendMedia(tag, Track.Audio);
            return;
        }

        if (Active && !WaitingForKeyframe)
        {
            AppendInBand(tag);
        }
    }

    /// <summary>A configuration tag in the stream: in-band for listeners already past a join point.</summary>
    private void AppendConfigurationTag(in FlvTag tag)
    {
        // Before the first join point the configuration goes out with it (AppendConfiguration).
        if (Active && !WaitingForKeyframe)
        {
            AppendInBand(tag);
        }
    }

    private void AppendMedia(in FlvTag tag, Track track)
    {
        AppendMediaAt(tag, Mount.Timeline.Map(tag.Timestamp + SourceOffset, track, ref _offset));
    }

    /// <summary>Appends a video tag with <paramref name="prefix"/> inserted after its 5-byte AVC header.</summary>
    private void AppendMediaWithPrefix(in FlvTag tag, byte[] prefix)
    {
        const int VideoHeader = 5;
        var time = Mount.Timeline.Map(tag.Timestamp + SourceOffset, Track.Video, ref _offset);
        var data = tag.Data;
        if (data.Length < VideoHeader || data.Length + prefix.Length > FlvTagHeader.MaxDataSize)
        {
            AppendMediaAt(tag, time);
            return;
        }
        var dataSize = (int)data.Length + prefix.Length;
        var tagBytes = new byte[FlvTags.GetTotalSize(dataSize)];
        FlvTagHeader.Write(tagBytes, FlvTagType.Video, dataSize, (uint)time);
        data.Slice(0, VideoHeader).CopyTo(tagBytes.AsSpan(FlvTagHeader.Size));
        prefix.CopyTo(tagBytes, FlvTagHeader.Size + VideoHeader);
        data.Slice(VideoHeader).CopyTo(tagBytes.AsSpan(FlvTagHeader.Size + VideoHeader + prefix.Length));
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(tagBytes.AsSpan(tagBytes.Length - 4), (uint)(FlvTagHeader.Size + dataSize));
        Builder.Append(tagBytes);
        Builder.MarkTime(time);
        CutIfLarge();
    }

    private void AppendMediaAt(in FlvTag tag, long time)
    {
        var span = Builder.Append(tag.Bytes);
        FlvTagHeader.WriteTimestamp(span, (uint)time);
        Builder.MarkTime(time);
        CutIfLarge();
    }

    private void AppendInBand(in FlvTag tag)
    {
        var span = Builder.Append(tag.Bytes);
        // onMetaData at 0 wherever it goes (see FlvJoinHeaders); other tags at the mount's current time.
        var time = tag.Kind == FlvPacketKind.Metadata || !Mount.Timeline.HasOutput ? 0 : Mount.Timeline.LastTime;
        FlvTagHeader.WriteTimestamp(span, (uint)time);
        CutIfLarge();
    }

    private void UpdateHeaders()
    {
        var codecs = new List<string>(2);
        if (_videoCodec is not null)
        {
            codecs.Add(_videoCodec);
        }
        if (_audioCodec is not null)
        {
            codecs.Add(_audioCodec);
        }
        SetHeaders(new FlvJoinHeaders(_fileHeader, _metadata, _videoConfig, _audioConfig, codecs));
    }

    private static class Names
    {
        public static string Of(FlvVideoCodec codec) => codec switch
        {
            FlvVideoCodec.Avc => "h264",
            FlvVideoCodec.Hevc => "hevc",
            FlvVideoCodec.Av1 => "av1",
            FlvVideoCodec.Vp9 => "vp9",
            FlvVideoCodec.Vp6 or FlvVideoCodec.Vp6Alpha => "vp6",
            FlvVideoCodec.Sorenson => "flv1",
            _ => "video",
        };

        public static string Of(FlvAudioCodec codec) => codec switch
        {
            FlvAudioCodec.Aac => "aac",
            FlvAudioCodec.Mp3 => "mp3",
            FlvAudioCodec.Speex => "speex",
            _ => "audio",
        };
    }
}
