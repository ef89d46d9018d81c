namespace Savate.Server.Configuration.Tests;

public sealed class ConfigLoaderTests : IDisposable
{
    private const string ExampleYaml = """
        server:
          listen: ["http://0.0.0.0:8000"]
          source-password: change-me
          max-listeners: 10000
        mounts:
          - path: /live.flv
            format: auto
            source-password: other
            max-listeners: 5000
            burst: 0s
            max-lag: 5s
            evict-lag: 15s
            buffer: 30s
            grace: 2s
            fallback:
              - mount: /backup.flv
              - file: samples/offline.flv
            override: true
          - path: /backup.flv
        relays:
          - mount: /relayed.flv
            upstreams: ["http://master-a:8000/live.flv", "http://master-b:8000/live.flv"]
            on-demand: true
            idle-timeout: 20s
        master:
          url: http://master-a:8000
          username: relay
          password: change-me
          poll-interval: 10s
          on-demand: true
        """;

    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Parse_FullExample_ProducesExpectedRecords()
    {
        var offline = _dir.CreateFile("samples/offline.flv");

        var config = ConfigLoader.Parse(ExampleYaml, _dir.Path);

        Assert.Equal(Path.GetFullPath(_dir.Path), config.BaseDirectory);
        Assert.Equal(["http://0.0.0.0:8000"], config.Server.Listen);
        Assert.Equal("change-me", config.Server.SourcePassword);
        Assert.Equal(10000, config.Server.MaxListeners);

        Assert.Equal(2, config.Mounts.Count);
        var live = config.Mounts[0];
        Assert.Equal("/live.flv", live.Path);
        Assert.Equal(MountFormat.Auto, live.Format);
        Assert.Equal("other", live.SourcePassword);
        Assert.Equal(5000, live.MaxListeners);
        Assert.Equal(TimeSpan.Zero, live.Burst);
        Assert.Equal(TimeSpan.FromSeconds(5), live.MaxLag);
        Assert.Equal(TimeSpan.FromSeconds(15), live.EvictLag);
        Assert.Equal(TimeSpan.FromSeconds(30), live.Buffer);
        Assert.Equal(TimeSpan.FromSeconds(2), live.Grace);
        Assert.True(live.Override);
        Assert.Equal(2, live.Fallback.Count);
        Assert.Equal(new FallbackConfig { Mount = "/backup.flv" }, live.Fallback[0]);
        Assert.Equal(new FallbackConfig { File = "samples/offline.flv", FullPath = offline }, live.Fallback[1]);

        Assert.Equal(new MountConfig { Path = "/backup.flv" }, config.Mounts[1]);

        var relay = Assert.Single(config.Relays);
        Assert.Equal("/relayed.flv", relay.Mount);
        Assert.Equal(["http://master-a:8000/live.flv", "http://master-b:8000/live.flv"], relay.Upstreams);
        Assert.True(relay.OnDemand);
        Assert.Equal(TimeSpan.FromSeconds(20), relay.IdleTimeout);

        Assert.Equal(
            new MasterConfig { Url = "http://master-a:8000", Username = "relay", Password = "change-me", PollInterval = TimeSpan.FromSeconds(10), OnDemand = true },
            config.Master);
    }

    [Theory]
    [InlineData("")]
    [InlineData("# only a comment\n")]
    [InlineData("---\n")]
    [InlineData("server:\nmounts:\nrelays:\nmaster:\n")]
    public void Parse_EmptyDocumentOrSections_ReturnsDefaults(string yaml)
    {
        var config = ConfigLoader.Parse(yaml, _dir.Path);

        Assert.Equal(["http://0.0.0.0:8000"], config.Server.Listen);
        Assert.Null(config.Server.SourcePassword);
        Assert.Null(config.Server.RelayPassword);
        Assert.Null(config.Server.AdminPassword);
        Assert.Equal(10000, config.Server.MaxListeners);
        Assert.True(config.Server.DynamicMounts);
        Assert.Equal(TimeSpan.FromSeconds(10), config.Server.SourceTimeout);
        Assert.Equal(TimeSpan.FromMilliseconds(40), config.Server.FlushInterval);
        Assert.Equal(256 * 1024, config.Server.ListenerSendBuffer);
        Assert.Null(config.Server.AccessLog);
        Assert.Equal(new MountConfig { Path = "/" }, config.Server.MountDefaults);
        Assert.Empty(config.Mounts);
        Assert.Empty(config.Relays);
        Assert.Null(config.Master);
    }

