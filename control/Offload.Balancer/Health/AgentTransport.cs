using System.Net;
using System.Net.Sockets;

namespace Offload.Balancer.Health;

/// <summary>One datagram received: its length in the caller's buffer and who sent it.</summary>
public readonly record struct AgentDatagram(int Length, IPEndPoint From);

/// <summary>
/// The handler's socket towards the agents. Receiving happens on one task while sends come from the daemon's
/// thread; implementations must allow that (a UDP socket does).
/// </summary>
public interface IAgentTransport : IDisposable
{
    IPEndPoint LocalEndPoint { get; }

    ValueTask<AgentDatagram> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken);

    void Send(ReadOnlySpan<byte> datagram, IPEndPoint to);
}

/// <summary>A UDP socket bound to one address; port 0 takes an ephemeral port.</summary>
public sealed class UdpAgentTransport : IAgentTransport
{
    private readonly Socket _socket;
    private readonly EndPoint _any;

    public UdpAgentTransport(IPEndPoint bind)
    {
        ArgumentNullException.ThrowIfNull(bind);
        _socket = new Socket(bind.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        if (bind.AddressFamily == AddressFamily.InterNetworkV6)
            _socket.DualMode = true;
        _socket.Bind(bind);
        _any = bind.AddressFamily == AddressFamily.InterNetworkV6 ? new IPEndPoint(IPAddress.IPv6Any, 0) : new IPEndPoint(IPAddress.Any, 0);
        LocalEndPoint = (IPEndPoint)_socket.LocalEndPoint!;
    }

    public IPEndPoint LocalEndPoint { get; }

    public async ValueTask<AgentDatagram> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        var r = await _socket.ReceiveFromAsync(buffer, SocketFlags.None, _any, cancellationToken).ConfigureAwait(false);
        return new AgentDatagram(r.ReceivedBytes, (IPEndPoint)r.RemoteEndPoint);
    }

    public void Send(ReadOnlySpan<byte> datagram, IPEndPoint to)
    {
        try
        {
            _socket.SendTo(datagram, SocketFlags.None, to);
        }
        catch (SocketException)
        {
            // An unreachable agent is what the silence timeout detects; a send error adds nothing to it.
        }
    }

    public void Dispose() => _socket.Dispose();
}
