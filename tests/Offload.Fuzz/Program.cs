using Offload.Fuzz;
using Offload.Fuzz.Targets;
using SharpFuzz;

string usage = $"usage: Offload.Fuzz <{string.Join('|', FuzzTargets.Names)}> (under afl-fuzz) | Offload.Fuzz seed DIR";
if (args.Length == 2 && args[0] == "seed")
{
    Seeds.Write(args[1]);
    return 0;
}
var target = args.Length == 1 ? FuzzTargets.Find(args[0]) : null;
if (target is null)
{
    Console.Error.WriteLine(args.Length == 1 ? $"unknown target '{args[0]}'; {usage}" : usage);
    return 2;
}
// AFL hands every input over one forkserver: the stream is read whole because the decoders take spans or streams of a
// whole message, as they do on the wire.
Fuzzer.OutOfProcess.Run(stream =>
{
    using var copy = new MemoryStream();
    stream.CopyTo(copy);
    target(copy.ToArray());
});
return 0;
