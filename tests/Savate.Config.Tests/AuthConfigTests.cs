using System.Net;
using Savate.Server.Auth;

namespace Savate.Server.Configuration.Tests;

public sealed class AuthConfigTests : IDisposable
{
    private const string Key = "0123456789abcdef0123456789abcdef";
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private string Users() => _dir.CreateFile("listeners.htpasswd", $"viewer:{BCrypt.Net.BCrypt.HashPassword("pw", 4)}\n");

    [Fact]
    public void Parse_ContractBlocks_EveryKeyRead()
    {
        var users = Users();
        var config = ConfigLoader.Parse($"""
            server:
              trusted-proxies: ["10.0.0.0/8"]
              listener-ip: {"{"} allow: ["0.0.0.0/0"], deny: ["192.0.2.0/24"] {"}"}
              source-ip: {"{"} allow: ["10.0.0.0/8"] {"}"}
            mounts:
              - path: /paid.flv
                listener-auth:
                  users-file: listeners.htpasswd
                  token-key: {Key}
                  hook: http://auth.local/on-play
                  hook-on-error: allow
                source-auth:
                  hook: http://auth.local/on-publish
                listener-ip: {"{"} allow: ["192.168.0.0/16"], deny: ["192.168.7.0/24"] {"}"}
                source-ip: {"{"} allow: ["10.1.0.0/16"] {"}"}
                referers: ["https://example.com/player", "HTTPS://Example.org:8443"]
            """, _dir.Path);

        var server = config.Server;
        Assert.Equal([IPNetwork.Parse("10.0.0.0/8")], server.TrustedProxies);
        Assert.Equal([IPNetwork.Parse("192.0.2.0/24")], server.ListenerIp.Deny);
        Assert.Equal([IPNetwork.Parse("10.0.0.0/8")], server.SourceIp.Allow);
        var mount = config.Mounts[0];
        Assert.Equal(new AuthConfig { UsersFile = "listeners.htpasswd", UsersFileFullPath = users, TokenKey = Key, Hook = "http://auth.local/on-play", HookOnError = HookOnError.Allow }, mount.ListenerAuth);
        Assert.Equal(new AuthConfig { Hook = "http://auth.local/on-publish" }, mount.SourceAuth);
        Assert.Equal([IPNetwork.Parse("192.168.7.0/24")], mount.ListenerIp.Deny);
        Assert.Equal([IPNetwork.Parse("10.1.0.0/16")], mount.SourceIp.Allow);
        Assert.Equal(["https://example.com", "https://example.org:8443"], mount.Referers);
        Assert.False(mount.ListenerIp.Allows(IPAddress.Parse("192.168.7.3")));
        Assert.True(mount.ListenerIp.Allows(IPAddress.Parse("192.168.8.3")));
    }

    [Fact]
    public void Parse_MountDefaults_InheritedWholeAndReplacedWhole()
    {
        var config = ConfigLoader.Parse($"""
            server:
              mount-defaults:
                listener-auth:
                  token-key: {Key}
                referers: ["https://example.com"]
            mounts:
              - path: /a.flv
              - path: /b.flv
                listener-auth: {"{"}{"}"}
                referers: []
              - path: /c.flv
                listener-auth:
                  hook: http://auth.local/on-play
            """, _dir.Path);

        Assert.Equal(Key, config.Mounts[0].ListenerAuth.TokenKey);
        Assert.Equal(["https://example.com"], config.Mounts[0].Referers);
        Assert.True(config.Mounts[1].ListenerAuth.IsEmpty);
        Assert.Empty(config.Mounts[1].Referers);
        Assert.Null(config.Mounts[2].ListenerAuth.TokenKey);
        Assert.Equal("http://auth.local/on-play", config.Mounts[2].ListenerAuth.Hook);
    }

