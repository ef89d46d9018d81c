using System.Globalization;

namespace Savate.LoadTest;

internal enum StreamFormat
{
    Flv,
    Ts,
}

/// <summary>Command line of the load tool. Sizes and durations use the savate.yaml syntax (1M, 10k, 2s, 500ms).</summary>
internal sealed class Options
{
    public Uri Url { get; private set; } = new("http://127.0.0.1:8000/load.flv");
    /// <summary>Where the synthetic source pushes (http:// only): --source-url, else --url. Needed when --url is https://.</summary>
    public Uri SourceUrl => _sourceUrl ?? Url;
    /// <summary>Listeners connect over TLS (https:// --url), with certificate validation off.</summary>
    public bool Tls => Url.Scheme == Uri.UriSchemeHttps;
    private Uri? _sourceUrl;
    public int Listeners { get; private set; } = 1000;
    public long BitsPerSecond { get; private set; } = 1_000_000;
    public int Fps { get; private set; } = 25;
    public TimeSpan Gop { get; private set; } = TimeSpan.FromSeconds(2);
    public TimeSpan Duration { get; private set; } = TimeSpan.FromSeconds(30);
    public double JoinRate { get; private set; } = 1000;
    public double SlowFraction { get; private set; }
    public long SlowBytesPerSecond { get; private set; } = 10_000;
    public int? ServerPid { get; private set; }
    public StreamFormat Format { get; private set; } = StreamFormat.Flv;
    public string SourcePassword { get; private set; } = "change-me";
    public string SourceUser { get; private set; } = "source";
    /// <summary>post-chunked (Savate) or put (raw body until close, as Icecast and ffmpeg's icecast:// send).</summary>
    public string SourceMethod { get; private set; } = "post-chunked";
    public bool NoSource { get; private set; }
    public int SampleEvery { get; private set; } = 20;
    public TimeSpan Lead { get; private set; } = TimeSpan.FromSeconds(2);
    public TimeSpan Settle { get; private set; } = TimeSpan.FromSeconds(3);
    public string? JsonOut { get; private set; }
    public string? StatusUrl { get; private set; }
    public string Label { get; private set; } = "";
    /// <summary>HLS clients instead of HTTP-FLV/TS listeners (<see cref="HlsRun"/>): <see cref="Listeners"/> of them poll {url}/index.m3u8.</summary>
    public bool Hls { get; private set; }
    /// <summary>Each listener from its own loopback address (127.1.x.y), as players from many hosts; --one-address turns it off.</summary>
    public bool SpreadAddresses { get; private set; } = true;
    /// <summary>Mounts, each with its own source at the full bitrate; listeners are spread over them (see <see cref="SourceSet"/>).</summary>
    public int Mounts { get; private set; } = 1;
    /// <summary>Threads reading the plain listeners with epoll (<see cref="EpollReceivers"/>); 0: one async receive loop per listener.</summary>
    public int Receivers { get; private set; } = Math.Clamp(Environment.ProcessorCount, 1, 8);
    /// <summary>A cache's processes (nginx workers), whose CPU is reported beside the origin's.</summary>
    public List<int> ProxyPids { get; } = [];

