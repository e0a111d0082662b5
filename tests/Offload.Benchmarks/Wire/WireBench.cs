using System.Buffers.Binary;
using System.Diagnostics;
using System.Runtime.InteropServices;
using Offload.Device.Ports;

namespace Offload.Benchmarks.Wire;

/// <summary>One way of reading an AF_PACKET socket, measured: medians over the rounds.</summary>
/// <param name="Method">plain (one recv per frame), recvmmsg (batches) or tpacket-v3 (a memory-mapped ring).</param>
/// <param name="Sent">Frames the sender wrote per round.</param>
/// <param name="Received">Frames the reader handed over (median).</param>
/// <param name="KernelDrops">Frames the kernel dropped on the reader's socket for want of room (median).</param>
/// <param name="OutOfOrder">Frames that came with a sequence number not above the last one (all rounds), or corrupt.</param>
/// <param name="ReaderNsPerFrame">The reading thread's CPU time per frame read, user and system (median).</param>
/// <param name="SystemCallsPerFrame">The reader's system calls per frame read (median).</param>
/// <param name="FramesPerSecond">Frames read per second of the reader's wall time, first frame to last (median).</param>
/// <param name="PacedLatencyUs">Send to read at a light load (a frame every millisecond): median and 99th percentile, microseconds.</param>
public sealed record WireMethodResult(string Method, int Sent, long Received, long KernelDrops, long OutOfOrder, double ReaderNsPerFrame,
    double SystemCallsPerFrame, double FramesPerSecond, double PacedLatencyP50Us, double PacedLatencyP99Us);

/// <summary>
/// The three ways to read frames from a Linux interface, side by side on one veth pair: the same sender writes the
/// same numbered frames into one end, and each reader in turn takes them from the other end on its own thread, whose
/// CPU time (CLOCK_THREAD_CPUTIME_ID) is the figure that matters: on a veth the kernel's receive work runs in the
/// sender's system call, so what differs between the methods is what the reader pays per frame.
/// </summary>
/// <remarks>Runs where both interfaces are visible (the CLI runs it inside a namespace it makes for it); needs CAP_NET_RAW.</remarks>
public static partial class WireBench
{
    /// <summary>The local experimental EtherType: nothing else on the pair uses it, so strays (IPv6 chatter) are skipped.</summary>
    public const ushort EtherType = 0x88B5;

