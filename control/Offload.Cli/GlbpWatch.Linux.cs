using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Offload.Protocol;
using Offload.Protocol.Glbp;

namespace Offload.Cli;

internal static partial class GlbpWatch
{
    /// <summary>A Linux AF_PACKET socket that receives every frame on one interface.</summary>
    internal static partial class PacketSocket
    {
        /// <summary>ETH_P_ALL: every protocol, outgoing frames included (so a watcher on a router's own port sees its hellos).</summary>
        private const ushort EthPAll = 0x0003;
        private const int SolPacket = 263;
        private const int PacketAddMembership = 1;
        private const ushort PacketMrMulticast = 0;

        public static Socket Open(string iface)
        {
            if (!OperatingSystem.IsLinux())
                throw new ConfigException("glbp watch --interface uses AF_PACKET sockets and runs on Linux only");
            // if_nametoindex asks the kernel in the caller's network namespace, unlike /sys, which shows the mount's.
            uint index = IfNameToIndex(iface);
            if (index == 0)
                throw new ConfigException($"{iface}: no such interface");
            Socket socket;
            try
            {
                socket = new Socket(AddressFamily.Packet, SocketType.Raw, (ProtocolType)BinaryPrimitives.ReverseEndianness(EthPAll));
            }
            catch (SocketException e)
            {
                // Nearly always EPERM: raw packet sockets need root or CAP_NET_RAW.
                throw new ConfigException($"{iface}: cannot open a raw packet socket ({e.Message}); it needs root or CAP_NET_RAW");
            }
            try
            {
                socket.Bind(new LinkLayerEndPoint((int)index, EthPAll));
                // A NIC filters multicast it was not asked for; join GLBP's group MACs (IPv4 and IPv6) so hellos reach us.
                Join(socket, index, GlbpProtocol.MulticastMac);
                Join(socket, index, GlbpProtocol.MulticastMacIpv6);
                return socket;
            }
            catch (SocketException e)
            {
                socket.Dispose();
                throw new ConfigException($"{iface}: cannot capture on it: {e.Message}");
            }
        }

        private static void Join(Socket socket, uint index, ulong mac)
        {
            Span<byte> mreq = stackalloc byte[16];
            mreq.Clear();
            MemoryMarshal.Write(mreq, (int)index);
            MemoryMarshal.Write(mreq[4..], PacketMrMulticast);
            MemoryMarshal.Write(mreq[6..], (ushort)6);
            EthernetHeader.WriteMac(mreq[8..], mac);
            socket.SetRawSocketOption(SolPacket, PacketAddMembership, mreq);
        }

        [LibraryImport("libc", EntryPoint = "if_nametoindex", StringMarshalling = StringMarshalling.Utf8)]
        internal static partial uint IfNameToIndex(string name);
    }

    /// <summary>
    /// struct sockaddr_ll for bind(): family, protocol (network order), interface index; the rest stays zero, which
    /// is what the kernel wants when binding.
    /// </summary>
    internal sealed class LinkLayerEndPoint(int ifindex, ushort protocol) : EndPoint
    {
        private const int Size = 20;

        public override AddressFamily AddressFamily => AddressFamily.Packet;

        public override SocketAddress Serialize()
        {
            // The constructor writes sll_family in the platform's encoding; the fields after it are ours.
            var address = new SocketAddress(AddressFamily.Packet, Size);
            Span<byte> b = address.Buffer.Span;
            BinaryPrimitives.WriteUInt16BigEndian(b[2..], protocol);
            MemoryMarshal.Write(b[4..], ifindex);
            return address;
        }

        public override EndPoint Create(SocketAddress socketAddress) => this;
    }
}
