namespace Savate.Server.Configuration.Tests;

/// <summary>Snapshots compare by value, and a reload's diff names exactly what changed.</summary>
public sealed class ConfigDiffTests : IDisposable
{
    private const string Base = """
        server:
          source-password: change-me
        mounts:
          - path: /live.flv
            max-lag: 5s
            fallback:
              - mount: /backup.flv
          - path: /backup.flv
          - path: /old.flv
        relays:
          - mount: /relayed.flv
            upstreams: ["http://a:8000/live.flv"]
        """;

    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private SavateConfig Parse(string yaml) => ConfigLoader.Parse(yaml, _dir.Path);

    [Fact]
    public void Parse_SameTextTwice_SnapshotsAreEqual()
    {
        var a = Parse(Base);
        var b = Parse(Base);
        Assert.NotSame(a, b);
        Assert.Equal(a, b);
        Assert.Equal(a.GetHashCode(), b.GetHashCode());
        Assert.Equal(a.Mounts[0], b.Mounts[0]);
        Assert.True(ConfigDiff.Compute(a, b).IsEmpty);
    }

    [Fact]
    public void ValueList_ComparesByContent()
    {
        Assert.Equal(ValueList<string>.From(["a", "b"]), ValueList<string>.From(new List<string> { "a", "b" }));
        Assert.NotEqual(ValueList<string>.From(["a", "b"]), ValueList<string>.From(["b", "a"]));
        var mount = new MountConfig { Path = "/x", Fallback = [new FallbackConfig { Mount = "/y" }] };
        Assert.Equal(mount, mount with { Fallback = [new FallbackConfig { Mount = "/y" }] });
        Assert.NotEqual(mount, mount with { Fallback = [] });
    }

    [Fact]
    public void Compute_MountsAddedChangedRemoved_OneLineEach()
    {
        var next = Parse("""
            server:
              source-password: change-me
            mounts:
              - path: /live.flv
                max-lag: 3s
                source-password: rotated
                fallback:
                  - mount: /backup.flv
                  - mount: /new.flv
              - path: /backup.flv
              - path: /new.flv
            relays:
              - mount: /relayed.flv
                upstreams: ["http://a:8000/live.flv"]
            """);
        var diff = ConfigDiff.Compute(Parse(Base), next);

        Assert.Equal(["/new.flv"], diff.Added.Select(m => m.Path));
        Assert.Equal(["/old.flv"], diff.Removed.Select(m => m.Path));
        var change = Assert.Single(diff.Changed);
        Assert.Equal("/live.flv", change.After.Path);
        Assert.Equal(
            [
                "mount /new.flv added",
                "mount /live.flv changed: source-password changed, max-lag 5s -> 3s, fallback [mount /backup.flv] -> [mount /backup.flv, mount /new.flv]",
                "mount /old.flv removed",
            ],
            diff.Lines());
        Assert.DoesNotContain(diff.Lines(), l => l.Contains("rotated", StringComparison.Ordinal));
    }

    [Fact]
    public void Compute_ServerRelayMasterAndListen_NamedWithRestartForListen()
    {
        var next = Parse("""
            server:
              listen: http://0.0.0.0:9000
              source-password: change-me
              flush-interval: 20ms
              mount-defaults:
                grace: 5s
            mounts:
              - path: /live.flv
                max-lag: 5s
                fallback:
                  - mount: /backup.flv
              - path: /backup.flv
              - path: /old.flv
            relays:
              - mount: /relayed.flv
                upstreams: ["http://b:8000/live.flv"]
              - mount: /second.flv
                upstreams: http://b:8000/second.flv
            master:
              url: http://m:8000
            """);
        var diff = ConfigDiff.Compute(Parse(Base), next);

        // mount-defaults is applied to the declared mounts when the file is read: each of them changed too.
        Assert.Equal(3, diff.Changed.Count);
        Assert.All(diff.Changed, c => Assert.Equal(["grace 2s -> 5s"], c.Keys));
        Assert.Equal(["flush-interval 40ms -> 20ms", "mount-defaults grace 2s -> 5s"], diff.Server);
        Assert.Equal(["listen [http://0.0.0.0:8000] -> [http://0.0.0.0:9000]"], diff.NeedsRestart);
        Assert.Equal(
            [
                "relay /second.flv added",
                "relay /relayed.flv changed: upstreams [http://a:8000/live.flv] -> [http://b:8000/live.flv]",
                "master http://m:8000 added",
            ],
            diff.Relays);
        Assert.Contains("server: listen [http://0.0.0.0:8000] -> [http://0.0.0.0:9000] needs a restart (not applied)", diff.Lines());
    }

    [Fact]
    public void KeyTables_EveryKeyOnce_AndTheReaderAcceptsExactlyThem()
    {
        foreach (var names in new[]
        {
            ConfigKeys.Names(ConfigKeys.Server), ConfigKeys.Names(ConfigKeys.Mount), ConfigKeys.Names(ConfigKeys.Fallback),
            ConfigKeys.Names(ConfigKeys.Relay), ConfigKeys.Names(ConfigKeys.Master),
        })
        {
            Assert.Equal(names.Length, names.Distinct().Count());
        }
        Assert.Contains("watch-config", ConfigKeys.Names(ConfigKeys.Server));
        Assert.True(Parse("server:\n  watch-config: false\n").Server.WatchConfig is false);
        Assert.True(new ServerConfig().WatchConfig);
        var error = ConfigTestHelpers.SingleError("server:\n  watch-confg: true\n", _dir.Path);
        Assert.Equal("server: unknown key 'watch-confg' (did you mean 'watch-config'?)", error);
    }
}
