using static Savate.Server.Configuration.Tests.ConfigTestHelpers;

namespace Savate.Server.Configuration.Tests;

public sealed class ConfigValidatorTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private static string Mount(string keys) => "mounts:\n  - path: /a.flv\n" + string.Concat(keys.Split('\n').Select(k => $"    {k}\n"));

    [Theory]
    [InlineData("live.flv", "\"live.flv\" must start with '/' (e.g. /live.flv)")]
    [InlineData("/", "\"/\" needs a name after the '/' (e.g. /live.flv)")]
    [InlineData("\"/my live.flv\"", "\"/my live.flv\" must not contain whitespace, '?' or '#'")]
    [InlineData("/live.flv?x=1", "\"/live.flv?x=1\" must not contain whitespace, '?' or '#'")]
    [InlineData("\"/live#1\"", "\"/live#1\" must not contain whitespace, '?' or '#'")]
    public void Parse_InvalidMountPath_ErrorNamesMountAndPath(string path, string expected)
    {
        var error = SingleError($"mounts:\n  - path: {path}\n");

        Assert.EndsWith($"path: {expected}", error);
        Assert.StartsWith("mounts[0] (", error);
    }

    [Theory]
    [InlineData("/status")]
    [InlineData("/status.json")]
    [InlineData("/admin")]
    [InlineData("/admin/kill")]
    [InlineData("/metrics")]
    [InlineData("/STATUS")]
    public void Parse_ReservedMountPath_Error(string path)
    {
        var error = SingleError($"mounts:\n  - path: {path}\n");

        Assert.StartsWith($"mounts[0] ({path}): path: \"{path}\" is reserved by the server", error);
    }

    [Theory]
    [InlineData("/administrator")]
    [InlineData("/status2")]
    [InlineData("/live/admin")]
    public void Parse_PathMerelyResemblingReserved_IsAccepted(string path) =>
        Assert.Equal(path, Assert.Single(ConfigLoader.Parse($"mounts:\n  - path: {path}\n", ".").Mounts).Path);

    [Fact]
    public void Parse_MountWithoutPath_ErrorNamesIndex()
    {
        Assert.Equal("mounts[0]: path: is required (e.g. path: /live.flv)", SingleError("mounts:\n  - format: flv\n"));
    }

    [Fact]
    public void Parse_DuplicateMountPaths_ErrorNamesBoth()
    {
        var error = SingleError("mounts:\n  - path: /a.flv\n  - path: /b.flv\n  - path: /a.flv\n");

        Assert.Equal("mounts[2] (/a.flv): path: \"/a.flv\" is already declared by mounts[0] (mount paths must be unique; they are case-sensitive)", error);
    }

    [Fact]
    public void Parse_MountPathsDifferingInCase_AreTwoMounts()
    {
        var config = ConfigLoader.Parse("mounts:\n  - path: /a.flv\n  - path: /A.flv\n", ".");

        Assert.Equal(["/a.flv", "/A.flv"], config.Mounts.Select(m => m.Path));
    }

    [Theory]
    [InlineData("//live.flv", "is not in its normal form (write /live.flv)")]
    [InlineData("/live.flv/", "must not end with '/'")]
    [InlineData("/./live.flv", "dot segments ('.', '..') are not allowed")]
    [InlineData("/a/../live.flv", "dot segments ('.', '..') are not allowed")]
    [InlineData("/live.flv;x", "must be visible ASCII without '?', '#', '%', ';' or '\\'")]
    [InlineData("/live.flv%2F", "must be visible ASCII without '?', '#', '%', ';' or '\\'")]
    [InlineData("/METRICS", "is reserved by the server")]
    [InlineData("/Admin/x", "is reserved by the server")]
    public void Parse_LookAlikeMountPath_Error(string path, string expected)
    {
        var error = SingleError($"mounts:\n  - path: \"{path}\"\n");

        Assert.StartsWith($"mounts[0] ({path}): path: \"{path}\"", error);
        Assert.Contains(expected, error);
    }

    [Theory]
    [InlineData("burst: -1s", "burst: -1s must not be negative")]
    [InlineData("grace: -500ms", "grace: -500ms must not be negative")]
    [InlineData("max-lag: -1s", "max-lag: -1s must not be negative")]
    [InlineData("buffer: 0s\nevict-lag: 0s\nmax-lag: -1s", "buffer: must be greater than 0 (e.g. 30s)")]
    [InlineData("max-listeners: -1", "max-listeners: -1 must not be negative")]
    [InlineData("buffer-bytes: 1000", "buffer-bytes: 1000 must be at least 64KiB")]
    public void Parse_InvalidMountValue_ErrorNamesMountAndKey(string keys, string expected)
    {
        var errors = Errors(Mount(keys));

        Assert.Contains($"mounts[0] (/a.flv): {expected}", errors);
    }

    [Fact]
    public void Parse_NegativeEvictLagAndBuffer_EachReported()
    {
        var errors = Errors(Mount("evict-lag: -2s\nbuffer: -1s\nmax-lag: -3s"));

        Assert.Contains("mounts[0] (/a.flv): evict-lag: -2s must not be negative", errors);
        Assert.Contains("mounts[0] (/a.flv): buffer: -1s must not be negative", errors);
    }

    [Theory]
    [InlineData("max-lag: 15s")]
    [InlineData("max-lag: 20s")]
    [InlineData("evict-lag: 5s")]
    public void Parse_MaxLagNotBelowEvictLag_Error(string keys)
    {
        var error = SingleError(Mount(keys));

        Assert.StartsWith("mounts[0] (/a.flv): max-lag: ", error);
        Assert.Contains("must be less than evict-lag", error);
    }

    [Fact]
    public void Parse_EvictLagAboveBuffer_Error()
    {
        var error = SingleError(Mount("buffer: 10s"));

        Assert.Equal("mounts[0] (/a.flv): evict-lag: 15s must not exceed buffer (10s): the ring must still hold what a listener lags behind", error);
    }

    [Fact]
    public void Parse_EvictLagEqualToBuffer_IsAccepted() =>
        Assert.Single(ConfigLoader.Parse(Mount("buffer: 15s"), ".").Mounts);

    [Theory]
    [InlineData("flush-interval: 0s", "server: flush-interval: 0s must be between 1ms and 1s (e.g. 40ms)")]
    [InlineData("flush-interval: 2s", "server: flush-interval: 2s must be between 1ms and 1s (e.g. 40ms)")]
    [InlineData("source-timeout: 0", "server: source-timeout: 0s must be greater than 0 (e.g. 10s)")]
    [InlineData("max-listeners: -5", "server: max-listeners: -5 must not be negative")]
    [InlineData("max-dynamic-mounts: -1", "server: max-dynamic-mounts: -1 must not be negative (0 = none, e.g. 100)")]
    [InlineData("max-tag-size: 100", "server: max-tag-size: 100 must be between 1KiB and 16MiB - 1 (FLV's DataSize is 24 bits; e.g. 4MiB)")]
    [InlineData("max-tag-size: 16MiB", "server: max-tag-size: 16777216 must be between 1KiB and 16MiB - 1 (FLV's DataSize is 24 bits; e.g. 4MiB)")]
    [InlineData("partial-input-budget: 1MiB", "server: partial-input-budget: 1048576 must be at least max-tag-size (4194304), or no source could send a maximal tag (e.g. 64MiB)")]
    [InlineData("listen: []", "server: listen: give at least one URL (e.g. http://0.0.0.0:8000)")]
    [InlineData("listen: 0.0.0.0:8000", "server: listen: \"0.0.0.0:8000\" is not an absolute http or https URL (e.g. http://0.0.0.0:8000)")]
    [InlineData("listen: [http://0.0.0.0:8000, ftp://x]", "server: listen: \"ftp://x\" is not an absolute http or https URL (e.g. http://0.0.0.0:8000)")]
    [InlineData("listen: /relative", "server: listen: \"/relative\" is not an absolute http or https URL (e.g. http://0.0.0.0:8000)")]
    public void Parse_InvalidServerSetting_ErrorNamesKey(string line, string expected) =>
        Assert.Equal(expected, SingleError($"server:\n  {line}\n"));

    [Theory]
    [InlineData("flush-interval: 1ms")]
    [InlineData("flush-interval: 1s")]
    [InlineData("listen: [\"http://*:8000\", \"http://+:8443\", \"http://[::]:8000\", \"http://localhost:8000\"]")]
    [InlineData("listener-send-buffer: 0")]
    [InlineData("source-min-rate: 0")]
    [InlineData("max-dynamic-mounts: 0")]
    public void Parse_BoundaryServerSetting_IsAccepted(string line) =>
        ConfigLoader.Parse($"server:\n  {line}\n", ".");

    [Theory]
    [InlineData("request-head-timeout: 0s", "server: request-head-timeout: 0s must be greater than 0 (e.g. 10s)")]
    [InlineData("request-head-timeout: 5x", "server: request-head-timeout: \"5x\" is not a duration (use 500ms, 5s, 2m)")]
    [InlineData("max-pending-connections: 0", "server: max-pending-connections: 0 must be at least 1 (e.g. 2000)")]
    [InlineData("max-pending-per-address: 0", "server: max-pending-per-address: 0 must be at least 1 (e.g. 64)")]
    [InlineData("max-pending-connections: 10\n  max-pending-per-address: 11", "server: max-pending-per-address: 11 must not exceed max-pending-connections (10)")]
    public void Parse_InvalidEdgeSetting_ErrorNamesKey(string lines, string expected) =>
        Assert.Equal(expected, SingleError($"server:\n  {lines}\n"));

    [Fact]
    public void Parse_EdgeSettings_ReadAndDefaulted()
    {
        var defaults = ConfigLoader.Parse("", ".").Server;
        var set = ConfigLoader.Parse("server:\n  request-head-timeout: 2s\n  max-pending-connections: 10\n  max-pending-per-address: 10\n", ".").Server;

        Assert.Equal((TimeSpan.FromSeconds(10), 2000, 64), (defaults.RequestHeadTimeout, defaults.MaxPendingConnections, defaults.MaxPendingPerAddress));
        Assert.Equal((TimeSpan.FromSeconds(2), 10, 10), (set.RequestHeadTimeout, set.MaxPendingConnections, set.MaxPendingPerAddress));
    }

    [Theory]
    [InlineData("- {}")]
    [InlineData("- {mount: /b.flv, file: x.flv}")]
    public void Parse_FallbackWithoutExactlyOneTarget_Error(string entry)
    {
        _dir.CreateFile("x.flv");
        var errors = Errors($"mounts:\n  - path: /a.flv\n    fallback:\n      {entry}\n  - path: /b.flv\n", _dir.Path);

        Assert.Equal("mounts[0] (/a.flv): fallback[0]: give exactly one of 'mount' (another mount's path) or 'file' (a media file)", Assert.Single(errors));
    }

    [Fact]
    public void Parse_FallbackToUndeclaredMount_Error()
    {
        var error = SingleError(Mount("fallback:\n  - mount: /nowhere.flv"));

        Assert.Equal("mounts[0] (/a.flv): fallback[0]: mount: \"/nowhere.flv\" is not a declared mount (declare it under mounts or relays)", error);
    }

    [Fact]
    public void Parse_FallbackToItself_Error()
    {
        var error = SingleError(Mount("fallback:\n  - mount: /a.flv"));

        Assert.Equal("mounts[0] (/a.flv): fallback[0]: mount: \"/a.flv\" is this mount itself; a mount cannot fall back to itself", error);
    }

    [Fact]
    public void Parse_FallbackToItselfInheritedFromDefaults_ErrorSaysHowToFix()
    {
        var error = SingleError("server:\n  mount-defaults:\n    fallback:\n      - mount: /backup.flv\nmounts:\n  - path: /live.flv\n  - path: /backup.flv\n");

        Assert.Equal("mounts[1] (/backup.flv): fallback[0]: mount: \"/backup.flv\" is this mount itself; a mount cannot fall back to itself (inherited from mount-defaults; set this mount's own fallback, e.g. fallback: [])", error);
    }

    [Fact]
    public void Parse_FallbackCycle_ReportedOnceOnFirstMount()
    {
        var error = SingleError("""
            mounts:
              - path: /a.flv
                fallback: [{mount: /b.flv}]
              - path: /b.flv
                fallback: [{mount: /c.flv}]
              - path: /c.flv
                fallback: [{mount: /a.flv}]
              - path: /d.flv
                fallback: [{mount: /a.flv}]
            """);

        Assert.Equal("mounts[0] (/a.flv): fallback: the fallback chain /a.flv -> /b.flv -> /c.flv -> /a.flv loops; remove one of these fallbacks", error);
    }

    [Fact]
    public void Parse_FallbackChainWithoutCycle_IsAccepted()
    {
        var config = ConfigLoader.Parse("""
            mounts:
              - path: /a.flv
                fallback: [{mount: /b.flv}, {mount: /c.flv}]
              - path: /b.flv
                fallback: [{mount: /c.flv}]
              - path: /c.flv
            """, ".");

        Assert.Equal(3, config.Mounts.Count);
    }

    [Fact]
    public void Parse_MissingFallbackFile_ErrorNamesFileAndResolvedPath()
    {
        var error = SingleError(Mount("fallback:\n  - file: missing/offline.flv"), _dir.Path);

        var fullPath = Path.Combine(_dir.Path, "missing", "offline.flv");
        Assert.Equal($"mounts[0] (/a.flv): fallback[0]: file: \"missing/offline.flv\" not found (looked for {fullPath})", error);
    }

    [Fact]
    public void Parse_AbsoluteFallbackFile_UsedAsIs()
    {
        var file = _dir.CreateFile("abs.flv");

        var config = ConfigLoader.Parse(Mount($"fallback:\n  - file: {file}"), "/somewhere/else");

        Assert.Equal(file, Assert.Single(config.Mounts[0].Fallback).FullPath);
    }

    [Fact]
    public void Parse_FallbackFileIsDirectory_Error()
    {
        Directory.CreateDirectory(Path.Combine(_dir.Path, "dir.flv"));

        var error = SingleError(Mount("fallback:\n  - file: dir.flv"), _dir.Path);

        Assert.StartsWith("mounts[0] (/a.flv): fallback[0]: file: \"dir.flv\" not found", error);
    }

    [Theory]
    [InlineData("- mount: relayed.flv\n    upstreams: http://up/x", "relays[0] (relayed.flv): mount: \"relayed.flv\" must start with '/' (e.g. /live.flv)")]
    [InlineData("- mount: /status\n    upstreams: http://up/x", "relays[0] (/status): mount: \"/status\" is reserved by the server (/status.json, /status, /admin, /metrics and /admin/...); choose another path")]
    [InlineData("- mount: /r.flv", "relays[0] (/r.flv): upstreams: give at least one URL (e.g. http://master:8000/r.flv)")]
    [InlineData("- mount: /r.flv\n    upstreams: []", "relays[0] (/r.flv): upstreams: give at least one URL (e.g. http://master:8000/r.flv)")]
    [InlineData("- mount: /r.flv\n    upstreams: [http://up/x, rtmp://up/x]", "relays[0] (/r.flv): upstreams: \"rtmp://up/x\" is not an absolute http or https URL")]
    [InlineData("- mount: /r.flv\n    upstreams: up:8000/x", "relays[0] (/r.flv): upstreams: \"up:8000/x\" is not an absolute http or https URL")]
    [InlineData("- upstreams: http://up/x", "relays[0]: mount: is required (the local path, e.g. mount: /relayed.flv)")]
    [InlineData("- mount: /r.flv\n    upstreams: http://up/x\n    idle-timeout: -1s", "relays[0] (/r.flv): idle-timeout: -1s must not be negative")]
    public void Parse_InvalidRelay_ErrorNamesRelayAndKey(string relay, string expected) =>
        Assert.Equal(expected, SingleError($"relays:\n  {relay}\n"));

    [Fact]
    public void Parse_DuplicateRelayMount_Error()
    {
        var error = SingleError("relays:\n  - {mount: /r.flv, upstreams: http://a/r.flv}\n  - {mount: /r.flv, upstreams: http://b/r.flv}\n");

        Assert.Equal("relays[1] (/r.flv): mount: \"/r.flv\" is already relayed by an earlier entry (one relay per mount)", error);
    }

    [Theory]
    [InlineData("url: master-a:8000", "master: url: \"master-a:8000\" is not an absolute http or https URL (e.g. http://master:8000)")]
    [InlineData("url: ftp://master-a", "master: url: \"ftp://master-a\" is not an absolute http or https URL (e.g. http://master:8000)")]
    [InlineData("password: x", "master: url: is required (e.g. url: http://master:8000)")]
    [InlineData("url: http://m:8000\n  poll-interval: 0s", "master: poll-interval: 0s must be greater than 0 (e.g. 10s)")]
    public void Parse_InvalidMaster_ErrorNamesKey(string keys, string expected) =>
        Assert.Equal(expected, SingleError($"master:\n  {keys}\n"));

    [Theory]
    [InlineData("server:\n  lisen: http://0.0.0.0:8000", "server: unknown key 'lisen' (did you mean 'listen'?)")]
    [InlineData("mounts:\n  - path: /a.flv\n    max_lag: 5s", "mounts[0] (/a.flv): unknown key 'max_lag' (did you mean 'max-lag'?)")]
    [InlineData("mounts:\n  - path: /a.flv\n    Max-Lag: 5s", "mounts[0] (/a.flv): unknown key 'Max-Lag' (did you mean 'max-lag'?)")]
    [InlineData("mounts:\n  - path: /a.flv\n    colour: red", "mounts[0] (/a.flv): unknown key 'colour'")]
    [InlineData("sever: {}", "config: unknown key 'sever' (did you mean 'server'?)")]
    [InlineData("relays:\n  - mount: /r.flv\n    upstreams: http://a/r\n    upstream: http://b/r", "relays[0] (/r.flv): unknown key 'upstream' (did you mean 'upstreams'?)")]
    [InlineData("master:\n  url: http://m\n  user: relay", "master: unknown key 'user'")]
    [InlineData("master:\n  url: http://m\n  usrname: relay", "master: unknown key 'usrname' (did you mean 'username'?)")]
    [InlineData("mounts:\n  - path: /a.flv\n    fallback:\n      - mnt: /b.flv", "mounts[0] (/a.flv): fallback[0]: unknown key 'mnt' (did you mean 'mount'?)")]
    [InlineData("server:\n  mount-defaults:\n    graec: 1s", "server.mount-defaults: unknown key 'graec' (did you mean 'grace'?)")]
    public void Parse_UnknownKey_ErrorWithSuggestion(string yaml, string expected)
    {
        var errors = Errors(yaml);

        Assert.Contains(expected, errors);
    }

    [Fact]
    public void Parse_PathInMountDefaults_Error()
    {
        var error = SingleError("server:\n  mount-defaults:\n    path: /x\n");

        Assert.Equal("server.mount-defaults: path: is not allowed in mount-defaults (each mount declares its own path)", error);
    }

    [Fact]
    public void Parse_YamlSyntaxError_SingleErrorWithLineAndColumn()
    {
        var error = SingleError("server:\n  listen: [http://a:8000\nmounts:\n");

        Assert.StartsWith("YAML syntax error at line ", error);
        Assert.Matches(@"^YAML syntax error at line \d+, column \d+: \S", error);
    }

    [Fact]
    public void Parse_BadIndentation_SyntaxErrorPointsAtLine()
    {
        var error = SingleError("server:\n  listen: http://a:8000\n    max-listeners: 5\n");

        Assert.StartsWith("YAML syntax error at line 3, column ", error);
    }

    [Fact]
    public void Parse_DuplicateYamlKey_Error()
    {
        var error = SingleError("server:\n  max-listeners: 1\n  max-listeners: 2\n");

        Assert.Contains("line 3", error);
    }

    [Theory]
    [InlineData("- a\n- b", "config: expected a mapping with the keys server, mounts, relays, master, metrics, got a list (line 1)")]
    [InlineData("mounts: /a.flv", "mounts: expected a list of mounts, got \"/a.flv\" (line 1)")]
    [InlineData("server: [1]", "server: expected a mapping of keys, got a list (line 1)")]
    [InlineData("mounts:\n  - /a.flv", "mounts[0]: expected a mapping of keys, got \"/a.flv\" (line 2)")]
    public void Parse_WrongNodeType_ErrorSaysWhatWasExpected(string yaml, string expected) =>
        Assert.Equal(expected, SingleError(yaml));

    [Fact]
    public void Parse_SeveralProblems_AllReportedTogether()
    {
        var errors = Errors("""
            server:
              lisen: http://0.0.0.0:8000
              flush-interval: 5s
            mounts:
              - path: /live.flv
                max-lag: 5x
                buffer-bytes: 1k
                fallback:
                  - file: nope.flv
              - path: live2.flv
              - path: /live.flv
            relays:
              - mount: /r.flv
            master:
              url: nope
            """, _dir.Path);

        Assert.Equal(
            [
                "server: unknown key 'lisen' (did you mean 'listen'?)",
                "mounts[0] (/live.flv): max-lag: \"5x\" is not a duration (use 500ms, 5s, 2m)",
                "server: flush-interval: 5s must be between 1ms and 1s (e.g. 40ms)",
                "mounts[0] (/live.flv): buffer-bytes: 1024 must be at least 64KiB",
                $"mounts[0] (/live.flv): fallback[0]: file: \"nope.flv\" not found (looked for {Path.Combine(_dir.Path, "nope.flv")})",
                "mounts[1] (live2.flv): path: \"live2.flv\" must start with '/' (e.g. /live.flv)",
                "mounts[2] (/live.flv): path: \"/live.flv\" is already declared by mounts[0] (mount paths must be unique; they are case-sensitive)",
                "relays[0] (/r.flv): upstreams: give at least one URL (e.g. http://master:8000/r.flv)",
                "master: url: \"nope\" is not an absolute http or https URL (e.g. http://master:8000)",
            ],
            errors);
    }

    [Fact]
    public void ConfigException_FromParse_MessageContainsEveryError()
    {
        var ex = Assert.Throws<ConfigException>(() => ConfigLoader.Parse("server:\n  max-listeners: -1\n  flush-interval: 0s\n", "."));

        Assert.Equal(2, ex.Errors.Count);
        foreach (var error in ex.Errors)
        {
            Assert.Contains(error, ex.Message, StringComparison.Ordinal);
        }
    }
}
