using System.Net;
using System.Net.Sockets;
using Offload.Device.Wire;

namespace Offload.Device.Transports;

/// <summary>
/// The <c>tcp://HOST:PORT</c> transport: register access to a data plane served by another process
/// (<c>offload sim serve</c>, or any <see cref="DeviceServer"/>), in the command framing every remote transport
/// shares. A batch goes out as few requests as its size allows (one for anything under 64 k accesses), each answered
/// before the next is sent, so ordering is the batch's own.
/// </summary>
/// <remarks>
/// Not thread-safe: its owner (<see cref="Dataplane"/>) serializes callers. After any failure the connection is
/// dropped and every later call fails with the first error: a half-answered exchange leaves nothing to resume.
/// Buffers are allocated once, so an exchange allocates nothing.
/// </remarks>
public sealed class TcpDevice : IDevice
{
    private readonly Socket _socket;
    private readonly byte[] _tx = new byte[SocketFraming.PrefixLength + CommandWire.MaxRequest];
    private readonly byte[] _rx = new byte[CommandWire.MaxMessage];
    private readonly CsrOp[] _one = new CsrOp[1];
    private readonly uint[] _oneResult = new uint[1];
    private uint _sequence;
    private DeviceException? _broken;

    private TcpDevice(Socket socket, string peer)
    {
        _socket = socket;
        Peer = peer;
    }

    /// <summary>"tcp://HOST:PORT" as opened, for messages.</summary>
    public string Peer { get; }

    public string Transport => "tcp";

    /// <summary>Connects to a served device; answers and connects within <paramref name="timeout"/> or fails by name.</summary>
    /// <param name="connectTimeout">For the connection alone, when it should differ from the answers' (default: <paramref name="timeout"/>).</param>
    /// <exception cref="DeviceException">Nothing listens there (<see cref="DeviceError.Absent"/>), or no answer in time.</exception>
    public static TcpDevice Connect(string host, int port, TimeSpan timeout, TimeSpan? connectTimeout = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(host);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(port);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(port, 65535);
        string peer = $"tcp://{(host.Contains(':', StringComparison.Ordinal) ? $"[{host}]" : host)}:{port}";
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            using var cts = new CancellationTokenSource(connectTimeout ?? timeout);
            // An address literal connects directly; a name goes through the resolver first.
            var connecting = IPAddress.TryParse(host, out var address) ? socket.ConnectAsync(address, port, cts.Token) : socket.ConnectAsync(host, port, cts.Token);
            connecting.AsTask().GetAwaiter().GetResult();
            socket.ReceiveTimeout = (int)timeout.TotalMilliseconds;
            socket.SendTimeout = (int)timeout.TotalMilliseconds;
            return new TcpDevice(socket, peer);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException)
        {
            socket.Dispose();
            throw Classify(e, peer, "connect");
        }
    }

    public uint Read(uint address)
    {
        _one[0] = CsrOp.Read(address);
        Batch(_one, _oneResult);
        return _oneResult[0];
    }

    public void Write(uint address, uint value)
    {
        _one[0] = CsrOp.Write(address, value);
        Batch(_one, default);
    }

    public void Batch(ReadOnlySpan<CsrOp> ops, Span<uint> results)
    {
        if (!results.IsEmpty && results.Length < ops.Length)
            throw new ArgumentException($"results holds {results.Length} values for {ops.Length} operations", nameof(results));
        if (_broken is not null)
            throw new DeviceException(_broken.Error, $"{Peer}: the connection failed earlier ({_broken.Message})", _broken);
        int done = 0;
        while (done < ops.Length)
        {
            var chunk = ops[done..];
            uint seq = ++_sequence;
            int length = CommandWire.EncodeRequest(chunk, seq, _tx.AsSpan(SocketFraming.PrefixLength), out int consumed);
            chunk = chunk[..consumed];
            try
            {
                SocketFraming.Send(_socket, _tx, length);
                int got = SocketFraming.Receive(_socket, _rx);
                if (got < 0)
                    throw new DeviceException(DeviceError.Protocol, $"{Peer}: the server closed the connection");
                CommandWire.DecodeResponse(_rx.AsSpan(0, got), seq, chunk, results.IsEmpty ? default : results[done..], Peer);
            }
            catch (DeviceException e)
            {
                Fail(e);
                throw;
            }
            catch (Exception e) when (e is SocketException or InvalidDataException or ObjectDisposedException)
            {
                var failure = Classify(e, Peer, "exchange");
                Fail(failure);
                throw failure;
            }
            done += consumed;
        }
    }

    public void Dispose() => _socket.Dispose();

    private void Fail(DeviceException e)
    {
        _broken ??= e;
        _socket.Dispose();
    }

    private static DeviceException Classify(Exception e, string peer, string what)
    {
        if (e is OperationCanceledException)
            return new DeviceException(DeviceError.Timeout, $"{peer}: no connection within the timeout", e);
        if (e is InvalidDataException)
            return new DeviceException(DeviceError.Protocol, $"{peer}: {e.Message}", e);
        if (e is SocketException s)
        {
            return s.SocketErrorCode switch
            {
                SocketError.ConnectionRefused => new DeviceException(DeviceError.Absent,
                    $"{peer}: nothing listens there (serve a model with `offload sim serve --listen {peer["tcp://".Length..]}`)", e),
                SocketError.HostNotFound or SocketError.NoData or SocketError.HostUnreachable or SocketError.NetworkUnreachable =>
                    new DeviceException(DeviceError.Absent, $"{peer}: cannot reach the host ({s.SocketErrorCode})", e),
                SocketError.TimedOut or SocketError.WouldBlock => new DeviceException(DeviceError.Timeout, $"{peer}: no answer within the timeout ({what})", e),
                SocketError.AccessDenied => new DeviceException(DeviceError.PermissionDenied, $"{peer}: {s.Message}", e),
                _ => new DeviceException(DeviceError.Other, $"{peer}: {what} failed: {s.Message}", e),
            };
        }
        return new DeviceException(DeviceError.Other, $"{peer}: {what} failed: {e.Message}", e);
    }

    /// <summary>The address a client should use for a server bound to <paramref name="endPoint"/>.</summary>
    public static string UriOf(IPEndPoint endPoint)
    {
        ArgumentNullException.ThrowIfNull(endPoint);
        return endPoint.AddressFamily == AddressFamily.InterNetworkV6 ? $"tcp://[{endPoint.Address}]:{endPoint.Port}" : $"tcp://{endPoint.Address}:{endPoint.Port}";
    }
}