    [Fact]
    public void Parse_MountWithOnlyPath_GetsRecordDefaults()
    {
        var mount = Assert.Single(ConfigLoader.Parse("mounts:\n  - path: /a.flv\n", _dir.Path).Mounts);

        Assert.Equal(MountFormat.Auto, mount.Format);
        Assert.Null(mount.SourcePassword);
        Assert.Null(mount.MaxListeners);
        Assert.Equal(TimeSpan.Zero, mount.Burst);
        Assert.Equal(TimeSpan.FromSeconds(5), mount.MaxLag);
        Assert.Equal(TimeSpan.FromSeconds(15), mount.EvictLag);
        Assert.Equal(TimeSpan.FromSeconds(30), mount.Buffer);
        Assert.Equal(64L * 1024 * 1024, mount.BufferBytes);
        Assert.Equal(TimeSpan.FromSeconds(2), mount.Grace);
        Assert.Empty(mount.Fallback);
        Assert.True(mount.Override);
        Assert.Null(mount.Title);
    }

    [Fact]
    public void Parse_RelayAndMasterWithOnlyRequiredKeys_GetRecordDefaults()
    {
        var config = ConfigLoader.Parse("""
            relays:
              - mount: /r.flv
                upstreams: http://up:8000/r.flv
            master:
              url: https://master:8443
            """, _dir.Path);

        var relay = Assert.Single(config.Relays);
        Assert.Equal(["http://up:8000/r.flv"], relay.Upstreams);
        Assert.True(relay.OnDemand);
        Assert.Equal(TimeSpan.FromSeconds(20), relay.IdleTimeout);
        Assert.Equal(new MasterConfig { Url = "https://master:8443" }, config.Master);
        Assert.Equal("relay", config.Master!.Username);
        Assert.Equal(TimeSpan.FromSeconds(10), config.Master.PollInterval);
    }

    [Fact]
    public void Parse_EveryServerKey_IsMapped()
    {
        var config = ConfigLoader.Parse("""
            server:
              listen: http://127.0.0.1:9000
              source-password: s
              relay-password: r
              admin-password: a
              max-listeners: 7
              dynamic-mounts: false
              source-timeout: 3s
              flush-interval: 20ms
              listener-send-buffer: 1MiB
              access-log: "-"
              source-min-rate: 2KiB
              max-dynamic-mounts: 5
              max-tag-size: 1MiB
              partial-input-budget: 8MiB
            """, _dir.Path);

        Assert.Equal(
            new ServerConfig
            {
                Listen = config.Server.Listen,
                SourcePassword = "s",
                RelayPassword = "r",
                AdminPassword = "a",
                MaxListeners = 7,
                DynamicMounts = false,
                SourceTimeout = TimeSpan.FromSeconds(3),
                FlushInterval = TimeSpan.FromMilliseconds(20),
                ListenerSendBuffer = 1024 * 1024,
                AccessLog = "-",
                SourceMinRate = 2048,
                MaxDynamicMounts = 5,
                MaxTagSize = 1024 * 1024,
                PartialInputBudget = 8 * 1024 * 1024,
                MountDefaults = config.Server.MountDefaults,
            },
            config.Server);
        Assert.Equal(["http://127.0.0.1:9000"], config.Server.Listen);
    }

    [Theory]
    [InlineData("flv", MountFormat.Flv)]
    [InlineData("FLV", MountFormat.Flv)]
    [InlineData("mpegts", MountFormat.Mpegts)]
    [InlineData("MpegTS", MountFormat.Mpegts)]
    [InlineData("Auto", MountFormat.Auto)]
    public void Parse_Format_IsCaseInsensitive(string text, MountFormat expected)
    {
        var mount = Assert.Single(ConfigLoader.Parse($"mounts:\n  - path: /a\n    format: {text}\n", _dir.Path).Mounts);

        Assert.Equal(expected, mount.Format);
    }

