using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Threading.Channels;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Savate.Server.Streaming;

namespace Savate.Server.AccessLog;

/// <summary>
/// <c>server.access-log</c>: one line per request in the combined log format, plus the duration in seconds
/// (Icecast's access.log), to a file or to stdout (<c>-</c>). Listeners and sources are logged when they end,
/// with their bytes (sent to a listener, received from a source) and how long they lasted. Lines are queued
/// and written by one background task, so no request waits for the disk. SIGUSR1 reopens the file (logrotate's
/// <c>postrotate</c>). Secrets never reach the log: the Authorization header is not logged, and the value of
/// every query parameter that may carry one (<see cref="SecretParameters"/>) is replaced by <c>REDACTED</c>.
/// </summary>
internal sealed partial class AccessLogWriter : IHostedService, IAsyncDisposable
{
    // SIGUSR1 on Linux (PosixSignal has no name for it; raw numbers are accepted on Unix).
    private const int SigUsr1 = 10;

    /// <summary>Query parameters whose values are never logged: passwords and the signed-URL tokens in use (Akamai hdnts, __token__, CDN tokens).</summary>
    public static readonly string[] SecretParameters =
        ["hdnts", "__token__", "token", "password", "pass", "passwd", "pwd", "secret", "key", "auth", "sig", "signature", "hmac"];

    private readonly string _path;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Channel<string> _lines = Channel.CreateBounded<string>(new BoundedChannelOptions(100_000)
    {
        SingleReader = true,
        FullMode = BoundedChannelFullMode.DropWrite,
    });
    private PosixSignalRegistration? _reopenSignal;
    private Task? _writer;
    private volatile bool _reopen;
    private long _dropped;

    public AccessLogWriter(string path, TimeProvider time, ILogger<AccessLogWriter> logger)
    {
        _path = path;
        _time = time;
        _logger = logger;
    }

    /// <summary>The file (or <c>-</c>) lines go to.</summary>
    public string Path => _path;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (_path != "-" && !OperatingSystem.IsWindows())
        {
            _reopenSignal = PosixSignalRegistration.Create((PosixSignal)SigUsr1, context =>
            {
                context.Cancel = true;
                Reopen();
            });
        }
        _writer = Task.Run(WriteLoopAsync, CancellationToken.None);
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        _lines.Writer.TryComplete();
        if (_writer is { } writer)
        {
            await writer.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        _reopenSignal?.Dispose();
        _lines.Writer.TryComplete();
        if (_writer is { } writer)
        {
            await writer.ConfigureAwait(false);
        }
    }

    /// <summary>Closes and reopens the file at the next line (after logrotate moved it).</summary>
    public void Reopen() => _reopen = true;

    /// <summary>A request Kestrel served (admin, status, a refused source, a 404...).</summary>
    public void LogRequest(string remoteIp, string? user, string method, string pathAndQuery, string protocol, int status, long bytes,
        string? referer, string? userAgent, TimeSpan duration)
    {
        Enqueue(Format(remoteIp, user, _time.GetUtcNow() - duration, $"{method} {Scrub(pathAndQuery)} {protocol}", status, bytes, referer, userAgent, duration));
    }

    /// <summary>A listener, when it ends: the bytes it was sent and how long it listened.</summary>
    public void LogListener(Mount mount, Listener listener)
    {
        var duration = _time.GetUtcNow() - listener.ConnectedAt;
        Enqueue(Format(HostOf(listener.Remote), null, listener.ConnectedAt, $"GET {mount.Path} HTTP/1.1", 200, listener.BytesSent, null, listener.UserAgent, duration));
    }

    /// <summary>A source, when it ends: the bytes it pushed and how long it stayed (logged as Icecast's SOURCE, whatever method it used).</summary>
    public void LogSource(SourceSession session)
    {
        var duration = _time.GetUtcNow() - session.ConnectedAt;
        Enqueue(Format(HostOf(session.Remote), "source", session.ConnectedAt, $"SOURCE {session.Mount.Path} HTTP/1.1", 200, session.BytesIn, null, session.UserAgent, duration));
    }

    /// <summary>The request target with the value of every secret query parameter replaced.</summary>
    public static string Scrub(string pathAndQuery)
    {
        var question = pathAndQuery.IndexOf('?');
        if (question < 0)
        {
            return pathAndQuery;
        }
        var result = new StringBuilder(pathAndQuery.Length);
        result.Append(pathAndQuery, 0, question + 1);
        var parameters = pathAndQuery[(question + 1)..].Split('&');
        for (var i = 0; i < parameters.Length; i++)
        {
            if (i > 0)
            {
                result.Append('&');
            }
            var parameter = parameters[i];
            var equals = parameter.IndexOf('=');
            var name = Uri.UnescapeDataString((equals < 0 ? parameter : parameter[..equals]).Replace('+', ' '));
            if (equals >= 0 && IsSecret(name))
            {
                result.Append(parameter, 0, equals + 1).Append("REDACTED");
            }
            else
            {
                result.Append(parameter);
            }
        }
        return result.ToString();
    }

