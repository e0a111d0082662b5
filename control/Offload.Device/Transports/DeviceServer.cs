using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Offload.Device.Wire;

namespace Offload.Device.Transports;

/// <summary>
/// Serves an <see cref="IDevice"/> over TCP in the command framing (<see cref="TcpDevice"/> is its client): what
/// <c>offload sim serve</c> runs over the Verilator model. Each request runs as one <see cref="IDevice.Batch"/>, so
/// clients never interleave inside a request; a request that breaks the framing, skips a sequence number or asks
/// too much is answered with a status and runs nothing.
/// </summary>
/// <remarks>
/// The server owns its listening socket, its connections and their threads (one per client: a register bus has
/// few), and ends them all on <see cref="Dispose"/>. It does not own the device. The register bus has no
/// authentication, so callers should bind loopback (the CLI refuses anything else).
/// </remarks>
public sealed class DeviceServer : IDisposable
{
    private readonly IDevice _device;
    private readonly ILogger _log;
    private readonly Socket _listener;
    private readonly Thread _acceptor;
    private readonly Lock _gate = new();
    private readonly List<Socket> _clients = [];
    private readonly List<Thread> _threads = [];
    /// <summary>Clients served at once: a register bus has a gateway or two; more are refused (closed at once).</summary>
    public const int MaxClients = 8;

    private long _requests;
    private long _refused;
    private bool _disposed;

    public DeviceServer(IDevice device, IPEndPoint listen, ILogger? log = null)
    {
        _device = device ?? throw new ArgumentNullException(nameof(device));
        ArgumentNullException.ThrowIfNull(listen);
        _log = log ?? NullLogger.Instance;
        _listener = new Socket(listen.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            _listener.Bind(listen);
            _listener.Listen(8);
        }
        catch
        {
            _listener.Dispose();
            throw;
        }
        LocalEndPoint = (IPEndPoint)_listener.LocalEndPoint!;
        _acceptor = new Thread(Accept) { IsBackground = true, Name = "device server accept" };
        _acceptor.Start();
    }

    public IPEndPoint LocalEndPoint { get; }

    /// <summary>"tcp://HOST:PORT" a client opens.</summary>
    public string Uri => TcpDevice.UriOf(LocalEndPoint);

    /// <summary>Requests answered (any status).</summary>
    public long Requests => Interlocked.Read(ref _requests);

    /// <summary>Requests answered with a status other than Ok.</summary>
    public long Refused => Interlocked.Read(ref _refused);

    public void Dispose()
    {
        Thread[] threads;
        lock (_gate)
        {
            if (_disposed)
                return;
            _disposed = true;
            foreach (var c in _clients)
                c.Dispose();
            threads = [.. _threads];
        }
        _listener.Dispose();
        _acceptor.Join();
        foreach (var t in threads)
            t.Join();
    }

    private void Accept()
    {
        while (true)
        {
            Socket client;
            try
            {
                client = _listener.Accept();
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            catch (SocketException e)
            {
                lock (_gate)
                {
                    if (_disposed)
                        return;
                }
                // Out of descriptors, a connection reset before it was taken: keep serving the clients there are.
                _log.LogWarning("Device server: accept failed: {Error}", e.Message);
                Thread.Sleep(100);
                continue;
            }
            client.NoDelay = true;
            var thread = new Thread(() => Serve(client)) { IsBackground = true, Name = "device server client" };
            lock (_gate)
            {
                if (_disposed)
                {
                    client.Dispose();
                    return;
                }
                if (_clients.Count >= MaxClients)
                {
                    _log.LogWarning("Device server: refused a client beyond {Max}", MaxClients);
                    client.Dispose();
                    continue;
                }
                _clients.Add(client);
                _threads.Add(thread);
            }
            thread.Start();
        }
    }

    private void Serve(Socket client)
    {
        string peer = client.RemoteEndPoint?.ToString() ?? "?";
        _log.LogInformation("Device client {Peer} connected", peer);
        var rx = new byte[CommandWire.MaxMessage];
        var tx = new byte[SocketFraming.PrefixLength + CommandWire.ResponseHeaderLength + (4 * CommandWire.MaxOps)];
        var ops = new CsrOp[CommandWire.MaxOps];
        var results = new uint[CommandWire.MaxOps];
        uint? last = null;
        try
        {
            while (true)
            {
                int length = SocketFraming.Receive(client, rx);
                if (length < 0)
                    break;
                var status = CommandWire.DecodeRequest(rx.AsSpan(0, length), ops, out uint seq, out int count, out string error);
                if (status == WireStatus.Ok && last is { } prev && seq != unchecked(prev + 1))
                {
                    status = WireStatus.SequenceGap;
                    error = $"request {seq} after {prev}";
                }
                int completed = 0;
                if (status == WireStatus.Ok)
                {
                    try
                    {
                        _device.Batch(ops.AsSpan(0, count), results.AsSpan(0, count));
                        completed = count;
                    }
                    catch (DeviceException e) when (e.Error is DeviceError.Timeout or DeviceError.Other)
                    {
                        status = WireStatus.NoAck;
                        error = e.Message;
                    }
                    catch (Exception e) when (e is not OutOfMemoryException)
                    {
                        // Whatever the device behind refuses (an address it does not have, a link that died) is answered,
                        // never allowed to take the server down.
                        status = WireStatus.DeviceFailed;
                        error = e.Message;
                    }
                }
                // Only a request that ran moves the expected number: after a refusal the client's next try comes in order.
                if (status is WireStatus.Ok or WireStatus.NoAck)
                    last = seq;
                Interlocked.Increment(ref _requests);
                if (status != WireStatus.Ok)
                {
                    Interlocked.Increment(ref _refused);
                    _log.LogWarning("Device client {Peer}: request {Sequence} refused: {Status}: {Error}", peer, seq, status, error);
                }
                int n = CommandWire.EncodeResponse(status, seq, ops.AsSpan(0, status == WireStatus.Ok ? count : 0), results, completed,
                    tx.AsSpan(SocketFraming.PrefixLength));
                SocketFraming.Send(client, tx, n);
            }
        }
        catch (InvalidDataException e)
        {
            // The framing itself is lost (a length out of bounds): nothing can be answered in step any more.
            _log.LogWarning("Device client {Peer}: {Error}; closing", peer, e.Message);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
        }
        finally
        {
            lock (_gate)
            {
                _clients.Remove(client);
                _threads.Remove(Thread.CurrentThread);
            }
            client.Dispose();
            _log.LogInformation("Device client {Peer} left", peer);
        }
    }
}