    [Fact]
    public void Parse_MountDefaults_AreInheritedAndOverriddenByDeclaredMounts()
    {
        _dir.CreateFile("offline.flv");
        var config = ConfigLoader.Parse("""
            server:
              mount-defaults:
                format: flv
                max-lag: 3s
                buffer-bytes: 16MiB
                title: Default title
                fallback:
                  - file: offline.flv
            mounts:
              - path: /a.flv
              - path: /b.flv
                max-lag: 1s
                title: B
                fallback: []
            """, _dir.Path);

        var defaults = config.Server.MountDefaults;
        Assert.Equal(MountFormat.Flv, defaults.Format);
        Assert.Equal(TimeSpan.FromSeconds(3), defaults.MaxLag);
        Assert.Equal(16L * 1024 * 1024, defaults.BufferBytes);

        var a = config.Mounts[0];
        Assert.Equal("/a.flv", a.Path);
        Assert.Equal(MountFormat.Flv, a.Format);
        Assert.Equal(TimeSpan.FromSeconds(3), a.MaxLag);
        Assert.Equal(16L * 1024 * 1024, a.BufferBytes);
        Assert.Equal("Default title", a.Title);
        Assert.Equal("offline.flv", Assert.Single(a.Fallback).File);
        Assert.Equal(TimeSpan.FromSeconds(15), a.EvictLag);

        var b = config.Mounts[1];
        Assert.Equal(MountFormat.Flv, b.Format);
        Assert.Equal(TimeSpan.FromSeconds(1), b.MaxLag);
        Assert.Equal("B", b.Title);
        Assert.Empty(b.Fallback);
    }

    [Fact]
    public void Parse_InvalidMountDefaults_ReportedOnceNotPerMount()
    {
        var error = ConfigTestHelpers.SingleError("""
            server:
              mount-defaults:
                max-lag: 20s
            mounts:
              - path: /a.flv
              - path: /b.flv
            """);

        Assert.Equal("server.mount-defaults: max-lag: 20s must be less than evict-lag (15s): a lagging listener is skipped ahead before it is evicted", error);
    }

    [Fact]
    public void Parse_MountOverrideConflictingWithDefaults_ReportedOnTheMount()
    {
        var error = ConfigTestHelpers.SingleError("""
            server:
              mount-defaults:
                max-lag: 10s
            mounts:
              - path: /a.flv
              - path: /b.flv
                evict-lag: 8s
            """);

        Assert.StartsWith("mounts[1] (/b.flv): max-lag: 10s must be less than evict-lag (8s)", error);
    }

    [Fact]
    public void Parse_RelayedMountNotDeclared_IsAccepted()
    {
        var config = ConfigLoader.Parse("""
            mounts:
              - path: /live.flv
                fallback:
                  - mount: /relayed.flv
            relays:
              - mount: /relayed.flv
                upstreams: [http://up:8000/live.flv]
            """, _dir.Path);

        Assert.Equal("/relayed.flv", Assert.Single(config.Relays).Mount);
        Assert.Single(config.Mounts);
    }

    [Fact]
    public void Load_RelativeFallbackFile_ResolvedAgainstConfigDirectory()
    {
        var configDir = Path.Combine(_dir.Path, "etc");
        var offline = _dir.CreateFile("etc/samples/offline.flv");
        var configPath = _dir.CreateFile("etc/savate.yaml", "mounts:\n  - path: /live.flv\n    fallback:\n      - file: samples/offline.flv\n");

        // The working directory must not matter: resolve against the file's directory only.
        var config = ConfigLoader.Load(configPath);

        Assert.Equal(configDir, config.BaseDirectory);
        var fallback = Assert.Single(Assert.Single(config.Mounts).Fallback);
        Assert.Equal("samples/offline.flv", fallback.File);
        Assert.Equal(offline, fallback.FullPath);
    }

    [Fact]
    public void Load_RelativeFallbackFileMissingNextToConfig_ErrorNamesResolvedPath()
    {
        var configPath = _dir.CreateFile("etc/savate.yaml", "mounts:\n  - path: /live.flv\n    fallback:\n      - file: samples/offline.flv\n");

        var ex = Assert.Throws<ConfigException>(() => ConfigLoader.Load(configPath));

        var expectedPath = Path.Combine(_dir.Path, "etc", "samples", "offline.flv");
        Assert.Equal(
            $"mounts[0] (/live.flv): fallback[0]: file: \"samples/offline.flv\" not found (looked for {expectedPath})",
            Assert.Single(ex.Errors));
    }

    [Fact]
    public void Load_MissingFile_ThrowsConfigExceptionNamingIt()
    {
        var path = Path.Combine(_dir.Path, "nope.yaml");

        var ex = Assert.Throws<ConfigException>(() => ConfigLoader.Load(path));

        var error = Assert.Single(ex.Errors);
        Assert.Contains(path, error, StringComparison.Ordinal);
        Assert.Contains("not found", error, StringComparison.Ordinal);
    }

    [Fact]
    public void ConfigException_Message_ListsEveryErrorOnItsOwnLine()
    {
        var ex = new ConfigException(["first", "second"]);

        var lines = ex.Message.Split(Environment.NewLine);
        Assert.Equal(["Invalid configuration (2 errors):", "first", "second"], lines);
    }
}
