namespace Savate.Server.Configuration.Tests;

public sealed class HlsConfigTests
{
    [Fact]
    public void Parse_NoHlsBlock_DefaultsFromTheContract()
    {
        var config = ConfigLoader.Parse("""
            mounts:
              - path: /live.flv
            """, Path.GetTempPath());

        var hls = config.Mounts[0].Hls;
        Assert.True(hls.Enabled);
        Assert.Equal(TimeSpan.FromSeconds(2), hls.SegmentDuration);
        Assert.Equal(6, hls.Window);
        Assert.Equal(TimeSpan.FromSeconds(30), hls.IdleTimeout);
        Assert.False(hls.Always);
    }

    [Fact]
    public void Parse_ContractBlock_AllKeysRead()
    {
        var config = ConfigLoader.Parse("""
            mounts:
              - path: /live.flv
                hls:
                  enabled: true
                  segment-duration: 4s
                  window: 8
                  idle-timeout: 10s
                  always: true
            """, Path.GetTempPath());

        Assert.Equal(new HlsConfig { Enabled = true, SegmentDuration = TimeSpan.FromSeconds(4), Window = 8, IdleTimeout = TimeSpan.FromSeconds(10), Always = true }, config.Mounts[0].Hls);
    }

    [Fact]
    public void Parse_MountDefaultsHls_MergedKeyByKeyWithTheMountsOwn()
    {
        var config = ConfigLoader.Parse("""
            server:
              mount-defaults:
                hls:
                  window: 10
                  always: true
            mounts:
              - path: /a.flv
              - path: /b.flv
                hls:
                  enabled: false
            """, Path.GetTempPath());

        Assert.Equal(new HlsConfig { Window = 10, Always = true }, config.Mounts[0].Hls);
        Assert.Equal(new HlsConfig { Window = 10, Always = true, Enabled = false }, config.Mounts[1].Hls);
    }

    [Fact]
    public void Parse_BadHlsValues_EveryErrorNamesMountAndKey()
    {
        var errors = ConfigTestHelpers.Errors("""
            mounts:
              - path: /live.flv
                hls:
                  segment-duration: 100ms
                  window: 1
                  idle-timeout: 0s
                  always: maybe
                  segment-length: 2s
            """);

        Assert.Contains(errors, e => e.StartsWith("mounts[0] (/live.flv): hls: segment-duration: must be between 500ms and 60s", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("mounts[0] (/live.flv): hls: window: must be between 2 and 100", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("mounts[0] (/live.flv): hls: idle-timeout: must be at least 1s", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("mounts[0] (/live.flv): hls: always:", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("segment-length", StringComparison.Ordinal));
        Assert.Equal(5, errors.Count);
    }
}
