using Savate.Server.Configuration;

namespace Savate.Fuzz.Tests;

/// <summary>What the fuzzers found, fixed in the code under test, each checked for its answer (the corpus replay checks the contract).</summary>
public class FuzzFindingsTests
{
    [Fact]
    public void Parse_FlowCollectionsNestedTooDeep_RefusedWithConfigException()
    {
        // 50,000 nested '[' overflowed the stack while YamlDotNet built its node tree: the process died ("Stack overflow.").
        var yaml = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "corpus", "config", "crash-deep-flow-nesting.yaml"));

        var error = Assert.Throws<ConfigException>(() => ConfigLoader.Parse(yaml, Path.GetTempPath()));

        Assert.Equal("config: line 1: collections nested more than 64 levels deep; a config needs a handful", Assert.Single(error.Errors));
    }

    [Fact]
    public void Parse_NestingJustOverLimit_RefusedAndJustUnderAccepted()
    {
        var over = Assert.Throws<ConfigException>(() => ConfigLoader.Parse("mounts: " + new string('[', 64) + new string(']', 64), Path.GetTempPath()));
        Assert.Contains("nested more than 64 levels", Assert.Single(over.Errors), StringComparison.Ordinal);

        // 63 levels inside the root mapping: deep, but not refused for its depth (the validator refuses what it means).
        var under = Assert.Throws<ConfigException>(() => ConfigLoader.Parse("mounts: " + new string('[', 63) + new string(']', 63), Path.GetTempPath()));
        Assert.DoesNotContain(under.Errors, e => e.Contains("nested more than", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("crash-global-tag-not-uri.yaml", "YAML syntax error: Global tags must be valid URIs.")]
    [InlineData("crash-unsupported-event.yaml", "YAML syntax error: The current event is of an unsupported type.")]
    public void Parse_YamlDotNetArgumentException_RefusedWithConfigException(string file, string expected)
    {
        // YamlDotNet threw ArgumentException (not YamlException) for these: it escaped ConfigLoader.Parse.
        var yaml = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "corpus", "config", file));

        var error = Assert.Throws<ConfigException>(() => ConfigLoader.Parse(yaml, Path.GetTempPath()));

        Assert.Equal(expected, Assert.Single(error.Errors));
    }
}