    public static IReadOnlyList<WireMethodResult> Run(string sendInterface, string receiveInterface, int frames, int frameBytes, int rounds, Action<string>? progress = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(frames, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(frameBytes, 60);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(frameBytes, 1514);
        ArgumentOutOfRangeException.ThrowIfLessThan(rounds, 1);
        var results = new List<WireMethodResult>();
        foreach (string method in (string[])["plain", "recvmmsg", "tpacket-v3"])
        {
            progress?.Invoke($"{method}: {rounds} round(s) of {frames} frames");
            var runs = new List<Round>();
            for (int r = 0; r < rounds; r++)
                runs.Add(OneRound(method, sendInterface, receiveInterface, frames, frameBytes, paced: false));
            // At a light load a batch reader waits for its batch: what that costs in latency is the other half.
            var paced = OneRound(method, sendInterface, receiveInterface, PacedFrames, frameBytes, paced: true);
            results.Add(new WireMethodResult(method, frames, (long)Median(runs, x => x.Received), (long)Median(runs, x => x.Drops), runs.Sum(x => x.OutOfOrder),
                Math.Round(Median(runs, x => x.Received == 0 ? 0 : x.CpuNs / (double)x.Received), 1),
                Math.Round(Median(runs, x => x.Received == 0 ? 0 : x.Calls / (double)x.Received), 3),
                Math.Round(Median(runs, x => x.Seconds <= 0 ? 0 : x.Received / x.Seconds)),
                paced.LatencyP50Us, paced.LatencyP99Us));
        }
        return results;
    }

    private const int PacedFrames = 500;

    private readonly record struct Round(long Received, long Drops, long OutOfOrder, long CpuNs, long Calls, double Seconds, double LatencyP50Us, double LatencyP99Us);

    private static double Median(List<Round> runs, Func<Round, double> value)
    {
        var v = runs.Select(value).Order().ToList();
        return v.Count % 2 == 1 ? v[v.Count / 2] : (v[(v.Count / 2) - 1] + v[v.Count / 2]) / 2;
    }

    private static Round OneRound(string method, string sendInterface, string receiveInterface, int frames, int frameBytes, bool paced)
    {
        using var sender = PacketSocket.Open(sendInterface);
        var reader = new Reader(method, receiveInterface, frames, frameBytes);
        var thread = new Thread(reader.Run) { Name = $"wire reader {method}", IsBackground = true };
        thread.Start();
        reader.Ready.Wait();
        var frame = new byte[frameBytes];
        // Broadcast from a locally administered address, the experimental EtherType, then the sequence number.
        frame.AsSpan(0, 6).Fill(0xFF);
        frame[6] = 0x02;
        frame[11] = 0x01;
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), EtherType);
        for (int i = 0; i < frames; i++)
        {
            BinaryPrimitives.WriteInt32BigEndian(frame.AsSpan(14), i);
            BinaryPrimitives.WriteInt64BigEndian(frame.AsSpan(18), Stopwatch.GetTimestamp());
            sender.Send(frame);
            if (paced)
                Thread.Sleep(1);
        }
        reader.SenderDone = true;
        thread.Join();
        return reader.Result;
    }

    // The reading thread: opens its socket before the sender starts, reads until every frame came or the wire stayed
    // quiet for a while after the sender finished, and measures its own CPU time.
    private sealed class Reader(string method, string name, int frames, int frameBytes)
    {
        private static readonly TimeSpan Quiet = TimeSpan.FromMilliseconds(300);
        private long _received;
        private long _outOfOrder;
        private int _last = -1;
        private long _firstTicks;
        private long _lastTicks;
        private readonly long[] _latency = new long[frames];

        public ManualResetEventSlim Ready { get; } = new();

        public volatile bool SenderDone;

        public Round Result { get; private set; }

        private void OnFrame(ReadOnlySpan<byte> frame, int wire)
        {
            if (frame.Length < 26 || BinaryPrimitives.ReadUInt16BigEndian(frame[12..]) != EtherType)
                return;
            long now = Stopwatch.GetTimestamp();
            if (_received < _latency.Length)
                _latency[_received] = now - BinaryPrimitives.ReadInt64BigEndian(frame[18..]);
            if (_received == 0)
                _firstTicks = now;
            _lastTicks = now;
            _received++;
            int sequence = BinaryPrimitives.ReadInt32BigEndian(frame[14..]);
            if (sequence <= _last || wire != frameBytes)
                _outOfOrder++;
            _last = sequence;
        }

        public void Run()
        {
            var timeout = TimeSpan.FromMilliseconds(50);
            long cpuStart;
            long calls = 0;
            long drops;
            long quietSince = 0;
            bool Done(int got)
            {
                if (_received >= frames)
                    return true;
                if (got > 0 || !SenderDone)
                {
                    quietSince = 0;
                    return false;
                }
                if (quietSince == 0)
                    quietSince = Stopwatch.GetTimestamp();
                return Stopwatch.GetElapsedTime(quietSince) > Quiet;
            }
            switch (method)
            {
                case "plain":
                    {
                        using var socket = PacketSocket.Open(name);
                        socket.ReceiveTimeout = timeout;
                        var buffer = new byte[2048];
                        socket.TakeKernelDrops();
                        Ready.Set();
                        cpuStart = ThreadCpuNs();
                        int got;
                        do
                        {
                            int n = socket.Receive(buffer);
                            calls++;
                            got = n > 0 ? 1 : 0;
                            if (n > 0)
                                OnFrame(buffer.AsSpan(0, Math.Min(n, buffer.Length)), n);
                        }
                        while (!Done(got));
                        drops = socket.TakeKernelDrops();
                        break;
                    }
                case "recvmmsg":
                    {
                        using var batch = PacketBatch.Open(name);
                        batch.Stats();
                        Ready.Set();
                        cpuStart = ThreadCpuNs();
                        long before = batch.Stats().SystemCalls;
                        while (!Done(batch.Read(OnFrame, timeout)))
                        {
                        }
                        var s = batch.Stats();
                        calls = s.SystemCalls - before - 1;
                        drops = s.KernelDrops;
                        break;
                    }
                default:
                    {
                        using var ring = PacketRing.Open(name);
                        ring.Stats();
                        Ready.Set();
                        cpuStart = ThreadCpuNs();
                        long before = ring.Stats().SystemCalls;
                        while (!Done(ring.Read(OnFrame, timeout)))
                        {
                        }
                        var s = ring.Stats();
                        calls = s.SystemCalls - before - 1;
                        drops = s.KernelDrops;
                        break;
                    }
            }
            long cpu = ThreadCpuNs() - cpuStart;
            int samples = (int)Math.Min(_received, _latency.Length);
            Array.Sort(_latency, 0, samples);
            double Us(double q) => samples == 0 ? 0 : Math.Round(_latency[(int)Math.Min(samples - 1, q * samples)] * 1e6 / Stopwatch.Frequency, 1);
            Result = new Round(_received, drops, _outOfOrder, cpu, calls, _received < 2 ? 0 : Stopwatch.GetElapsedTime(_firstTicks, _lastTicks).TotalSeconds,
                Us(0.5), Us(0.99));
        }
    }

    private static long ThreadCpuNs()
    {
        Span<long> ts = stackalloc long[2];
        return ClockGetTime(3 /* CLOCK_THREAD_CPUTIME_ID */, ts) == 0 ? (ts[0] * 1_000_000_000L) + ts[1] : 0;
    }

    [LibraryImport("libc", EntryPoint = "clock_gettime")]
    private static partial int ClockGetTime(int clock, Span<long> timespec);
}
