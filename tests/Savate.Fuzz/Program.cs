using Savate.Fuzz;
using SharpFuzz;

// Savate.Fuzz TARGET              runs TARGET under afl-fuzz (scripts/fuzz.sh instruments the assemblies first)
// Savate.Fuzz TARGET FILE|DIR...  runs each input through TARGET once, uninstrumented, and says which one fails
if (args.Length == 0 || !FuzzTargets.TryGet(args[0], out var target))
{
    Console.Error.WriteLine($"usage: Savate.Fuzz TARGET [FILE|DIR...]; targets: {string.Join(", ", FuzzTargets.Names)}");
    return 2;
}

if (args.Length == 1)
{
    Fuzzer.OutOfProcess.Run(stream =>
    {
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        target(copy.ToArray());
    });
    return 0;
}

var failed = 0;
foreach (var file in args.Skip(1).SelectMany(a => Directory.Exists(a) ? Directory.EnumerateFiles(a, "*", SearchOption.AllDirectories) : [a]).Order(StringComparer.Ordinal))
{
    try
    {
        target(File.ReadAllBytes(file));
    }
    catch (Exception e)
    {
        failed++;
        Console.WriteLine($"FAIL {file}: {e}");
    }
}
Console.WriteLine(failed == 0 ? "every input passed" : $"{failed} input(s) failed");
return failed == 0 ? 0 : 1;
