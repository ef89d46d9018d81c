using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;
using Savate.Server.Configuration;
using Savate.Server.Streaming;

namespace Savate.Server.Http;

/// <summary>
/// The certificate the <c>https://</c> listen URLs serve (<c>server.tls-certificate</c> and <c>server.tls-key</c>, PEM),
/// kept current without a restart: each handshake asks for <see cref="Current"/>, which at most once a second compares
/// the files' write times and lengths (and the paths of the running config, so a reload that names other files
/// applies at the next handshake) with those of the certificate it holds, and loads them again when they differ.
/// Connections already up keep the certificate they were opened with. A pair that does not load (a key being written
/// after its certificate, a broken file) keeps the last good certificate and is logged once per version of the files.
/// The <see cref="SslStreamCertificateContext"/> is built once per certificate (with its chain from the PEM file),
/// not per handshake.
/// </summary>
internal sealed partial class TlsCertificates
{
    private readonly MountRegistry _registry;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly long _checkTicks;
    private readonly object _lock = new();
    private volatile Loaded _current;
    private long _checkedAt;
    private Stamp? _failed;

    public TlsCertificates(MountRegistry registry, TimeProvider time, ILogger<TlsCertificates> logger)
    {
        _registry = registry;
        _time = time;
        _logger = logger;
        _checkTicks = time.TimestampFrequency;
        var server = registry.Config.Server;
        if (server.TlsCertificate is not { } certificate || server.TlsKey is not { } key)
        {
            throw new InvalidDataException("an https:// listen URL needs server.tls-certificate and server.tls-key (PEM files)");
        }
        // At start-up a bad pair stops the server (the config check names the file first).
        var stamp = Stamp.Of(certificate, key);
        _current = new Loaded(stamp, Build(PemCertificate.Load(certificate, key)));
        _checkedAt = time.GetTimestamp();
    }

    /// <summary>The certificate now served (for logs and tests).</summary>
    public X509Certificate2 Certificate => _current.Context.TargetCertificate;

    /// <summary>The certificate context for a new handshake: the current files' one, reloaded when they changed.</summary>
    public SslStreamCertificateContext Current()
    {
        var now = _time.GetTimestamp();
        if (now - Volatile.Read(ref _checkedAt) >= _checkTicks)
        {
            Check(now);
        }
        return _current.Context;
    }

    private void Check(long now)
    {
        if (!Monitor.TryEnter(_lock))
        {
            // Another handshake is checking: this one gets the certificate held now.
            return;
        }
        try
        {
            Volatile.Write(ref _checkedAt, now);
            var server = _registry.Config.Server;
            if (server.TlsCertificate is not { } certificate || server.TlsKey is not { } key)
            {
                // A reload cannot remove them while an https:// URL listens (the validator refuses it); keep serving.
                return;
            }
            var stamp = Stamp.Of(certificate, key);
            if (stamp == _current.Stamp || stamp == _failed)
            {
                return;
            }
            (X509Certificate2 Leaf, X509Certificate2Collection Chain) loaded;
            try
            {
                loaded = PemCertificate.Load(certificate, key);
            }
            catch (InvalidDataException e)
            {
                _failed = stamp;
                ReloadFailed(_logger, e.Message, _current.Context.TargetCertificate.Thumbprint);
                return;
            }
            _failed = null;
            _current = new Loaded(stamp, Build(loaded));
            Reloaded(_logger, certificate, loaded.Leaf.Subject, loaded.Leaf.Thumbprint, loaded.Leaf.NotAfter.ToUniversalTime());
        }
        finally
        {
            Monitor.Exit(_lock);
        }
    }

    private static SslStreamCertificateContext Build((X509Certificate2 Leaf, X509Certificate2Collection Chain) pair) =>
        SslStreamCertificateContext.Create(pair.Leaf, pair.Chain, offline: true);

    /// <summary>What the pair of files looked like when read: a change of either means reading them again.</summary>
    private sealed record Stamp(string Certificate, string Key, DateTime CertificateWritten, long CertificateLength, DateTime KeyWritten, long KeyLength)
    {
        public static Stamp Of(string certificate, string key)
        {
            var c = new FileInfo(certificate);
            var k = new FileInfo(key);
            return new Stamp(certificate, key,
                c.Exists ? c.LastWriteTimeUtc : default, c.Exists ? c.Length : -1,
                k.Exists ? k.LastWriteTimeUtc : default, k.Exists ? k.Length : -1);
        }
    }

    private sealed record Loaded(Stamp Stamp, SslStreamCertificateContext Context);

    [LoggerMessage(EventId = 45, Level = LogLevel.Information, Message = "TLS certificate reloaded from {Path}: {Subject}, thumbprint {Thumbprint}, valid until {NotAfter:u}")]
    private static partial void Reloaded(ILogger logger, string path, string subject, string thumbprint, DateTime notAfter);

    [LoggerMessage(EventId = 46, Level = LogLevel.Warning, Message = "TLS certificate not reloaded, the one served stays (thumbprint {Thumbprint}): {Reason}")]
    private static partial void ReloadFailed(ILogger logger, string reason, string thumbprint);
}