    public static Options Parse(string[] args)
    {
        var o = new Options();
        for (var i = 0; i < args.Length; i++)
        {
            var key = args[i];
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{key} needs a value");
            switch (key)
            {
                case "--url": o.Url = new Uri(Next()); break;
                case "--source-url": o._sourceUrl = new Uri(Next()); break;
                case "--listeners": o.Listeners = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--bitrate": o.BitsPerSecond = ParseSize(Next(), decimalUnits: true); break;
                case "--fps": o.Fps = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--gop": o.Gop = ParseDuration(Next()); break;
                case "--duration": o.Duration = ParseDuration(Next()); break;
                case "--join-rate": o.JoinRate = double.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--slow-fraction": o.SlowFraction = double.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--slow-rate": o.SlowBytesPerSecond = ParseSize(Next(), decimalUnits: true); break;
                case "--server-pid": o.ServerPid = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--format": o.Format = Next().ToLowerInvariant() switch { "flv" => StreamFormat.Flv, "ts" or "mpegts" => StreamFormat.Ts, var f => throw new ArgumentException($"unknown format {f}") }; break;
                case "--source-password": o.SourcePassword = Next(); break;
                case "--source-user": o.SourceUser = Next(); break;
                case "--source-method": o.SourceMethod = Next(); break;
                case "--no-source": o.NoSource = true; break;
                case "--sample-every": o.SampleEvery = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--lead": o.Lead = ParseDuration(Next()); break;
                case "--settle": o.Settle = ParseDuration(Next()); break;
                case "--json-out": o.JsonOut = Next(); break;
                case "--status-url": o.StatusUrl = Next(); break;
                case "--label": o.Label = Next(); break;
                case "--hls": o.Hls = true; break;
                case "--one-address": o.SpreadAddresses = false; break;
                case "--mounts": o.Mounts = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--receivers": o.Receivers = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--proxy-pids": o.ProxyPids.AddRange(Next().Split(',', StringSplitOptions.RemoveEmptyEntries).Select(p => int.Parse(p, CultureInfo.InvariantCulture))); break;
                case "-h" or "--help": throw new ArgumentException(Usage);
                default: throw new ArgumentException($"unknown option {key}\n{Usage}");
            }
        }
        if (o.SourceUrl.Scheme != Uri.UriSchemeHttp && !o.NoSource)
        {
            throw new ArgumentException("the source pushes over http://: with an https:// --url, give --source-url http://127.0.0.1:8000/load.flv (the same mount)");
        }
        if (o.SourceMethod is not ("post-chunked" or "put"))
        {
            throw new ArgumentException("--source-method is post-chunked or put");
        }
        return o;
    }

    public const string Usage =
        "usage: Savate.LoadTest --url http://127.0.0.1:8000/load.flv --listeners 5000 --bitrate 1M --fps 25 --gop 2s\n" +
        "       [--url https://127.0.0.1:8443/load.flv --source-url http://127.0.0.1:8000/load.flv] (listeners over TLS, no certificate check)\n" +
        "       --duration 30s --join-rate 1000 [--slow-fraction 0.1 --slow-rate 10k] [--server-pid PID]\n" +
        "       [--format flv|ts] [--source-password change-me] [--source-method post-chunked|put] [--no-source]\n" +
        "       [--sample-every 20] [--lead 2s] [--settle 3s] [--json-out FILE] [--status-url URL] [--label NAME]\n" +
        "       [--hls [--source-url URL] [--proxy-pids PID,PID]]: HLS clients polling {url}/index.m3u8\n" +
        "       [--mounts M]: M mounts (/load-0.flv ...), each with its own source; listeners spread over them\n" +
        "       [--one-address]: every listener from 127.0.0.1 (default: each from its own 127.1.x.y, as players from many hosts)\n" +
        "       [--receivers N]: threads reading the listeners with epoll (default: one per core; 0: an async receive loop per listener)";

    /// <summary>k/M/G are decimal here (a bitrate of 1M is 10^6 bit/s, a slow rate of 10k is 10^4 B/s).</summary>
    public static long ParseSize(string text, bool decimalUnits)
    {
        var t = text.Trim();
        long mult = 1;
        var unit = t.TrimStart("0123456789.".ToCharArray());
        var number = t[..(t.Length - unit.Length)];
        var k = decimalUnits ? 1000L : 1024L;
        mult = unit.ToLowerInvariant() switch
        {
            "" or "b" => 1,
            "k" or "kb" => k,
            "m" or "mb" => k * k,
            "g" or "gb" => k * k * k,
            _ => throw new ArgumentException($"bad size {text}"),
        };
        return (long)(double.Parse(number, CultureInfo.InvariantCulture) * mult);
    }

    public static TimeSpan ParseDuration(string text)
    {
        var t = text.Trim();
        if (t.EndsWith("ms", StringComparison.Ordinal))
        {
            return TimeSpan.FromMilliseconds(double.Parse(t[..^2], CultureInfo.InvariantCulture));
        }
        if (t.EndsWith('s'))
        {
            return TimeSpan.FromSeconds(double.Parse(t[..^1], CultureInfo.InvariantCulture));
        }
        if (t.EndsWith('m'))
        {
            return TimeSpan.FromMinutes(double.Parse(t[..^1], CultureInfo.InvariantCulture));
        }
        return TimeSpan.FromSeconds(double.Parse(t, CultureInfo.InvariantCulture));
    }
}
