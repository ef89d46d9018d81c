using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.Text;
using Savate.Server.Streaming;

namespace Savate.Server.Http;

/// <summary>
/// Size caps of a request head. Kestrel's defaults (KestrelServerLimits), so that a head is refused the same
/// way whichever layer reads it: the front door, the connection middleware or Kestrel itself.
/// </summary>
internal static class RequestHeadLimits
{
    /// <summary>The request line, CRLF included (Kestrel's MaxRequestLineSize: 8 KiB). Longer: 414.</summary>
    public const int MaxRequestLine = 8 * 1024;

    /// <summary>The whole head, request line and final CRLF included (Kestrel's MaxRequestHeadersTotalSize: 32 KiB). Larger: 431.</summary>
    public const int MaxHead = 32 * 1024;

    /// <summary>Header fields (Kestrel's MaxRequestHeaderCount: 100). More: 431.</summary>
    public const int MaxHeaders = 100;

    /// <summary>A method longer than any real one (the longest registered, UPDATEREDIRECTREF, has 17).</summary>
    public const int MaxMethod = 24;

    /// <summary>HTTP/1.1 or ICE/1.0; anything longer is not a version.</summary>
    public const int MaxVersion = 16;
}

/// <summary>Why a request head was refused.</summary>
internal enum RequestHeadError
{
    /// <summary>The method is not a token, or the request line does not have three parts.</summary>
    BadRequestLine,

    /// <summary>A request line without a version (HTTP/0.9): no headers, no answer a player could read.</summary>
    Http09,

    /// <summary>A line ended by LF alone (RFC 9112 §2.2 lets a server refuse it; two parsers that disagree on it smuggle requests).</summary>
    BareLineFeed,

    /// <summary>The target holds a control character, a space or a non-ASCII byte.</summary>
    BadTarget,

    /// <summary>A version other than HTTP/1.0, HTTP/1.1 or ICE/1.0.</summary>
    BadVersion,

    /// <summary>A header line that is not <c>name: value</c>, a folded line, a control character in a value.</summary>
    BadHeader,

    /// <summary>The request line is longer than <see cref="RequestHeadLimits.MaxRequestLine"/> (414).</summary>
    RequestLineTooLong,

    /// <summary>The head is larger than <see cref="RequestHeadLimits.MaxHead"/>, or has too many fields (431).</summary>
    HeadTooLarge,
}

/// <summary>A request head the server will not read, with the status it is answered with (then the connection closes).</summary>
internal sealed class BadRequestHeadException(RequestHeadError reason)
    : Exception($"Bad request head: {Describe(reason)}")
{
    public RequestHeadError Reason { get; } = reason;

    public int StatusCode => StatusOf(Reason);

    public static int StatusOf(RequestHeadError reason) => reason switch
    {
        RequestHeadError.RequestLineTooLong => 414,
        RequestHeadError.HeadTooLarge => 431,
        _ => 400,
    };

    public static string Describe(RequestHeadError reason) => reason switch
    {
        RequestHeadError.BadRequestLine => "the request line is not METHOD TARGET VERSION",
        RequestHeadError.Http09 => "HTTP/0.9 requests (no version) are not supported",
        RequestHeadError.BareLineFeed => "lines must end with CRLF, not a bare LF",
        RequestHeadError.BadTarget => "the request target holds a byte that is not visible ASCII",
        RequestHeadError.BadVersion => "only HTTP/1.0, HTTP/1.1 and ICE/1.0 are served",
        RequestHeadError.BadHeader => "a header line is not 'name: value'",
        RequestHeadError.RequestLineTooLong => $"the request line is longer than {RequestHeadLimits.MaxRequestLine} bytes",
        RequestHeadError.HeadTooLarge => $"the request head is larger than {RequestHeadLimits.MaxHead} bytes or has more than {RequestHeadLimits.MaxHeaders} fields",
        _ => reason.ToString(),
    };
}

/// <summary>
/// Reads a request head byte by byte, as Kestrel's HttpParser does: every byte is checked once, against the
/// grammar and the caps of <see cref="RequestHeadLimits"/>, so garbage is refused as soon as it shows (not
/// when a CRLFCRLF that never comes arrives). The state survives between calls: give it the same buffer
/// (unconsumed) each time, grown by whatever arrived, and it goes on where it stopped.
/// </summary>
internal struct RequestHeadReader
{
    private State _state;
    private long _position;
    private long _tokenStart;
    private long _valueEnd;
    private int _headers;
    private string? _method;
    private string? _target;
    private string? _version;
    private string? _name;
    private string? _authorization;
    private string? _contentType;
    private string? _userAgent;
    private string? _forwardedFor;
    private string? _forwarded;
    private string? _referer;
    private string? _origin;
    private string? _cookie;
    private bool _expectsContinue;
    private bool _chunked;
    private long? _contentLength;
    private bool _badLength;

