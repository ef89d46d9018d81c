using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Savate.Server.Configuration;

/// <summary>
/// Reads <c>server.tls-certificate</c> and <c>server.tls-key</c>: the config check (<see cref="ConfigValidator"/>) and the
/// server (<c>Http/TlsCertificates.cs</c>, at start and whenever the files change) load them the same way.
/// </summary>
internal static class PemCertificate
{
    /// <summary>
    /// Why the pair does not load (naming the key and the file), or null when it does. Not inlined into the validator: a
    /// config without TLS must not load the X509 collection types (their assemblies cost descriptors, and the
    /// descriptor guard's margin is measured: HostileClientTests.DescriptorLimit_...).
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    public static string? Check(string certificatePath, string keyPath)
    {
        try
        {
            var (leaf, chain) = Load(certificatePath, keyPath);
            leaf.Dispose();
            foreach (var certificate in chain)
            {
                certificate.Dispose();
            }
            return null;
        }
        catch (InvalidDataException e)
        {
            return e.Message;
        }
    }

    /// <summary>
    /// Loads a PEM certificate (the first one of the file; those after it are its chain) and its PEM private key
    /// (unencrypted PKCS#8, PKCS#1 or SEC1). Throws <see cref="InvalidDataException"/> with a message naming the key
    /// (<c>tls-certificate</c> or <c>tls-key</c>) and the file at fault.
    /// </summary>
    public static (X509Certificate2 Leaf, X509Certificate2Collection Chain) Load(string certificatePath, string keyPath)
    {
        var certificatePem = Read("tls-certificate", certificatePath);
        var keyPem = Read("tls-key", keyPath);
        try
        {
            using var alone = X509Certificate2.CreateFromPem(certificatePem);
        }
        catch (CryptographicException e)
        {
            throw new InvalidDataException($"tls-certificate: {certificatePath} holds no PEM certificate (-----BEGIN CERTIFICATE-----): {e.Message}");
        }
        X509Certificate2 certificate;
        try
        {
            certificate = X509Certificate2.CreateFromPem(certificatePem, keyPem);
        }
        catch (Exception e) when (e is CryptographicException or ArgumentException)
        {
            throw new InvalidDataException($"tls-key: {keyPath} holds no unencrypted PEM private key of the certificate in {certificatePath}: {e.Message}");
        }
        // The chain sent in the handshake: the certificates after the leaf in its file.
        var all = new X509Certificate2Collection();
        all.ImportFromPem(certificatePem);
        var chain = new X509Certificate2Collection();
        foreach (var other in all)
        {
            if (other.RawDataMemory.Span.SequenceEqual(certificate.RawDataMemory.Span))
            {
                other.Dispose();
            }
            else
            {
                chain.Add(other);
            }
        }
        return (certificate, chain);
    }

    private static string Read(string key, string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InvalidDataException($"{key}: cannot read {path}: {e.Message}");
        }
    }
}
