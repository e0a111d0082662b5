`resetall
`timescale 1ns / 1ps
`default_nettype none

// Header decode: everything the classification of docs/dataplane.md needs from the first 64 bytes
// and the frame length, plus the 105-bit flow key and the low bits of its two bucket hashes.
// Multi-byte fields are big-endian (network order); byte i of the frame is hdr[8*i +: 8].
// The IPv4 header checksum comes summed already (csN: ofl_rx adds the header's words as they arrive,
// {sum at byte 18, sum at byte 14}, 20 bits each); here it is only picked, folded and compared.
//
// The outputs are registered: the header of port `sel` is decoded on the clock edge where `en` is 1
// (the engine's accept), and nothing is computed in other cycles. The whole decode is one function
// evaluated inside the enabled branch, so a simulator does no work for it while no frame arrives.
//
// The hashes are CRC-32 shaped (MSB first, no reflection, no final xor, init 0xFFFFFFFF). A CRC is
// linear over GF(2), so each output bit is the parity of the key ANDed with a constant mask, xored
// with the CRC of the all-zero key; the masks are computed by a constant function at elaboration
// and only the bits that are used (BW bucket bits, 8 slot bits) are computed.
module ofl_decode #(
    parameter BW = 10               // bucket index bits of crc_a / crc_b (1..32)
) (
    input  wire          clk,
    input  wire          en,
    input  wire          sel,       // port whose header is decoded (key bit 104)
    input  wire [511:0]  hdr0,
    input  wire [15:0]   len0,
    input  wire [39:0]   cs0,
    input  wire [511:0]  hdr1,
    input  wire [15:0]   len1,
    input  wire [39:0]   cs1,

    output wire          bcast,
    output wire          mcast,
    output wire          vlan,
    output wire          runt,

    output wire          is_arp,
    output wire          arp_short,      // len < l3 + 28
    output wire          arp_request,    // htype 1, ptype 0x0800, hlen 6, plen 4, oper 1
    output wire [7:0]    sha_crc,        // low 8 bits of CRC-A over the 48 bits of SHA

    output wire          is_ipv4,
    output wire          ip_malformed,   // step 2
    output wire          ip_bad_csum,    // step 3 (IHL 5 only)
    output wire          ip_exception,   // step 5: options or fragment
    output wire          ip_l4_short,    // step 6
    output wire          is_tcp,
    output wire          is_udp,
    output wire [7:0]    ttl,
    output wire [15:0]   ip_csum,
    output wire [7:0]    tcp_flags,
    output wire [15:0]   l4_csum,        // TCP or UDP checksum field, 0 otherwise

    // {port, src_ip, dst_ip, proto, sport, dport}; ports 0 unless TCP/UDP
    output wire [104:0]  key,
    output wire [BW-1:0] crc_a,
    output wire [BW-1:0] crc_b
);

localparam [31:0] POLY_A = 32'h04C11DB7;
localparam [31:0] POLY_B = 32'h1EDC6F41;

// ---------------------------------------------------------------- CRC as a linear map
// Row i (bits [106*i +: 106]) of crc_lin(poly, n): bit 105 = output bit i of the CRC of the all-zero
// n-bit message (init all ones); bits 104..0 = the message bits (bit n-1 fed first) that output bit
// i depends on. Computed symbolically: every CRC state bit is a constant plus a linear form.
function [32*106-1:0] crc_lin;
    input [31:0] poly;
    input integer nbits;
    reg [32*106-1:0] st;
    reg [105:0] fb;
    reg [105:0] unit;
    integer b, r;
    begin
        st = {32*106{1'b0}};
        for (r = 0; r < 32; r = r + 1) begin
            st[106*r + 105] = 1'b1;
        end
        for (b = nbits - 1; b >= 0; b = b - 1) begin
            unit = {106{1'b0}};
            unit[b] = 1'b1;
            fb = st[106*31 +: 106] ^ unit;
            for (r = 31; r >= 1; r = r - 1) begin
                st[106*r +: 106] = st[106*(r-1) +: 106] ^ (poly[r] ? fb : {106{1'b0}});
            end
            st[0 +: 106] = poly[0] ? fb : {106{1'b0}};
        end
        crc_lin = st;
    end
endfunction

localparam [32*106-1:0] LIN_A = crc_lin(POLY_A, 105);
localparam [32*106-1:0] LIN_B = crc_lin(POLY_B, 105);
localparam [32*106-1:0] LIN_S = crc_lin(POLY_A, 48);

function [BW-1:0] hash_a;
    input [40:0] k_hi;     // key bits 104..64
    input [63:0] k_lo;     // key bits 63..0
    integer r;
    begin
        for (r = 0; r < BW; r = r + 1) begin
            hash_a[r] = ^(k_lo & LIN_A[106*r +: 64]) ^ ^(k_hi & LIN_A[106*r + 64 +: 41]) ^ LIN_A[106*r + 105];
        end
    end
endfunction

function [BW-1:0] hash_b;
    input [40:0] k_hi;     // key bits 104..64
    input [63:0] k_lo;     // key bits 63..0
    integer r;
    begin
        for (r = 0; r < BW; r = r + 1) begin
            hash_b[r] = ^(k_lo & LIN_B[106*r +: 64]) ^ ^(k_hi & LIN_B[106*r + 64 +: 41]) ^ LIN_B[106*r + 105];
        end
    end
endfunction

function [7:0] hash_sha;
    input [47:0] m;
    integer r;
    begin
        for (r = 0; r < 8; r = r + 1) begin
            hash_sha[r] = ^(m & LIN_S[106*r +: 48]) ^ LIN_S[106*r + 105];
        end
    end
endfunction

// ---------------------------------------------------------------- decode
// result record (R_* bit positions)
localparam R_BCAST = 0;
localparam R_MCAST = 1;
localparam R_VLAN = 2;
localparam R_RUNT = 3;
localparam R_IS_ARP = 4;
localparam R_ARP_SHORT = 5;
localparam R_ARP_REQ = 6;
localparam R_IS_IPV4 = 7;
localparam R_IP_MAL = 8;
localparam R_IP_CSUM = 9;
localparam R_IP_EXC = 10;
localparam R_IP_L4S = 11;
localparam R_IS_TCP = 12;
localparam R_IS_UDP = 13;
localparam R_SHA_CRC = 16;     // 8
localparam R_TTL = 24;         // 8
localparam R_IP_CSUM_F = 32;   // 16
localparam R_TCP_FLAGS = 48;   // 8
localparam R_L4_CSUM = 56;     // 16
localparam R_KEY = 72;         // 105
localparam R_CRC_A = 177;      // BW
localparam R_CRC_B = 177 + BW; // BW
localparam RW = 177 + 2 * BW;

// byte i from the L3 header on (l3 = 18 behind a VLAN tag, else 14) and big-endian words there;
// macros rather than functions, so no copy of a wide argument is made
`define OFL_L3B(i) (is_vlan ? h[8*(18+(i)) +: 8] : h[8*(14+(i)) +: 8])
`define OFL_L3W(i) {`OFL_L3B(i), `OFL_L3B((i)+1)}

function [RW-1:0] decode;
    // bytes 6..11 (source MAC) are not needed
    /* verilator lint_off UNUSEDSIGNAL */
    input [511:0] h;
    /* verilator lint_on UNUSEDSIGNAL */
    input [15:0]  len;
    input [39:0]  cs;
    input         port;
    reg [47:0] dmac, sha;
    reg is_vlan, bc, tcp, udp, l4p;
    reg [15:0] ethertype, total_len;
    reg [16:0] len17, l3_17, ihl_bytes;
    reg [7:0] ver_ihl;
    reg [5:0] frag_hi;
    reg [3:0] ihl;
    reg [19:0] csum_sum;
    reg [16:0] csum_f1;
    reg [15:0] csum_f2, sp, dp;
    reg [7:0] proto;
    reg [104:0] k;
    begin
        decode = {RW{1'b0}};
        dmac = {h[7:0], h[15:8], h[23:16], h[31:24], h[39:32], h[47:40]};
        bc = dmac == 48'hFFFFFFFFFFFF;
        decode[R_BCAST] = bc;
        decode[R_MCAST] = !bc && dmac[40];
        is_vlan = {h[8*12 +: 8], h[8*13 +: 8]} == 16'h8100;
        decode[R_VLAN] = is_vlan;
        ethertype = is_vlan ? {h[8*16 +: 8], h[8*17 +: 8]} : {h[8*12 +: 8], h[8*13 +: 8]};
        decode[R_RUNT] = len < 16'd14 || (is_vlan && len < 16'd18);
        len17 = {1'b0, len};
        l3_17 = is_vlan ? 17'd18 : 17'd14;

        // ARP
        decode[R_IS_ARP] = ethertype == 16'h0806;
        decode[R_ARP_SHORT] = len17 < l3_17 + 17'd28;
        decode[R_ARP_REQ] = `OFL_L3W(0) == 16'h0001 && `OFL_L3W(2) == 16'h0800 && `OFL_L3B(4) == 8'd6 &&
                            `OFL_L3B(5) == 8'd4 && `OFL_L3W(6) == 16'h0001;
        sha = {`OFL_L3W(8), `OFL_L3W(10), `OFL_L3W(12)};
        decode[R_SHA_CRC +: 8] = hash_sha(sha);

        // IPv4
        decode[R_IS_IPV4] = ethertype == 16'h0800;
        ver_ihl = `OFL_L3B(0);
        ihl = ver_ihl[3:0];
        total_len = `OFL_L3W(2);
        ihl_bytes = {11'd0, ihl, 2'b00};
        decode[R_IP_MAL] = len17 < l3_17 + 17'd20 || ver_ihl[7:4] != 4'd4 || ihl < 4'd5 ||
                           {1'b0, total_len} < ihl_bytes || l3_17 + {1'b0, total_len} > len17;
        csum_sum = is_vlan ? cs[39:20] : cs[19:0];
        csum_f1 = {1'b0, csum_sum[15:0]} + {13'd0, csum_sum[19:16]};
        csum_f2 = csum_f1[15:0] + {15'd0, csum_f1[16]};
        decode[R_IP_CSUM] = ihl == 4'd5 && csum_f2 != 16'hFFFF;
        // MF is bit 13 of the flags/offset word, the offset bits 12..0; bits 15..14 do not count
        frag_hi = is_vlan ? h[8*24 +: 6] : h[8*20 +: 6];
        decode[R_IP_EXC] = ihl > 4'd5 || frag_hi != 6'd0 || `OFL_L3B(7) != 8'd0;
        proto = `OFL_L3B(9);
        tcp = proto == 8'd6;
        udp = proto == 8'd17;
        l4p = tcp || udp;
        decode[R_IS_TCP] = tcp;
        decode[R_IS_UDP] = udp;
        decode[R_IP_L4S] = (tcp && total_len < 16'd40) || (udp && total_len < 16'd28);
        decode[R_TTL +: 8] = `OFL_L3B(8);
        decode[R_IP_CSUM_F +: 16] = `OFL_L3W(10);
        decode[R_TCP_FLAGS +: 8] = `OFL_L3B(33);
        decode[R_L4_CSUM +: 16] = tcp ? `OFL_L3W(36) : udp ? `OFL_L3W(26) : 16'd0;
        sp = l4p ? `OFL_L3W(20) : 16'd0;
        dp = l4p ? `OFL_L3W(22) : 16'd0;
        k = {port, `OFL_L3W(12), `OFL_L3W(14), `OFL_L3W(16), `OFL_L3W(18), proto, sp, dp};
        decode[R_KEY +: 105] = k;
        decode[R_CRC_A +: BW] = hash_a(k[104:64], k[63:0]);
        decode[R_CRC_B +: BW] = hash_b(k[104:64], k[63:0]);
    end
endfunction

`undef OFL_L3B
`undef OFL_L3W

reg [RW-1:0] r_reg;

always @(posedge clk) begin
    if (en) begin
        r_reg <= decode(sel ? hdr1 : hdr0, sel ? len1 : len0, sel ? cs1 : cs0, sel);
    end
end

assign bcast = r_reg[R_BCAST];
assign mcast = r_reg[R_MCAST];
assign vlan = r_reg[R_VLAN];
assign runt = r_reg[R_RUNT];
assign is_arp = r_reg[R_IS_ARP];
assign arp_short = r_reg[R_ARP_SHORT];
assign arp_request = r_reg[R_ARP_REQ];
assign sha_crc = r_reg[R_SHA_CRC +: 8];
assign is_ipv4 = r_reg[R_IS_IPV4];
assign ip_malformed = r_reg[R_IP_MAL];
assign ip_bad_csum = r_reg[R_IP_CSUM];
assign ip_exception = r_reg[R_IP_EXC];
assign ip_l4_short = r_reg[R_IP_L4S];
assign is_tcp = r_reg[R_IS_TCP];
assign is_udp = r_reg[R_IS_UDP];
assign ttl = r_reg[R_TTL +: 8];
assign ip_csum = r_reg[R_IP_CSUM_F +: 16];
assign tcp_flags = r_reg[R_TCP_FLAGS +: 8];
assign l4_csum = r_reg[R_L4_CSUM +: 16];
assign key = r_reg[R_KEY +: 105];
assign crc_a = r_reg[R_CRC_A +: BW];
assign crc_b = r_reg[R_CRC_B +: BW];

wire unused = ^r_reg[15:14];

endmodule

`resetall
