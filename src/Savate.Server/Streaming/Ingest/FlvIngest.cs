using System.Buffers;
using Savate.Flv;

namespace Savate.Server.Streaming.Ingest;

/// <summary>
/// FLV source → slices. Every tag is copied once into the slice being built, its timestamp rewritten
/// onto the mount's timeline. A video keyframe starts a new slice (a join point); the FLV header,
/// onMetaData and sequence headers are also kept aside as the mount's join headers, so a late joiner
/// gets the latest ones. Media before this source's first keyframe is dropped, so a switch from one
/// source to the next lands on a keyframe.
/// </summary>
internal sealed class FlvIngest : IContainerIngest
{
    // A slice grows to at most this before it is cut, so one huge GOP does not become one huge array.
    private const int MaxSliceBytes = 512 * 1024;

    // Audio-only streams: a join point at most every 500 ms keeps the keyframe index small.
    private const long AudioJoinInterval = 500;

    // A header that announces video but sends none for this long (ms of audio) is treated as audio-only.
    private const long AudioOnlyAfter = 3000;

    private readonly Mount _mount;
    private readonly SliceBuilder _builder;
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
    private bool _waitingForKeyframe = true;
    private TimelineOffset _offset;

    public FlvIngest(Mount mount, FlvReaderOptions? options = null)
    {
        _mount = mount;
        _builder = new SliceBuilder(mount.Pool);
        _reader = new FlvReader(options);
    }

    public SequencePosition Process(in ReadOnlySequence<byte> buffer)
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

    public void Flush() => _mount.Publish(_builder);

    public void Abandon() => _builder.Discard();

    private void OnHeader(FlvHeader header)
    {
        _fileHeader = new byte[FlvHeader.SizeWithPreviousTagSize];
        FlvHeader.Write(_fileHeader, header.HasAudio, header.HasVideo);
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
                AppendInBand(tag);
                return;
            case FlvPacketKind.SequenceHeader when tag.Type == FlvTagType.Video:
                _videoConfig = tag.Bytes.ToArray();
                _videoCodec = Names.Of(tag.VideoCodec);
                UpdateHeaders();
                AppendInBand(tag);
                return;
            case FlvPacketKind.SequenceHeader:
                _audioConfig = tag.Bytes.ToArray();
                _audioCodec = Names.Of(tag.AudioCodec);
                UpdateHeaders();
                AppendInBand(tag);
                return;
            case FlvPacketKind.Media:
                break;
            default:
                if (!_waitingForKeyframe)
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
            if (tag.IsKeyframe)
            {
                StartJoinPoint();
            }
            else if (_waitingForKeyframe)
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
            var sourceTime = (long)tag.Timestamp;
            if (_firstAudio == long.MinValue)
            {
                _firstAudio = sourceTime;
            }
            if (!_sawVideo && !_audioOnly && sourceTime - _firstAudio >= AudioOnlyAfter)
            {
                _audioOnly = true;
            }
            if (_audioOnly && (_waitingForKeyframe || sourceTime - _lastJoin >= AudioJoinInterval))
            {
                _lastJoin = sourceTime;
                StartJoinPoint();
            }
            else if (_waitingForKeyframe)
            {
                return;
            }
            AppendMedia(tag, Track.Audio);
            return;
        }

        // Script data typed as media (empty tags, unknown script names): carry along.
        if (!_waitingForKeyframe)
        {
            AppendInBand(tag);
        }
    }

    private void StartJoinPoint()
    {
        _waitingForKeyframe = false;
        if (!_builder.IsEmpty)
        {
            _mount.Publish(_builder);
        }
        _builder.BeginKeyframe(_mount.Headers);
    }

    private void AppendMedia(in FlvTag tag, Track track)
    {
        var time = _mount.Timeline.Map(tag.Timestamp, track, ref _offset);
        var span = _builder.Append(tag.Bytes);
        FlvTagHeader.WriteTimestamp(span, (uint)time);
        _builder.MarkTime(time);
        CutIfLarge();
    }

    private void AppendInBand(in FlvTag tag)
    {
        var span = _builder.Append(tag.Bytes);
        var time = _mount.Timeline.HasOutput ? _mount.Timeline.LastTime : 0;
        FlvTagHeader.WriteTimestamp(span, (uint)time);
        CutIfLarge();
    }

    private void CutIfLarge()
    {
        if (_builder.Length >= MaxSliceBytes)
        {
            _mount.Publish(_builder);
        }
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
        _mount.Headers = new FlvJoinHeaders(_fileHeader, _metadata, _videoConfig, _audioConfig, codecs);
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
