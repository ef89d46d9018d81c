using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using static Savate.Server.Configuration.Tests.ConfigTestHelpers;

namespace Savate.Server.Configuration.Tests;

/// <summary>server.tls-certificate / tls-key (PemCertificate, checked by ConfigValidator) and the per-address caps.</summary>
public sealed class TlsAndLimitsConfigTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>A self-signed certificate and its key, as cert.pem and key.pem in the temp directory.</summary>
    private void WritePair(string certificate = "cert.pem", string key = "key.pem")
    {
        using var ecdsa = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=savate-config-test", ecdsa, HashAlgorithmName.SHA256);
        using var self = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddDays(1));
        _dir.CreateFile(certificate, self.ExportCertificatePem());
        _dir.CreateFile(key, ecdsa.ExportPkcs8PrivateKeyPem());
    }

    private SavateConfig Parse(string yaml) => ConfigLoader.Parse(yaml, _dir.Path);

    [Fact]
    public void Parse_TlsFiles_AreResolvedAgainstTheConfigFolder()
    {
        WritePair();

        var server = Parse("server:\n  listen: [\"https://0.0.0.0:8443\"]\n  tls-certificate: cert.pem\n  tls-key: key.pem\n").Server;

        Assert.Equal(Path.Combine(_dir.Path, "cert.pem"), server.TlsCertificate);
        Assert.Equal(Path.Combine(_dir.Path, "key.pem"), server.TlsKey);
    }

    [Fact]
    public void Parse_HttpsListenWithoutCertificate_IsAnError()
    {
        var error = SingleError("server:\n  listen: [\"http://0.0.0.0:8000\", \"https://0.0.0.0:8443\"]\n", _dir.Path);

        Assert.StartsWith("server: listen: \"https://0.0.0.0:8443\" is https but tls-certificate and tls-key are not set", error);
    }

    [Fact]
    public void Parse_CertificateWithoutKey_IsAnError()
    {
        WritePair();

        Assert.Equal("server: tls-certificate: set without tls-key (give both, PEM files)", SingleError("server:\n  tls-certificate: cert.pem\n", _dir.Path));
    }

    [Fact]
    public void Parse_MissingCertificateFile_ErrorNamesTheFile()
    {
        WritePair(certificate: "other.pem");

        var error = SingleError("server:\n  tls-certificate: cert.pem\n  tls-key: key.pem\n", _dir.Path);

        Assert.StartsWith($"server: tls-certificate: cannot read {Path.Combine(_dir.Path, "cert.pem")}", error);
    }

    [Fact]
    public void Parse_CertificateFileWithoutACertificate_ErrorNamesTheFile()
    {
        WritePair();
        _dir.CreateFile("cert.pem", "-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n");

        var error = SingleError("server:\n  tls-certificate: cert.pem\n  tls-key: key.pem\n", _dir.Path);

        Assert.StartsWith($"server: tls-certificate: {Path.Combine(_dir.Path, "cert.pem")} holds no PEM certificate", error);
    }

    [Fact]
    public void Parse_KeyOfAnotherCertificate_ErrorNamesTheKeyFile()
    {
        WritePair();
        WritePair(certificate: "unused.pem", key: "other-key.pem");

        var error = SingleError("server:\n  tls-certificate: cert.pem\n  tls-key: other-key.pem\n", _dir.Path);

        Assert.StartsWith($"server: tls-key: {Path.Combine(_dir.Path, "other-key.pem")} holds no unencrypted PEM private key of the certificate", error);
    }

    [Fact]
    public void Parse_PerAddressCaps_DefaultToNoCap()
    {
        var server = Parse("").Server;

        Assert.Equal(0, server.MaxConnectionsPerAddress);
        Assert.Equal(0, server.MaxNewConnectionsPerAddress);
    }

    [Fact]
    public void Parse_PerAddressCaps_AreRead()
    {
        var server = Parse("server:\n  max-connections-per-address: 100\n  max-new-connections-per-address: 50\n").Server;

        Assert.Equal(100, server.MaxConnectionsPerAddress);
        Assert.Equal(50, server.MaxNewConnectionsPerAddress);
    }

    [Fact]
    public void Parse_NegativeCaps_AreErrors()
    {
        var errors = Errors("server:\n  max-connections-per-address: -1\n  max-new-connections-per-address: -2\n", _dir.Path);

        Assert.Equal(
        [
            "server: max-connections-per-address: -1 must not be negative (0 = no cap, e.g. 100)",
            "server: max-new-connections-per-address: -2 must not be negative (0 = no cap, e.g. 50)",
        ], errors);
    }

    [Fact]
    public void Diff_ChangedCaps_ApplyLive()
    {
        var before = Parse("server:\n  max-connections-per-address: 10\n");
        var after = Parse("server:\n  max-connections-per-address: 20\n");

        var diff = ConfigDiff.Compute(before, after);

        Assert.Equal(["max-connections-per-address 10 -> 20"], diff.Server);
        Assert.Empty(diff.NeedsRestart);
    }

    [Fact]
    public void Sample_TlsYaml_LoadsWithItsCertificateFiles()
    {
        var sample = Path.Combine(RepositoryRoot(), "samples", "tls.yaml");
        File.Copy(sample, Path.Combine(_dir.Path, "tls.yaml"));
        WritePair();

        var config = ConfigLoader.Load(Path.Combine(_dir.Path, "tls.yaml"));

        Assert.Equal(["http://0.0.0.0:8000", "https://0.0.0.0:8443"], config.Server.Listen);
        Assert.Equal(100, config.Server.MaxConnectionsPerAddress);
        Assert.Equal(50, config.Server.MaxNewConnectionsPerAddress);
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Savate.sln")))
            {
                return dir.FullName;
            }
        }
        throw new InvalidOperationException("Savate.sln not found above " + AppContext.BaseDirectory);
    }
}
