using BenchmarkDotNet.Running;

// dotnet run -c Release --project tests/Savate.Benchmarks -- --filter '*'
BenchmarkSwitcher.FromAssembly(typeof(Savate.Benchmarks.SampleData).Assembly).Run(args);
