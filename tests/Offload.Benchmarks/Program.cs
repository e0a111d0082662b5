using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;

// `dotnet run -c Release --project tests/Offload.Benchmarks -- --filter '*'` runs the micro-benchmarks. They run in
// this process (no generated project to build), so they work from any folder and from the built tool alike. The
// figures a user needs come from `offload bench …`, which calls the rigs in this project directly.
var config = DefaultConfig.Instance.AddJob(Job.Default.WithToolchain(InProcessEmitToolchain.Instance).WithId("in-process"));
BenchmarkSwitcher.FromAssembly(typeof(Offload.Benchmarks.Micro.CodecBenchmarks).Assembly).Run(args, config);
