using BenchmarkDotNet.Attributes;
using Offload.Device;
using Offload.Device.Wire;
using Offload.Protocol;
using Offload.Protocol.Glbp;

namespace Offload.Benchmarks.Micro;

/// <summary>
/// The per-packet and per-access paths, one operation each: a GLBP hello with two forwarders decoded and written, a
/// flow key's two bucket hashes, and a host frame's register accesses encoded in the command framing. Allocations
/// are reported too: each of these must allocate nothing.
/// </summary>
[MemoryDiagnoser]
public class CodecBenchmarks
{
    private readonly byte[] _hello = new byte[GlbpProtocol.MaxLength];
    private readonly byte[] _wire = new byte[CommandWire.MaxRequest];
    private readonly CsrOp[] _frameOps = new CsrOp[400];
    private int _helloLength;
    private FlowKey _key;

    private static readonly GlbpHeader Header = new(7, 0x0200_0000_0011);
    private static readonly GlbpHello Hello = new(GlbpVgState.Active, 100, 3000, 10000, 600, 14400, Ipv4Address.Parse("10.0.0.1"));

    [GlobalSetup]
    public void Setup()
    {
        _helloLength = Write();
        _key = new FlowKey(0, 0x0A00_0001, 0xC0A8_0A0A, 6, 40000, 80);
        for (int i = 0; i < _frameOps.Length - 1; i++)
            _frameOps[i] = CsrOp.Write(Reg.HostTxData, (uint)i);
        _frameOps[^1] = CsrOp.Write(Reg.HostTxCommit, 1500);
    }

    [Benchmark]
    public int Write()
    {
        var w = new GlbpWriter(_hello, Header);
        w.WriteHello(Hello);
        w.WriteForwarder(new GlbpForwarder(1, GlbpVfState.Active, 167, 100, GlbpVirtualMac.Create(7, 1)));
        w.WriteForwarder(new GlbpForwarder(2, GlbpVfState.Listen, 135, 100, GlbpVirtualMac.Create(7, 2)));
        return w.Written.Length;
    }

    [Benchmark]
    public GlbpResult Decode() => GlbpPacket.TryDecode(_hello.AsSpan(0, _helloLength), out _);

    [Benchmark]
    public uint FlowKeyHashes() => FlowHash.CrcA(_key) ^ FlowHash.CrcB(_key);

    [Benchmark]
    public int HostFrameRequest() => CommandWire.EncodeRequest(_frameOps, 1, _wire, out _);
}