    private static bool IsSecret(string name)
    {
        foreach (var secret in SecretParameters)
        {
            if (name.Equals(secret, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }
        return false;
    }

    /// <summary><c>host - user [time] "request" status bytes "referer" "agent" seconds</c>.</summary>
    internal static string Format(string host, string? user, DateTimeOffset start, string request, int status, long bytes, string? referer, string? userAgent, TimeSpan duration)
    {
        var line = new StringBuilder(160);
        line.Append(Field(host)).Append(" - ").Append(string.IsNullOrEmpty(user) ? "-" : Field(user))
            .Append(" [").Append(start.ToUniversalTime().ToString("dd/MMM/yyyy:HH:mm:ss +0000", CultureInfo.InvariantCulture)).Append("] \"")
            .Append(Quoted(request)).Append("\" ").Append(status.ToString(CultureInfo.InvariantCulture)).Append(' ')
            .Append(bytes > 0 ? bytes.ToString(CultureInfo.InvariantCulture) : "-")
            .Append(" \"").Append(string.IsNullOrEmpty(referer) ? "-" : Quoted(Scrub(referer))).Append("\" \"")
            .Append(string.IsNullOrEmpty(userAgent) ? "-" : Quoted(userAgent)).Append("\" ")
            .Append(((long)Math.Max(0, duration.TotalSeconds)).ToString(CultureInfo.InvariantCulture));
        return line.ToString();
    }

    /// <summary>"1.2.3.4:5678" → "1.2.3.4"; "[::1]:5678" → "::1".</summary>
    internal static string HostOf(string remote)
    {
        if (System.Net.IPEndPoint.TryParse(remote, out var endpoint))
        {
            return endpoint.Address.ToString();
        }
        return remote;
    }

    // A field outside quotes: no spaces or control characters (a log line must stay one parsable line).
    private static string Field(string value) => Quoted(value).Replace(' ', '_');

    // Inside quotes: quotes, backslashes and control characters escaped as Apache does (\" \\ \xNN).
    private static string Quoted(string value)
    {
        var clean = true;
        foreach (var c in value)
        {
            if (c is '"' or '\\' || char.IsControl(c))
            {
                clean = false;
                break;
            }
        }
        if (clean)
        {
            return value;
        }
        var escaped = new StringBuilder(value.Length + 8);
        foreach (var c in value)
        {
            if (c is '"' or '\\')
            {
                escaped.Append('\\').Append(c);
            }
            else if (char.IsControl(c))
            {
                escaped.Append("\\x").Append(((int)c).ToString("x2", CultureInfo.InvariantCulture));
            }
            else
            {
                escaped.Append(c);
            }
        }
        return escaped.ToString();
    }

    private void Enqueue(string line)
    {
        if (!_lines.Writer.TryWrite(line) && Interlocked.Increment(ref _dropped) == 1)
        {
            LinesDropped(_logger, _path);
        }
    }

    private async Task WriteLoopAsync()
    {
        TextWriter? writer = null;
        var opened = false;
        try
        {
            while (await _lines.Reader.WaitToReadAsync().ConfigureAwait(false))
            {
                if (_reopen || !opened)
                {
                    _reopen = false;
                    opened = true;
                    writer = Open(writer);
                }
                while (_lines.Reader.TryRead(out var line))
                {
                    if (writer is null)
                    {
                        continue;
                    }
                    await writer.WriteLineAsync(line).ConfigureAwait(false);
                }
                if (writer is not null)
                {
                    await writer.FlushAsync().ConfigureAwait(false);
                }
            }
        }
        catch (IOException e)
        {
            WriteFailed(_logger, _path, e.Message);
        }
        finally
        {
            if (writer is not null && !ReferenceEquals(writer, Console.Out))
            {
                await writer.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    private TextWriter? Open(TextWriter? previous)
    {
        if (_path == "-")
        {
            return Console.Out;
        }
        previous?.Dispose();
        try
        {
            var stream = new FileStream(_path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete);
            if (previous is not null)
            {
                Reopened(_logger, _path);
            }
            return new StreamWriter(stream, new UTF8Encoding(false));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Logged once per (re)open attempt; lines are dropped until the next SIGUSR1.
            OpenFailed(_logger, _path, e.Message);
            return null;
        }
    }

    [LoggerMessage(650, LogLevel.Error, "Cannot open the access log {Path}: {Message}; access lines are dropped until the next SIGUSR1")]
    private static partial void OpenFailed(ILogger logger, string path, string message);

    [LoggerMessage(651, LogLevel.Information, "Access log {Path} reopened (SIGUSR1)")]
    private static partial void Reopened(ILogger logger, string path);

    [LoggerMessage(652, LogLevel.Warning, "Access log {Path} cannot keep up: lines dropped (logged once)")]
    private static partial void LinesDropped(ILogger logger, string path);

    [LoggerMessage(653, LogLevel.Error, "Writing the access log {Path} failed: {Message}; access logging stopped")]
    private static partial void WriteFailed(ILogger logger, string path, string message);
}
