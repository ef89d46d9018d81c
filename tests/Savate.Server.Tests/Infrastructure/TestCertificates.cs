using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Savate.Server.Tests.Infrastructure;

/// <summary>Self-signed certificates written as PEM files at test time (no openssl, no checked-in keys), and a TLS client that reports what the server presented.</summary>
public static class TestCertificates
{
    /// <summary>Writes a fresh self-signed ECDSA P-256 certificate for localhost/127.0.0.1 and its PKCS#8 key; returns the certificate's thumbprint.</summary>
    public static string Write(string certificatePath, string keyPath, string commonName = "savate-test")
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={commonName}", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName("localhost");
        names.AddIpAddress(System.Net.IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], critical: false));
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        // Written beside, then renamed: a handshake never reads half a file.
        WriteAtomically(keyPath, key.ExportPkcs8PrivateKeyPem());
        WriteAtomically(certificatePath, certificate.ExportCertificatePem());
        return certificate.Thumbprint;
    }

    public static void WriteAtomically(string path, string text)
    {
        var temporary = path + ".tmp";
        File.WriteAllText(temporary, text);
        File.Move(temporary, path, overwrite: true);
    }

    /// <summary>An HttpClient that accepts any server certificate (the tests' are self-signed).</summary>
    public static HttpClient InsecureClient(Version? version = null)
    {
        var handler = new SocketsHttpHandler
        {
            SslOptions = new SslClientAuthenticationOptions { RemoteCertificateValidationCallback = (_, _, _, _) => true },
        };
        var client = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(30) };
        if (version is not null)
        {
            client.DefaultRequestVersion = version;
            client.DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact;
        }
        return client;
    }

    /// <summary>Opens a TLS connection and returns the thumbprint of the certificate the server presented.</summary>
    public static async Task<string> ThumbprintAsync(Uri https)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(https.Host, https.Port);
        await using var tls = new SslStream(tcp.GetStream(), leaveInnerStreamOpen: false, (_, _, _, _) => true);
        await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = "localhost" });
        return tls.RemoteCertificate is X509Certificate2 certificate
            ? certificate.Thumbprint
            : X509CertificateLoader.LoadCertificate(tls.RemoteCertificate!.GetRawCertData()).Thumbprint;
    }
}
