namespace Savate.Fuzz.Tests;

/// <summary>
/// Every file of the fuzz corpus (the seeds, and each crash input found by afl and fixed) goes through its
/// target once, uninstrumented: what was fixed stays fixed. A target throws when the code under test breaks
/// its contract (an exception other than its format exception, a split-dependent result, a buffer not returned).
/// </summary>
public class CorpusReplayTests
{
    private static readonly string s_corpus = Path.Combine(AppContext.BaseDirectory, "corpus");

    public static TheoryData<string, string> CorpusFiles()
    {
        var data = new TheoryData<string, string>();
        foreach (var target in FuzzTargets.Names)
        {
            var directory = Path.Combine(s_corpus, target);
            foreach (var file in Directory.EnumerateFiles(directory).Order(StringComparer.Ordinal))
            {
                data.Add(target, Path.GetFileName(file));
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(CorpusFiles))]
    public void Run_CorpusFile_KeepsTargetContract(string target, string file)
    {
        var input = File.ReadAllBytes(Path.Combine(s_corpus, target, file));

        var exception = Record.Exception(() => FuzzTargets.Run(target, input));

        Assert.Null(exception);
    }

    [Fact]
    public void Corpus_EveryTarget_HasSeedsAndNoStrayDirectory()
    {
        foreach (var target in FuzzTargets.Names)
        {
            Assert.True(Directory.EnumerateFiles(Path.Combine(s_corpus, target)).Count() >= 3, $"corpus/{target} needs at least 3 seeds");
        }
        var directories = Directory.EnumerateDirectories(s_corpus).Select(Path.GetFileName).Order(StringComparer.Ordinal);
        Assert.Equal(FuzzTargets.Names.Order(StringComparer.Ordinal), directories);
    }
}