    private enum State
    {
        Method,
        Target,
        Version,
        RequestLineLf,
        HeaderStart,
        HeaderName,
        ValueStart,
        Value,
        HeaderLf,
        FinalLf,
        Done,
    }

    /// <summary>How many bytes of the buffer were checked so far.</summary>
    public readonly long Examined => _position;

    /// <summary>
    /// Reads on from where the last call stopped. False: the head is not complete yet (nothing wrong so far).
    /// True: <paramref name="head"/> is the request and <paramref name="end"/> the first byte after its blank line.
    /// </summary>
    /// <exception cref="BadRequestHeadException">The head breaks the grammar or a cap.</exception>
    public bool TryRead(in ReadOnlySequence<byte> buffer, [NotNullWhen(true)] out RawRequestHead? head, out SequencePosition end)
    {
        head = null;
        end = buffer.Start;
        if (_state == State.Done)
        {
            throw new InvalidOperationException("The head was read already.");
        }
        if (_position >= buffer.Length)
        {
            return false;
        }
        foreach (var segment in buffer.Slice(_position))
        {
            var span = segment.Span;
            for (var i = 0; i < span.Length; i++)
            {
                if (Step(span[i], buffer))
                {
                    end = buffer.GetPosition(_position);
                    head = Build();
                    return true;
                }
            }
        }
        CheckCaps();
        return false;
    }

    /// <summary>Reads one head from a buffer that starts with it (a fresh reader).</summary>
    public static bool TryParse(in ReadOnlySequence<byte> buffer, [NotNullWhen(true)] out RawRequestHead? head, out SequencePosition end)
    {
        var reader = default(RequestHeadReader);
        return reader.TryRead(buffer, out head, out end);
    }

    // One byte; true when it ended the head. _position is the byte's offset before, one past it after.
    private bool Step(byte b, in ReadOnlySequence<byte> buffer)
    {
        var at = _position++;
        switch (_state)
        {
            case State.Method:
                if (b == (byte)' ' && at > 0)
                {
                    _method = Text(buffer, 0, at);
                    _tokenStart = _position;
                    _state = State.Target;
                }
                else if (!IsTokenChar(b) || at >= RequestHeadLimits.MaxMethod)
                {
                    Throw(RequestHeadError.BadRequestLine);
                }
                break;
            case State.Target:
                if (b == (byte)' ' && at > _tokenStart)
                {
                    _target = Text(buffer, _tokenStart, at - _tokenStart);
                    _tokenStart = _position;
                    _state = State.Version;
                }
                else if ((b == (byte)'\r' || b == (byte)'\n') && at > _tokenStart)
                {
                    Throw(RequestHeadError.Http09);
                }
                else if (b is <= 0x20 or >= 0x7F)
                {
                    Throw(at == _tokenStart ? RequestHeadError.BadRequestLine : RequestHeadError.BadTarget);
                }
                break;
            case State.Version:
                if (b == (byte)'\r')
                {
                    _version = Text(buffer, _tokenStart, at - _tokenStart);
                    if (_version is not ("HTTP/1.1" or "HTTP/1.0" or "ICE/1.0"))
                    {
                        Throw(RequestHeadError.BadVersion);
                    }
                    _state = State.RequestLineLf;
                }
                else if (b == (byte)'\n')
                {
                    Throw(RequestHeadError.BareLineFeed);
                }
                else if (b is <= 0x20 or >= 0x7F || at - _tokenStart >= RequestHeadLimits.MaxVersion)
                {
                    Throw(RequestHeadError.BadVersion);
                }
                break;
            case State.RequestLineLf:
                if (b != (byte)'\n')
                {
                    Throw(RequestHeadError.BadRequestLine);
                }
                _state = State.HeaderStart;
                break;
            case State.HeaderStart:
                if (b == (byte)'\r')
                {
                    _state = State.FinalLf;
                }
                else if (b == (byte)'\n')
                {
                    Throw(RequestHeadError.BareLineFeed);
                }
                else if (!IsTokenChar(b))
                {
                    // A folded line (leading whitespace), an empty name, a control byte.
                    Throw(RequestHeadError.BadHeader);
                }
                else
                {
                    if (++_headers > RequestHeadLimits.MaxHeaders)
                    {
                        Throw(RequestHeadError.HeadTooLarge);
                    }
                    _tokenStart = at;
                    _state = State.HeaderName;
                }
                break;
            case State.HeaderName:
                if (b == (byte)':')
                {
                    _name = Text(buffer, _tokenStart, at - _tokenStart);
                    _state = State.ValueStart;
                }
                else if (!IsTokenChar(b))
                {
                    // Whitespace before the colon included (RFC 9112 §5.1: answered 400).
                    Throw(b == (byte)'\n' ? RequestHeadError.BareLineFeed : RequestHeadError.BadHeader);
                }
                break;
            case State.ValueStart:
                if (b is (byte)' ' or (byte)'\t')
                {
                    break;
                }
                _tokenStart = at;
                _valueEnd = at;
                _state = State.Value;
                goto case State.Value;
            case State.Value:
                if (b == (byte)'\r')
                {
                    Header(_name!, Text(buffer, _tokenStart, _valueEnd - _tokenStart));
                    _state = State.HeaderLf;
                }
                else if (b == (byte)'\n')
                {
                    Throw(RequestHeadError.BareLineFeed);
                }
                else if (b is (byte)' ' or (byte)'\t')
                {
                    // Trailing whitespace is not part of the value: _valueEnd stays before it.
                }
                else if (b < 0x20 || b == 0x7F)
                {
                    Throw(RequestHeadError.BadHeader);
                }
                else
                {
                    _valueEnd = _position;
                }
                break;
            case State.HeaderLf:
                if (b != (byte)'\n')
                {
                    Throw(RequestHeadError.BadHeader);
                }
                _state = State.HeaderStart;
                break;
            case State.FinalLf:
                if (b != (byte)'\n')
                {
                    Throw(RequestHeadError.BadHeader);
                }
                _state = State.Done;
                return true;
        }
        if (_state is State.Method or State.Target or State.Version && _position >= RequestHeadLimits.MaxRequestLine)
        {
            Throw(RequestHeadError.RequestLineTooLong);
        }
        if (_position >= RequestHeadLimits.MaxHead)
        {
            Throw(RequestHeadError.HeadTooLarge);
        }
        return false;
    }