    [Fact]
    public void Parse_BadValues_EachErrorNamesMountKeyAndFix()
    {
        var errors = ConfigTestHelpers.Errors("""
            server:
              trusted-proxies: ["10.0.0.0/33"]
            mounts:
              - path: /paid.flv
                listener-auth:
                  token-key: not-hex
                  hook: ftp://auth.local/x
                  hook-on-error: maybe
                  users-file: missing.htpasswd
                  pasword: x
                listener-ip: { allow: ["example.com"] }
                referers: ["example.com"]
            """, _dir.Path);

        Assert.Contains(errors, e => e.StartsWith("server: trusted-proxies: '10.0.0.0/33' is not a CIDR", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("mounts[0] (/paid.flv): listener-auth: token-key: must be an even number of hex digits", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("mounts[0] (/paid.flv): listener-auth: hook: \"ftp://auth.local/x\" is not an absolute http or https URL", StringComparison.Ordinal));
        Assert.Contains(errors, e => e == "mounts[0] (/paid.flv): listener-auth: hook-on-error: must be deny or allow");
        Assert.Contains(errors, e => e.StartsWith("mounts[0] (/paid.flv): listener-auth: users-file: \"missing.htpasswd\"", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("mounts[0] (/paid.flv): listener-auth: unknown key 'pasword'", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("mounts[0] (/paid.flv): listener-ip: allow: 'example.com' is not a CIDR", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("mounts[0] (/paid.flv): referers: 'example.com' is not an http(s) origin", StringComparison.Ordinal));
        Assert.DoesNotContain(errors, e => e.Contains("not-hex", StringComparison.Ordinal));
    }

    [Fact]
    public void Parse_UsersFileWithoutBcrypt_RefusedNamingTheLine()
    {
        _dir.CreateFile("md5.htpasswd", "old:$apr1$abc$defghijklmnopqrstuvwx\n");
        var error = ConfigTestHelpers.SingleError("""
            mounts:
              - path: /paid.flv
                source-auth:
                  users-file: md5.htpasswd
            """, _dir.Path);

        Assert.Contains("source-auth: users-file:", error, StringComparison.Ordinal);
        Assert.Contains("md5.htpasswd:1: user 'old' has no bcrypt hash", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Diff_AuthChange_SaysChangedWithoutTheKey()
    {
        var before = ConfigLoader.Parse("mounts:\n  - path: /a.flv\n", _dir.Path);
        var after = ConfigLoader.Parse($"mounts:\n  - path: /a.flv\n    listener-auth:\n      token-key: {Key}\n    listener-ip: {{ deny: [\"10.0.0.0/8\"] }}\nserver:\n  trusted-proxies: [\"10.0.0.0/8\"]\n", _dir.Path);

        var lines = string.Join("\n", ConfigDiff.Compute(before, after).Lines());

        Assert.Contains("mount /a.flv changed: listener-auth changed, listener-ip none -> {allow [], deny [10.0.0.0/8]}", lines, StringComparison.Ordinal);
        Assert.Contains("server: trusted-proxies [] -> [10.0.0.0/8]", lines, StringComparison.Ordinal);
        Assert.DoesNotContain(Key, lines, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_SampleAuthYaml_IsValid()
    {
        var root = AppContext.BaseDirectory;
        while (!File.Exists(Path.Combine(root, "Savate.sln")))
        {
            root = Path.GetDirectoryName(root.TrimEnd(Path.DirectorySeparatorChar))!;
        }
        var config = ConfigLoader.Load(Path.Combine(root, "samples", "auth.yaml"));

        var paid = config.Mounts.Single(m => m.Path == "/paid.flv");
        Assert.False(paid.ListenerAuth.IsEmpty);
        Assert.NotNull(paid.ListenerAuth.UsersFile);
        Assert.Empty(config.Mounts.Single(m => m.Path == "/free.flv").Referers);
        Assert.True(Auth.UserFile.Load(paid.ListenerAuth.UsersFileFullPath!).Verify("viewer", "viewer-password"));
    }
}
