`resetall
`timescale 1ns / 1ps
`default_nettype none

// Header decode (combinational): everything the classification of docs/dataplane.md needs from the
// first 64 bytes and the frame length, plus the 105-bit flow key and its two bucket hashes.
// Multi-byte fields are big-endian (network order); byte i of the frame is hdr[8*i +: 8].
module ofl_decode (
    input  wire [511:0] hdr,
    input  wire [15:0]  len,
    input  wire         port,

    output wire [47:0]  dmac,
    output wire         bcast,
    output wire         mcast,
    output wire         vlan,
    output wire         runt,

    output wire         is_arp,
    output wire         arp_short,      // len < l3 + 28
    output wire         arp_request,    // htype 1, ptype 0x0800, hlen 6, plen 4, oper 1
    output wire [47:0]  arp_sha,
    output wire [31:0]  arp_tpa,
    output wire [31:0]  sha_crc,        // CRC-A over the 48 bits of SHA

    output wire         is_ipv4,
    output wire         ip_malformed,   // step 2
    output wire         ip_bad_csum,    // step 3 (IHL 5 only)
    output wire         ip_exception,   // step 5: options or fragment
    output wire         ip_l4_short,    // step 6
    output wire         is_tcp,
    output wire         is_udp,
    output wire [7:0]   proto,
    output wire [7:0]   ttl,
    output wire [15:0]  ip_csum,
    output wire [31:0]  src_ip,
    output wire [31:0]  dst_ip,
    output wire [15:0]  sport,          // 0 unless TCP/UDP
    output wire [15:0]  dport,
    output wire [7:0]   tcp_flags,
    output wire [15:0]  l4_csum,        // TCP or UDP checksum field, 0 otherwise

    output wire [104:0] key,
    output wire [31:0]  crc_a,
    output wire [31:0]  crc_b
);

localparam [31:0] POLY_A = 32'h04C11DB7;
localparam [31:0] POLY_B = 32'h1EDC6F41;

// MSB-first CRC-32 shape: no reflection, no final xor, init all ones (docs/dataplane.md)
function [31:0] crc_step;
    input [31:0] crc;
    input        b;
    input [31:0] poly;
    begin
        crc_step = {crc[30:0], 1'b0} ^ ((crc[31] ^ b) ? poly : 32'd0);
    end
endfunction

function [31:0] crc105;
    input [104:0] bits;
    input [31:0]  poly;
    integer i;
    begin
        crc105 = 32'hFFFFFFFF;
        for (i = 104; i >= 0; i = i - 1) begin
            crc105 = crc_step(crc105, bits[i], poly);
        end
    end
endfunction

function [31:0] crc48;
    input [47:0] bits;
    input [31:0] poly;
    integer i;
    begin
        crc48 = 32'hFFFFFFFF;
        for (i = 47; i >= 0; i = i - 1) begin
            crc48 = crc_step(crc48, bits[i], poly);
        end
    end
endfunction

// bytes from the start of the frame
function [7:0] fb;
    input [511:0] h;
    input integer i;
    begin
        fb = h[8*i +: 8];
    end
endfunction

assign dmac = {fb(hdr, 0), fb(hdr, 1), fb(hdr, 2), fb(hdr, 3), fb(hdr, 4), fb(hdr, 5)};
assign bcast = dmac == 48'hFFFFFFFFFFFF;
assign mcast = !bcast && dmac[40];

wire [15:0] tpid = {fb(hdr, 12), fb(hdr, 13)};
assign vlan = tpid == 16'h8100;
wire [15:0] ethertype = vlan ? {fb(hdr, 16), fb(hdr, 17)} : tpid;
assign runt = len < 16'd14 || (vlan && len < 16'd18);
wire [4:0] l3 = vlan ? 5'd18 : 5'd14;

// the 46 bytes from the L3 header on: every L3/L4 field lies at a fixed offset in it
wire [367:0] l3b = vlan ? hdr[8*18 +: 368] : hdr[8*14 +: 368];

function [7:0] lb;
    input [367:0] v;
    input integer i;
    begin
        lb = v[8*i +: 8];
    end
endfunction

function [15:0] lw;
    input [367:0] v;
    input integer i;
    begin
        lw = {v[8*i +: 8], v[8*(i+1) +: 8]};
    end
endfunction

function [31:0] ld;
    input [367:0] v;
    input integer i;
    begin
        ld = {lw(v, i), lw(v, i + 2)};
    end
endfunction

wire [16:0] len17 = {1'b0, len};
wire [16:0] l3_17 = {12'd0, l3};

// ARP
assign is_arp = ethertype == 16'h0806;
assign arp_short = len17 < l3_17 + 17'd28;
assign arp_request = lw(l3b, 0) == 16'h0001 && lw(l3b, 2) == 16'h0800 && lb(l3b, 4) == 8'd6 &&
                     lb(l3b, 5) == 8'd4 && lw(l3b, 6) == 16'h0001;
assign arp_sha = {lw(l3b, 8), ld(l3b, 10)};
assign arp_tpa = ld(l3b, 24);
assign sha_crc = crc48(arp_sha, POLY_A);

// IPv4
assign is_ipv4 = ethertype == 16'h0800;
wire [7:0] ver_ihl = lb(l3b, 0);
wire [3:0] version = ver_ihl[7:4];
wire [3:0] ihl = ver_ihl[3:0];
wire [15:0] total_len = lw(l3b, 2);
wire [16:0] ihl_bytes = {11'd0, ihl, 2'b00};
assign ip_malformed = len17 < l3_17 + 17'd20 || version != 4'd4 || ihl < 4'd5 ||
                      {1'b0, total_len} < ihl_bytes || l3_17 + {1'b0, total_len} > len17;

reg [19:0] csum_sum;
integer k;
always @* begin
    csum_sum = 20'd0;
    for (k = 0; k < 10; k = k + 1) begin
        csum_sum = csum_sum + {4'd0, lw(l3b, 2 * k)};
    end
end
wire [16:0] csum_f1 = {1'b0, csum_sum[15:0]} + {13'd0, csum_sum[19:16]};
wire [15:0] csum_f2 = csum_f1[15:0] + {15'd0, csum_f1[16]};
assign ip_bad_csum = ihl == 4'd5 && csum_f2 != 16'hFFFF;

// MF is bit 13 of the flags/offset word, the offset bits 12..0; bits 15..14 (reserved, DF) do not count
wire [5:0] frag_hi = l3b[8*6 +: 6];
wire [7:0] frag_lo = lb(l3b, 7);
assign ip_exception = ihl > 4'd5 || frag_hi[5] || frag_hi[4:0] != 5'd0 || frag_lo != 8'd0;

assign proto = lb(l3b, 9);
assign is_tcp = proto == 8'd6;
assign is_udp = proto == 8'd17;
assign ip_l4_short = (is_tcp && total_len < 16'd40) || (is_udp && total_len < 16'd28);
assign ttl = lb(l3b, 8);
assign ip_csum = lw(l3b, 10);
assign src_ip = ld(l3b, 12);
assign dst_ip = ld(l3b, 16);
wire l4_ports = is_tcp || is_udp;
assign sport = l4_ports ? lw(l3b, 20) : 16'd0;
assign dport = l4_ports ? lw(l3b, 22) : 16'd0;
assign tcp_flags = lb(l3b, 33);
assign l4_csum = is_tcp ? lw(l3b, 36) : is_udp ? lw(l3b, 26) : 16'd0;

assign key = {port, src_ip, dst_ip, proto, sport, dport};
assign crc_a = crc105(key, POLY_A);
assign crc_b = crc105(key, POLY_B);

endmodule

`resetall