    private readonly void CheckCaps()
    {
        if (_state is State.Method or State.Target or State.Version && _position >= RequestHeadLimits.MaxRequestLine)
        {
            Throw(RequestHeadError.RequestLineTooLong);
        }
    }

    private void Header(string name, string value)
    {
        if (name.Equals("Authorization", StringComparison.OrdinalIgnoreCase))
        {
            _authorization = value;
        }
        else if (name.Equals("Content-Type", StringComparison.OrdinalIgnoreCase))
        {
            _contentType = value;
        }
        else if (name.Equals("User-Agent", StringComparison.OrdinalIgnoreCase))
        {
            _userAgent = value;
        }
        else if (name.Equals("X-Forwarded-For", StringComparison.OrdinalIgnoreCase))
        {
            // Several fields are one list (RFC 9110 §5.3); so are Forwarded and Cookie below.
            _forwardedFor = _forwardedFor is null ? value : $"{_forwardedFor}, {value}";
        }
        else if (name.Equals("Forwarded", StringComparison.OrdinalIgnoreCase))
        {
            _forwarded = _forwarded is null ? value : $"{_forwarded}, {value}";
        }
        else if (name.Equals("Referer", StringComparison.OrdinalIgnoreCase))
        {
            _referer = value;
        }
        else if (name.Equals("Origin", StringComparison.OrdinalIgnoreCase))
        {
            _origin = value;
        }
        else if (name.Equals("Cookie", StringComparison.OrdinalIgnoreCase))
        {
            _cookie = _cookie is null ? value : $"{_cookie}; {value}";
        }
        else if (name.Equals("Expect", StringComparison.OrdinalIgnoreCase))
        {
            _expectsContinue = value.Equals("100-continue", StringComparison.OrdinalIgnoreCase);
        }
        else if (name.Equals("Transfer-Encoding", StringComparison.OrdinalIgnoreCase))
        {
            _chunked = true;
        }
        else if (name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase))
        {
            // Digits only, and every field the same (RFC 9110 §8.6): anything else is Kestrel's to refuse.
            if (value.Length is > 0 and <= 18 && value.AsSpan().IndexOfAnyExceptInRange('0', '9') < 0
                && long.Parse(value, System.Globalization.CultureInfo.InvariantCulture) is var length && (_contentLength ?? length) == length)
            {
                _contentLength = length;
            }
            else
            {
                _badLength = true;
            }
        }
    }

    private readonly RawRequestHead Build()
    {
        var normalized = RequestPath.TryNormalize(_target!, out var path, out var pathError);
        return new RawRequestHead
        {
            Method = _method!,
            Target = _target!,
            Path = normalized ? path : null,
            PathError = normalized ? null : pathError,
            Version = _version!,
            Authorization = _authorization,
            ContentType = _contentType,
            UserAgent = _userAgent,
            ForwardedFor = _forwardedFor,
            Forwarded = _forwarded,
            Referer = _referer,
            Origin = _origin,
            Cookie = _cookie,
            ExpectsContinue = _expectsContinue,
            IsChunked = _chunked,
            ContentLength = _badLength ? null : _contentLength,
            HasBadLength = _badLength,
        };
    }

    private static string Text(in ReadOnlySequence<byte> buffer, long start, long length) =>
        Encoding.Latin1.GetString(buffer.Slice(start, length));

    // RFC 9110 §5.6.2 tchar.
    private static bool IsTokenChar(byte b) =>
        b is >= (byte)'a' and <= (byte)'z' or >= (byte)'A' and <= (byte)'Z' or >= (byte)'0' and <= (byte)'9'
            or (byte)'!' or (byte)'#' or (byte)'$' or (byte)'%' or (byte)'&' or (byte)'\'' or (byte)'*' or (byte)'+'
            or (byte)'-' or (byte)'.' or (byte)'^' or (byte)'_' or (byte)'`' or (byte)'|' or (byte)'~';

    [DoesNotReturn]
    private static void Throw(RequestHeadError reason) => throw new BadRequestHeadException(reason);
}

