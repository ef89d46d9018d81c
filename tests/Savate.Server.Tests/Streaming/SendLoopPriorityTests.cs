using Savate.Server.Streaming;
using Savate.Server.Tests.Infrastructure;
using Xunit;

namespace Savate.Server.Tests.Streaming;

/// <summary>The send loops yield to joins, sources and admin work: their threads run at nice +2 (LoopPriority).</summary>
public class SendLoopPriorityTests
{
    [Fact]
    public async Task SendLoopThreads_RunAtNicePlusTwo_OtherThreadsUnchanged()
    {
        Assert.True(OperatingSystem.IsLinux(), "the server's priorities are Linux thread nice values");
        _ = SendLoops.Shared;
        var loops = new Dictionary<string, int>();
        bool AllAtNiceTwo()
        {
            loops = Threads().Where(t => t.Name.StartsWith("savate-send-", StringComparison.Ordinal)).ToDictionary(t => t.Name, t => t.Nice);
            return loops.Count == SendLoops.Shared.Count && loops.Values.All(n => n == 2);
        }
        try
        {
            await Wait.UntilAsync(AllAtNiceTwo, TimeSpan.FromSeconds(10), "every send loop thread at nice 2");
        }
        catch (TimeoutException)
        {
            Assert.Fail($"send loop threads: {string.Join(", ", loops.Select(l => $"{l.Key}={l.Value}"))}");
        }
        // The calling thread (as every other one of the process) keeps the default.
        var self = Gettid();
        Assert.Equal(0, Threads().Single(t => t.Tid == self).Nice);
    }

    private static int Gettid() => int.Parse(new DirectoryInfo("/proc/thread-self").ResolveLinkTarget(false)!.Name);

    // /proc/self/task/TID/stat: "tid (comm) state ..." — nice is the 19th field, counted after the name's closing parenthesis.
    private static IEnumerable<(int Tid, string Name, int Nice)> Threads()
    {
        foreach (var dir in Directory.GetDirectories("/proc/self/task"))
        {
            string stat;
            try
            {
                stat = File.ReadAllText(Path.Combine(dir, "stat"));
            }
            catch (IOException)
            {
                continue;
            }
            var open = stat.IndexOf('(');
            var close = stat.LastIndexOf(')');
            var fields = stat[(close + 2)..].Split(' ');
            yield return (int.Parse(Path.GetFileName(dir)), stat[(open + 1)..close], int.Parse(fields[16]));
        }
    }
}
