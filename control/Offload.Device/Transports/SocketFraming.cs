using System.Buffers.Binary;
using System.Net.Sockets;
using Offload.Device.Wire;

namespace Offload.Device.Transports;

/// <summary>
/// Command messages on a stream socket: each one behind a 4-byte big-endian length. The length is checked against
/// <see cref="CommandWire.MaxMessage"/> before a byte of the message is read, so a peer cannot make us read without
/// bound.
/// </summary>
internal static class SocketFraming
{
    public const int PrefixLength = 4;

    /// <summary>Sends <paramref name="buffer"/>[4..4+length] after writing its length into the first 4 bytes.</summary>
    public static void Send(Socket socket, byte[] buffer, int length)
    {
        BinaryPrimitives.WriteUInt32BigEndian(buffer, (uint)length);
        int total = PrefixLength + length;
        int sent = 0;
        while (sent < total)
            sent += socket.Send(buffer, sent, total - sent, SocketFlags.None);
    }

    /// <summary>Reads one message into <paramref name="buffer"/> (from offset 0); its length, or -1 at a clean end of stream.</summary>
    /// <exception cref="InvalidDataException">The length prefix is out of bounds, or the stream ends inside a message.</exception>
    public static int Receive(Socket socket, byte[] buffer)
    {
        Span<byte> prefix = stackalloc byte[PrefixLength];
        if (!ReadExactly(socket, prefix, allowEnd: true))
            return -1;
        uint length = BinaryPrimitives.ReadUInt32BigEndian(prefix);
        if (length > CommandWire.MaxMessage || length > buffer.Length)
            throw new InvalidDataException($"a message of {length} bytes announced; at most {Math.Min(CommandWire.MaxMessage, buffer.Length)} are taken");
        if (!ReadExactly(socket, buffer.AsSpan(0, (int)length), allowEnd: false))
            throw new InvalidDataException("the stream ended inside a message");
        return (int)length;
    }

    private static bool ReadExactly(Socket socket, Span<byte> into, bool allowEnd)
    {
        int got = 0;
        while (got < into.Length)
        {
            int n = socket.Receive(into[got..], SocketFlags.None);
            if (n == 0)
            {
                if (got == 0 && allowEnd)
                    return false;
                throw new InvalidDataException($"the stream ended after {got} of {into.Length} bytes");
            }
            got += n;
        }
        return true;
    }
}