/// <summary>A request head, with what routing needs: method, normalised path, and the few headers a source or listener uses.</summary>
internal sealed class RawRequestHead
{
    public required string Method { get; init; }

    /// <summary>The request target as sent.</summary>
    public required string Target { get; init; }

    /// <summary>The target's path, normalised (<see cref="RequestPath"/>); null when it cannot be (see <see cref="PathError"/>).</summary>
    public string? Path { get; init; }

    /// <summary>Why the target has no path (a dot segment, an encoded slash, ...), or null.</summary>
    public string? PathError { get; init; }

    public required string Version { get; init; }
    public string? Authorization { get; init; }
    public string? ContentType { get; init; }
    public string? UserAgent { get; init; }

    /// <summary>X-Forwarded-For, believed only from a trusted proxy (<see cref="ClientAddress"/>).</summary>
    public string? ForwardedFor { get; init; }

    /// <summary>Forwarded (RFC 7239), believed only from a trusted proxy.</summary>
    public string? Forwarded { get; init; }

    public string? Referer { get; init; }
    public string? Origin { get; init; }

    /// <summary>The Cookie fields, joined: where a browser keeps an auth token.</summary>
    public string? Cookie { get; init; }

    public bool ExpectsContinue { get; init; }

    /// <summary>The target's query, without its <c>?</c>; null when it has none.</summary>
    public string? Query => Target.IndexOf('?') is var q and >= 0 ? Target[(q + 1)..] : null;

    /// <summary>A Transfer-Encoding field was sent (chunked framing: Kestrel's to read).</summary>
    public bool IsChunked { get; init; }

    /// <summary>The Content-Length, when one valid value was sent.</summary>
    public long? ContentLength { get; init; }

    /// <summary>A Content-Length that is not a number, or several that differ.</summary>
    public bool HasBadLength { get; init; }

    /// <summary>
    /// SOURCE always; PUT/POST unless chunked (or with a bad length): a body that runs until the connection closes,
    /// or a sized one. Sized bodies are read here rather than by Kestrel, which refuses a body whose last bytes came
    /// with the client's FIN when they are read after it ("Unexpected end of request content"): a client that sends
    /// its body and leaves right after the answer would lose the tail.
    /// The admin API's POSTs are never sources.
    /// </summary>
    public bool IsRawSource => !(Path is { } path && Admin.AdminApi.Handles(path))
        && (Method == "SOURCE" || (Method is "PUT" or "POST" && !IsChunked && !HasBadLength));

    /// <summary>GET or HEAD over HTTP/1.x: a listener, if the path is a mount.</summary>
    public bool IsListener => Method is "GET" or "HEAD" && Version is "HTTP/1.0" or "HTTP/1.1";

    /// <summary>The mount this request listens to, when it is a GET or HEAD for a known mount.</summary>
    public Mount? ListenerMount(MountRegistry registry) => IsListener && Path is not null ? MountPaths.FindListenable(registry, Path) : null;

    public bool IsHead => Method == "HEAD";

    public string ResponseVersion => Version == "HTTP/1.1" ? "HTTP/1.1" : "HTTP/1.0";

    /// <summary>Reads one whole head from the start of <paramref name="buffer"/> (<see cref="RequestHeadReader.TryParse"/>).</summary>
    public static bool TryParse(in ReadOnlySequence<byte> buffer, [NotNullWhen(true)] out RawRequestHead? head, out SequencePosition end) =>
        RequestHeadReader.TryParse(buffer, out head, out end);
}
