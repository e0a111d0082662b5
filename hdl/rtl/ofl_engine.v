`resetall
`timescale 1ns / 1ps
`default_nettype none

// The shared lookup engine. One descriptor per cycle from the two ingress ports (round-robin when
// both wait), a fixed pipeline, one decision per descriptor written into the ingress port's
// decision FIFO LATENCY cycles after it was accepted:
//
//   accept  decode (ofl_decode), destination class (port MAC, vMAC CAM), group VIP match   -> A
//   A       classification up to the lookup, bucket hashes -> 8 way memories, slot table,
//           stash compare, round-robin pointer                                               -> B
//   B       way compare, lowest index wins, TTL / FIN-RST; LAST_SEEN write; next-hop and
//           ARP reply counter reads                                                          -> C
//   C       ARP reply counter write (forwarded for back-to-back updates), checksum updates,
//           header buffer read                                                               -> D
//   D       header splice, decision write, counter pulses
//
// CSR table accesses freeze the whole pipeline for two cycles: in the first the CSR owns the
// memory ports, in the second every read port re-reads the address of the item that waits on it
// (the CSR read clobbered its output register). Only then is the latency longer than LATENCY.
module ofl_engine #(
    parameter FT_BUCKETS = 1024,
    parameter FT_STASH = 4,
    parameter GROUPS = 16,
    parameter VMACS = 64,
    parameter NEXTHOPS = 256
) (
    input  wire                 clk,
    input  wire                 rst,

    input  wire [511:0]         s_desc0_hdr,
    input  wire [15:0]          s_desc0_len,
    input  wire                 s_desc0_ovs,
    input  wire                 s_desc0_valid,
    output wire                 s_desc0_ready,
    input  wire [511:0]         s_desc1_hdr,
    input  wire [15:0]          s_desc1_len,
    input  wire                 s_desc1_ovs,
    input  wire                 s_desc1_valid,
    output wire                 s_desc1_ready,

    // decision for the port's decision FIFO (layout: see DEC_* below and ofl_dispatch)
    output wire [588:0]         m_dec_data,     // DEC_W bits
    output wire                 m_dec_valid0,
    output wire                 m_dec_valid1,

    // configuration (CSR block)
    input  wire [47:0]          port_mac0,
    input  wire [47:0]          port_mac1,
    input  wire [VMACS-1:0]     vmac_valid,
    input  wire [VMACS*48-1:0]  vmac_addr,
    input  wire [GROUPS-1:0]    grp_en,
    input  wire [GROUPS-1:0]    grp_mode,
    input  wire [GROUPS-1:0]    grp_copy,
    input  wire [GROUPS*10-1:0] grp_gid,
    input  wire [GROUPS*32-1:0] grp_vip,
    input  wire [31:0]          sync_port,
    input  wire [31:0]          now_ts,
    input  wire                 rr_clr,
    input  wire [5:0]           rr_clr_grp,

    // table access from the CSR block; tbl_req is held until tbl_done
    input  wire                 tbl_req,
    input  wire [3:0]           tbl_op,
    input  wire [31:0]          tbl_idx,
    input  wire [164:0]         tbl_ft_w,
    input  wire [96:0]          tbl_nh_w,
    input  wire [31:0]          tbl_w32,
    output wire                 tbl_done,
    output reg  [164:0]         tbl_ft_r,
    output wire [31:0]          tbl_ls_r,
    output wire [96:0]          tbl_nh_r,
    output reg  [31:0]          tbl_r32,

    // per-port counter increments (OFL_CNT_* bit positions) for port cnt_port
    output wire [15:0]          cnt_vec,
    output wire                 cnt_port,

    output wire                 busy
);

`include "offload_regs.vh"

// decision record
localparam DEC_HDR = 0;
localparam DEC_LEN = 512;
localparam DEC_HAS_DATA = 528;
localparam DEC_FWD = 529;
localparam DEC_FWD_PORT = 530;
localparam DEC_ARP = 531;
localparam DEC_HOST = 532;
localparam DEC_EVENT = 533;
localparam DEC_REASON = 534;
localparam DEC_AUX = 538;
localparam DEC_GID = 570;
localparam DEC_FWDR = 580;
localparam DEC_VLAN = 588;
localparam DEC_W = 589;

// table operations (ofl_csr issues them)
localparam [3:0] OP_FT_WRITE = 4'd1;
// OP_FT_READ (2) and OP_NH_READ (5) need nothing but the F1 reads every access does
localparam [3:0] OP_FT_INV = 4'd3;
localparam [3:0] OP_NH_WRITE = 4'd4;
localparam [3:0] OP_SLOT_WRITE = 4'd6;
localparam [3:0] OP_SLOT_READ = 4'd7;
localparam [3:0] OP_CNT_WRITE = 4'd8;
localparam [3:0] OP_CNT_READ = 4'd9;

localparam BW = $clog2(FT_BUCKETS);
localparam FT_MAIN = 2 * FT_BUCKETS * 4;
localparam FT_ENTRIES = FT_MAIN + FT_STASH;
localparam FIW = $clog2(FT_ENTRIES);
localparam SW = FT_STASH > 1 ? $clog2(FT_STASH) : 1;
localparam GW = $clog2(GROUPS);
localparam SAW = GW + 8;
localparam NHW = $clog2(NEXTHOPS);

localparam [1:0] K_DROP = 2'd0;
localparam [1:0] K_HOST = 2'd1;
localparam [1:0] K_ARP = 2'd2;
localparam [1:0] K_FWD = 2'd3;     // before stage B: "look the flow up"

// entry: valid, key(105), nh(8), ttl_dec, nat(2), nat_ip(32), nat_port(16)
localparam E_VALID = 164;
localparam E_KEY = 59;
localparam E_NH = 51;
localparam E_TTL = 50;
localparam E_NAT = 48;
localparam E_NATIP = 16;
localparam E_NATPORT = 0;

`ifndef SYNTHESIS
// parameter checks (simulation and lint; synthesis tools skip them)
initial begin
    if (FT_BUCKETS < 2 || (FT_BUCKETS & (FT_BUCKETS - 1)) != 0 || FT_BUCKETS > (1 << 20)) begin
        $error("ofl_engine: FT_BUCKETS must be a power of two, 2..2^20");
        $finish;
    end
    if (FT_STASH < 1 || FT_STASH > 16) begin
        $error("ofl_engine: FT_STASH must be 1..16");
        $finish;
    end
    if (GROUPS < 2 || GROUPS > 64 || (GROUPS & (GROUPS - 1)) != 0) begin
        $error("ofl_engine: GROUPS must be a power of two, 2..64");
        $finish;
    end
    if (VMACS < 1 || VMACS > 128) begin
        $error("ofl_engine: VMACS must be 1..128");
        $finish;
    end
    if (NEXTHOPS < 2 || NEXTHOPS > 256 || (NEXTHOPS & (NEXTHOPS - 1)) != 0) begin
        $error("ofl_engine: NEXTHOPS must be a power of two, 2..256");
        $finish;
    end
end
`endif

// ---------------------------------------------------------------- freeze for CSR table accesses
reg f2_reg = 1'b0;
wire f1 = tbl_req && !f2_reg;
wire adv = !(f1 || f2_reg);
assign tbl_done = f2_reg;

wire [3:0] op = tbl_op;
wire csr_ft_main = tbl_idx < FT_MAIN;
wire csr_ft_stash = !csr_ft_main && tbl_idx < FT_ENTRIES;
wire [2:0] csr_ft_mem = {tbl_idx[BW+2], tbl_idx[1:0]};
wire [BW-1:0] csr_ft_bkt = tbl_idx[BW+1:2];
// FT_MAIN is a multiple of 16 and FT_STASH at most 16, so the low index bits are the stash slot
wire [SW-1:0] csr_stash = tbl_idx[SW-1:0];
wire csr_slot_ok = tbl_idx < GROUPS * 256;
wire csr_nh_ok = tbl_idx < NEXTHOPS;

// ---------------------------------------------------------------- accept + decode
reg rr_in_reg = 1'b0;
wire grant0 = adv && s_desc0_valid && (!s_desc1_valid || !rr_in_reg);
wire grant1 = adv && s_desc1_valid && (!s_desc0_valid || rr_in_reg);
wire accept = grant0 || grant1;
assign s_desc0_ready = grant0;
assign s_desc1_ready = grant1;

wire [511:0] in_hdr = grant1 ? s_desc1_hdr : s_desc0_hdr;
wire [15:0] in_len = grant1 ? s_desc1_len : s_desc0_len;
wire in_ovs = grant1 ? s_desc1_ovs : s_desc0_ovs;
wire in_port = grant1;

wire [47:0] d_dmac;
wire d_bcast, d_mcast, d_vlan, d_runt, d_is_arp, d_arp_short, d_arp_request;
wire [47:0] d_arp_sha;
wire [31:0] d_arp_tpa, d_sha_crc;
wire d_is_ipv4, d_ip_malformed, d_ip_bad_csum, d_ip_exception, d_ip_l4_short, d_is_tcp, d_is_udp;
wire [7:0] d_proto, d_ttl, d_tcp_flags;
wire [15:0] d_ip_csum, d_sport, d_dport, d_l4_csum;
wire [31:0] d_src_ip, d_dst_ip, d_crc_a, d_crc_b;
wire [104:0] d_key;

ofl_decode u_decode (
    .hdr(in_hdr), .len(in_len), .port(in_port),
    .dmac(d_dmac), .bcast(d_bcast), .mcast(d_mcast), .vlan(d_vlan), .runt(d_runt),
    .is_arp(d_is_arp), .arp_short(d_arp_short), .arp_request(d_arp_request),
    .arp_sha(d_arp_sha), .arp_tpa(d_arp_tpa), .sha_crc(d_sha_crc),
    .is_ipv4(d_is_ipv4), .ip_malformed(d_ip_malformed), .ip_bad_csum(d_ip_bad_csum),
    .ip_exception(d_ip_exception), .ip_l4_short(d_ip_l4_short), .is_tcp(d_is_tcp), .is_udp(d_is_udp),
    .proto(d_proto), .ttl(d_ttl), .ip_csum(d_ip_csum), .src_ip(d_src_ip), .dst_ip(d_dst_ip),
    .sport(d_sport), .dport(d_dport), .tcp_flags(d_tcp_flags), .l4_csum(d_l4_csum),
    .key(d_key), .crc_a(d_crc_a), .crc_b(d_crc_b)
);

// the key is rebuilt from its fields after stage A; d_key only feeds the hashes
wire unused_key = ^{d_key, d_arp_sha, d_crc_a[31:BW], d_crc_b[31:BW], d_sha_crc[31:8]};

wire own_match = d_dmac == (in_port ? port_mac1 : port_mac0);
reg vmac_match;
reg grp_hit;
reg [GW-1:0] grp_idx;
integer i;
always @* begin
    vmac_match = 1'b0;
    for (i = 0; i < VMACS; i = i + 1) begin
        if (vmac_valid[i] && vmac_addr[48*i +: 48] == d_dmac) begin
            vmac_match = 1'b1;
        end
    end
    // lowest enabled group index wins
    grp_hit = 1'b0;
    grp_idx = 0;
    for (i = GROUPS - 1; i >= 0; i = i - 1) begin
        if (grp_en[i] && grp_vip[32*i +: 32] == d_arp_tpa) begin
            grp_hit = 1'b1;
            grp_idx = i[GW-1:0];
        end
    end
end

// ---------------------------------------------------------------- stage A registers
reg v_a = 1'b0;
reg port_a, ovs_a, bcast_a, mcast_a, own_a, vmac_a, vlan_a, runt_a;
reg is_arp_a, arp_short_a, arp_req_a, grp_hit_a;
reg [GW-1:0] grp_a;
reg [7:0] sha_crc_a;
reg is_ipv4_a, ip_mal_a, ip_csum_a, ip_exc_a, ip_l4s_a, is_tcp_a, is_udp_a;
reg [15:0] len_a;
reg [7:0] proto_a, ttl_a, flags_a;
reg [15:0] ipcs_a, sport_a, dport_a, l4cs_a;
reg [31:0] sip_a, dip_a;
reg [BW-1:0] bkt_a_a, bkt_b_a;
reg [2:0] tag_a;
reg [2:0] tag_reg = 3'd0;

reg [511:0] hdr_buf[0:7];

always @(posedge clk) begin
    if (adv) begin
        v_a <= accept;
        rr_in_reg <= accept ? !in_port : rr_in_reg;
        tag_reg <= tag_reg + {2'd0, accept};
        port_a <= in_port;
        len_a <= in_len;
        ovs_a <= in_ovs;
        tag_a <= tag_reg;
        bcast_a <= d_bcast;
        mcast_a <= d_mcast;
        own_a <= !d_bcast && !d_mcast && own_match;
        vmac_a <= !d_bcast && !d_mcast && !own_match && vmac_match;
        vlan_a <= d_vlan;
        runt_a <= d_runt;
        is_arp_a <= d_is_arp;
        arp_short_a <= d_arp_short;
        arp_req_a <= d_arp_request;
        grp_hit_a <= grp_hit;
        grp_a <= grp_idx;
        sha_crc_a <= d_sha_crc[7:0];
        is_ipv4_a <= d_is_ipv4;
        ip_mal_a <= d_ip_malformed;
        ip_csum_a <= d_ip_bad_csum;
        ip_exc_a <= d_ip_exception;
        ip_l4s_a <= d_ip_l4_short;
        is_tcp_a <= d_is_tcp;
        is_udp_a <= d_is_udp;
        proto_a <= d_proto;
        ttl_a <= d_ttl;
        flags_a <= d_tcp_flags;
        ipcs_a <= d_ip_csum;
        sip_a <= d_src_ip;
        dip_a <= d_dst_ip;
        sport_a <= d_sport;
        dport_a <= d_dport;
        l4cs_a <= d_l4_csum;
        bkt_a_a <= d_crc_a[BW-1:0];
        bkt_b_a <= d_crc_b[BW-1:0];
        if (accept) begin
            hdr_buf[tag_reg] <= in_hdr;
        end
    end
    if (rst) begin
        v_a <= 1'b0;
        rr_in_reg <= 1'b0;
        tag_reg <= 3'd0;
    end
end

// ---------------------------------------------------------------- stage A: classify
wire other_a = !(bcast_a || mcast_a || own_a || vmac_a);
reg [1:0] kind_an;
reg [3:0] dcnt_an;     // drop counter index
reg [3:0] reason_an;
always @* begin
    kind_an = K_DROP;
    dcnt_an = `OFL_CNT_DROP_NOT_FOR_US;
    reason_an = 4'd0;
    if (ovs_a) begin
        dcnt_an = `OFL_CNT_DROP_OVERSIZE;
    end else if (runt_a) begin
        dcnt_an = `OFL_CNT_DROP_RUNT;
    end else if (is_arp_a) begin
        if (arp_short_a) begin
            dcnt_an = `OFL_CNT_DROP_MALFORMED;
        end else if (arp_req_a && (bcast_a || own_a || vmac_a) && grp_hit_a) begin
            kind_an = K_ARP;
        end else if (!other_a) begin
            kind_an = K_HOST;
            reason_an = `OFL_REASON_ARP;
        end
    end else if (is_ipv4_a) begin
        if (other_a) begin
            dcnt_an = `OFL_CNT_DROP_NOT_FOR_US;
        end else if (ip_mal_a) begin
            dcnt_an = `OFL_CNT_DROP_MALFORMED;
        end else if (ip_csum_a) begin
            dcnt_an = `OFL_CNT_DROP_BAD_CSUM;
        end else if (bcast_a || mcast_a) begin
            kind_an = K_HOST;
            reason_an = `OFL_REASON_BCAST;
        end else if (ip_exc_a) begin
            kind_an = K_HOST;
            reason_an = `OFL_REASON_EXCEPTION;
        end else if (ip_l4s_a) begin
            dcnt_an = `OFL_CNT_DROP_MALFORMED;
        end else if (is_udp_a && (dport_a == `OFL_GLBP_PORT || {16'd0, dport_a} == sync_port)) begin
            kind_an = K_HOST;
            reason_an = `OFL_REASON_PROTO;
        end else begin
            kind_an = K_FWD;
        end
    end else if (!other_a) begin
        kind_an = K_HOST;
        reason_an = `OFL_REASON_OTHER;
    end
end

// round-robin pointers (flops, reset) and the slot table address
reg [7:0] rr_ptr[0:GROUPS-1];
wire mode_a = grp_mode[grp_a];
wire [7:0] rr_a = rr_ptr[grp_a];
wire [SAW-1:0] slot_addr_an = {grp_a, mode_a ? sha_crc_a : rr_a};

always @(posedge clk) begin
    if (adv && v_a && kind_an == K_ARP && !mode_a) begin
        rr_ptr[grp_a] <= rr_a + 8'd1;
    end
    if (rr_clr) begin
        rr_ptr[rr_clr_grp[GW-1:0]] <= 8'd0;
    end
    if (rst) begin
        for (i = 0; i < GROUPS; i = i + 1) begin
            rr_ptr[i] <= 8'd0;
        end
    end
end
wire unused_rr_clr = ^rr_clr_grp;

wire [104:0] key_a = {port_a, sip_a, dip_a, proto_a, sport_a, dport_a};

// stash: flops
reg [164:0] stash[0:FT_STASH-1];
reg [FT_STASH-1:0] stash_m_an;
always @* begin
    for (i = 0; i < FT_STASH; i = i + 1) begin
        stash_m_an[i] = stash[i][E_VALID] && stash[i][E_KEY +: 105] == key_a;
    end
end

// ---------------------------------------------------------------- stage B registers + memories
reg v_b = 1'b0;
reg port_b, ovs_b, vlan_b, copy_b, is_tcp_b, is_udp_b;
reg [15:0] len_b;
reg [2:0] tag_b;
reg [1:0] kind_b;
reg [3:0] dcnt_b, reason_b;
reg [GW-1:0] grp_b;
reg [9:0] gid_b;
reg [7:0] proto_b, ttl_b, flags_b;
reg [15:0] ipcs_b, sport_b, dport_b, l4cs_b;
reg [31:0] sip_b, dip_b;
reg [BW-1:0] bkt_a_b, bkt_b_b;
reg [SAW-1:0] slot_addr_b;
reg [FT_STASH-1:0] stash_m_b;

always @(posedge clk) begin
    if (adv) begin
        v_b <= v_a;
        port_b <= port_a;
        ovs_b <= ovs_a;
        len_b <= len_a;
        tag_b <= tag_a;
        kind_b <= kind_an;
        dcnt_b <= dcnt_an;
        reason_b <= reason_an;
        grp_b <= grp_a;
        copy_b <= grp_copy[grp_a];
        gid_b <= grp_gid[10*grp_a +: 10];
        vlan_b <= vlan_a;
        is_tcp_b <= is_tcp_a;
        is_udp_b <= is_udp_a;
        proto_b <= proto_a;
        ttl_b <= ttl_a;
        flags_b <= flags_a;
        ipcs_b <= ipcs_a;
        sip_b <= sip_a;
        dip_b <= dip_a;
        sport_b <= sport_a;
        dport_b <= dport_a;
        l4cs_b <= l4cs_a;
        bkt_a_b <= bkt_a_a;
        bkt_b_b <= bkt_b_a;
        slot_addr_b <= slot_addr_an;
        stash_m_b <= stash_m_an;
    end
    if (rst) begin
        v_b <= 1'b0;
    end
end

// flow table ways: memory m = sub * 4 + way, one synchronous read per cycle each
wire [164:0] ft_q[0:7];
genvar gm;
generate
    for (gm = 0; gm < 8; gm = gm + 1) begin : way
        reg [164:0] mem[0:FT_BUCKETS-1];
        reg [164:0] q;
        integer n;
        initial begin
            for (n = 0; n < FT_BUCKETS; n = n + 1) begin
                mem[n] = 165'd0;
            end
        end
        wire [BW-1:0] eng_addr = gm < 4 ? bkt_a_a : bkt_b_a;
        wire [BW-1:0] rep_addr = gm < 4 ? bkt_a_b : bkt_b_b;
        wire [BW-1:0] rd_addr = f1 ? csr_ft_bkt : f2_reg ? rep_addr : eng_addr;
        wire sel = csr_ft_main && csr_ft_mem == gm;
        wire we = sel && ((f1 && op == OP_FT_WRITE) || (f2_reg && op == OP_FT_INV));
        // invalidate is a read-modify-write: read in F1, write back without the valid bit in F2
        wire [164:0] wdata = op == OP_FT_INV ? {1'b0, q[163:0]} : tbl_ft_w;
        always @(posedge clk) begin
            q <= mem[rd_addr];
            if (we) begin
                mem[csr_ft_bkt] <= wdata;
            end
        end
        assign ft_q[gm] = q;
    end
endgenerate

// stash writes from the CSR
always @(posedge clk) begin
    if (csr_ft_stash && f1 && op == OP_FT_WRITE) begin
        stash[csr_stash] <= tbl_ft_w;
    end
    if (csr_ft_stash && f1 && op == OP_FT_INV) begin
        stash[csr_stash][E_VALID] <= 1'b0;
    end
    if (rst) begin
        for (i = 0; i < FT_STASH; i = i + 1) begin
            stash[i][E_VALID] <= 1'b0;
        end
    end
end

// ARP slot table: GROUPS * 256 forwarder numbers
reg [7:0] slot_mem[0:GROUPS*256-1];
reg [7:0] slot_q;
integer n;
initial begin
    for (n = 0; n < GROUPS * 256; n = n + 1) begin
        slot_mem[n] = 8'd0;
    end
end
wire [SAW-1:0] slot_rd_addr = f1 ? tbl_idx[SAW-1:0] : f2_reg ? slot_addr_b : slot_addr_an;
always @(posedge clk) begin
    slot_q <= slot_mem[slot_rd_addr];
    if (f1 && op == OP_SLOT_WRITE && csr_slot_ok) begin
        slot_mem[tbl_idx[SAW-1:0]] <= tbl_w32[7:0];
    end
end

// ---------------------------------------------------------------- stage B: flow compare
wire [104:0] key_b = {port_b, sip_b, dip_b, proto_b, sport_b, dport_b};
reg hit_bn;
reg [FIW-1:0] hit_idx_bn;
reg [164:0] hit_e_bn;
reg [BW+2:0] main_idx;
always @* begin
    hit_bn = 1'b0;
    hit_idx_bn = 0;
    hit_e_bn = 165'd0;
    main_idx = 0;
    // scan from the highest index down so the lowest matching index is the one left
    for (i = FT_STASH - 1; i >= 0; i = i - 1) begin
        if (stash_m_b[i]) begin
            hit_bn = 1'b1;
            hit_idx_bn = FT_MAIN[FIW-1:0] + i[FIW-1:0];
            hit_e_bn = stash[i];
        end
    end
    for (i = 7; i >= 0; i = i - 1) begin
        if (ft_q[i][E_VALID] && ft_q[i][E_KEY +: 105] == key_b) begin
            hit_bn = 1'b1;
            main_idx = {i[2], i < 4 ? bkt_a_b : bkt_b_b, i[1:0]};
            hit_idx_bn = {{(FIW-BW-3){1'b0}}, main_idx};
            hit_e_bn = ft_q[i];
        end
    end
end

wire hit_ttl_dec = hit_e_bn[E_TTL];
wire expired_bn = hit_ttl_dec && ttl_b <= 8'd1;
wire fin_bn = is_tcp_b && (flags_b[0] || flags_b[2]);
wire [31:0] hit_idx32 = {{(32-FIW){1'b0}}, hit_idx_bn};

reg [1:0] kind_bn;
reg [3:0] reason_bn;
reg [31:0] aux_bn;
reg event_bn;
reg [15:0] cnt_bn;
always @* begin
    kind_bn = kind_b;
    reason_bn = reason_b;
    aux_bn = 32'd0;
    event_bn = 1'b0;
    cnt_bn = 16'd0;
    case (kind_b)
        K_DROP: cnt_bn[dcnt_b] = 1'b1;
        K_ARP: begin
            cnt_bn[`OFL_CNT_ARP_REPLIES] = 1'b1;
            reason_bn = `OFL_REASON_ARP_COPY;
            aux_bn = {{(32-GW){1'b0}}, grp_b};
        end
        K_FWD: begin
            if (!hit_bn) begin
                kind_bn = K_HOST;
                reason_bn = `OFL_REASON_MISS;
                cnt_bn[`OFL_CNT_FT_MISS] = 1'b1;
            end else begin
                cnt_bn[`OFL_CNT_FT_HIT] = 1'b1;
                if (expired_bn) begin
                    kind_bn = K_HOST;
                    reason_bn = `OFL_REASON_TTL;
                    aux_bn = hit_idx32;
                    cnt_bn[`OFL_CNT_TTL_EXPIRED] = 1'b1;
                end else if (fin_bn) begin
                    event_bn = 1'b1;
                    reason_bn = `OFL_REASON_FIN_RST;
                    aux_bn = {flags_b, hit_idx32[23:0]};
                    cnt_bn[`OFL_CNT_FIN_RST] = 1'b1;
                end
            end
        end
        default: ;
    endcase
end

// LAST_SEEN: written on every hit and by FT_CMD WRITE; read only by FT_CMD READ
reg [31:0] ls_mem[0:FT_ENTRIES-1];
reg [31:0] ls_q;
initial begin
    for (n = 0; n < FT_ENTRIES; n = n + 1) begin
        ls_mem[n] = 32'd0;
    end
end
wire ls_eng_we = adv && v_b && kind_b == K_FWD && hit_bn;
wire ls_csr_we = f1 && op == OP_FT_WRITE && (csr_ft_main || csr_ft_stash);
wire [FIW-1:0] ls_waddr = ls_csr_we ? tbl_idx[FIW-1:0] : hit_idx_bn;
always @(posedge clk) begin
    if (ls_eng_we || ls_csr_we) begin
        ls_mem[ls_waddr] <= now_ts;
    end
    if (f1) begin
        ls_q <= ls_mem[tbl_idx[FIW-1:0]];
    end
end

// ---------------------------------------------------------------- stage C registers + memories
reg v_c = 1'b0;
reg port_c, ovs_c, vlan_c, copy_c, is_tcp_c, is_udp_c, event_c, ttl_dec_c;
reg [15:0] len_c;
reg [2:0] tag_c;
reg [1:0] kind_c;
reg [3:0] reason_c;
reg [31:0] aux_c;
reg [15:0] cnt_c;
reg [9:0] gid_c;
reg [7:0] fwdr_c, proto_c, ttl_c;
reg [15:0] ipcs_c, sport_c, dport_c, l4cs_c, natport_c;
reg [31:0] sip_c, dip_c, natip_c;
reg [1:0] nat_c;
reg [NHW-1:0] nh_addr_c;
reg [SAW-1:0] cnt_addr_c;

wire [NHW-1:0] nh_addr_bn = hit_e_bn[E_NH +: NHW];
wire [SAW-1:0] cnt_addr_bn = {grp_b, slot_q};
wire unused_nh = ^hit_e_bn;

always @(posedge clk) begin
    if (adv) begin
        v_c <= v_b;
        port_c <= port_b;
        ovs_c <= ovs_b;
        len_c <= len_b;
        tag_c <= tag_b;
        kind_c <= kind_bn;
        reason_c <= reason_bn;
        aux_c <= aux_bn;
        event_c <= event_bn;
        cnt_c <= cnt_bn;
        copy_c <= copy_b;
        gid_c <= gid_b;
        fwdr_c <= slot_q;
        vlan_c <= vlan_b;
        is_tcp_c <= is_tcp_b;
        is_udp_c <= is_udp_b;
        proto_c <= proto_b;
        ttl_c <= ttl_b;
        ipcs_c <= ipcs_b;
        sip_c <= sip_b;
        dip_c <= dip_b;
        sport_c <= sport_b;
        dport_c <= dport_b;
        l4cs_c <= l4cs_b;
        ttl_dec_c <= hit_ttl_dec;
        nat_c <= hit_e_bn[E_NAT +: 2];
        natip_c <= hit_e_bn[E_NATIP +: 32];
        natport_c <= hit_e_bn[E_NATPORT +: 16];
        nh_addr_c <= nh_addr_bn;
        cnt_addr_c <= cnt_addr_bn;
    end
    if (rst) begin
        v_c <= 1'b0;
    end
end

// next hops: port, dmac, smac
reg [96:0] nh_mem[0:NEXTHOPS-1];
reg [96:0] nh_q;
initial begin
    for (n = 0; n < NEXTHOPS; n = n + 1) begin
        nh_mem[n] = 97'd0;
    end
end
wire [NHW-1:0] nh_rd_addr = f1 ? tbl_idx[NHW-1:0] : f2_reg ? nh_addr_c : nh_addr_bn;
always @(posedge clk) begin
    nh_q <= nh_mem[nh_rd_addr];
    if (f1 && op == OP_NH_WRITE && csr_nh_ok) begin
        nh_mem[tbl_idx[NHW-1:0]] <= tbl_nh_w;
    end
end

// ARP reply counters per (group, forwarder): read in B, incremented and written in C
reg [31:0] cnt_mem[0:GROUPS*256-1];
reg [31:0] cnt_q;
initial begin
    for (n = 0; n < GROUPS * 256; n = n + 1) begin
        cnt_mem[n] = 32'd0;
    end
end
reg fwd_v_reg = 1'b0;
reg [SAW-1:0] fwd_addr_reg;
reg [31:0] fwd_data_reg;
// the write of the item just ahead lands on the same edge as this item's read: forward it
wire [31:0] cnt_old = fwd_v_reg && fwd_addr_reg == cnt_addr_c ? fwd_data_reg : cnt_q;
wire [31:0] cnt_new = cnt_old + 32'd1;
wire cnt_eng_we = adv && v_c && kind_c == K_ARP;
wire cnt_csr_we = f1 && op == OP_CNT_WRITE && csr_slot_ok;
wire [SAW-1:0] cnt_rd_addr = f1 ? tbl_idx[SAW-1:0] : f2_reg ? cnt_addr_c : cnt_addr_bn;
always @(posedge clk) begin
    cnt_q <= cnt_mem[cnt_rd_addr];
    if (cnt_eng_we) begin
        cnt_mem[cnt_addr_c] <= cnt_new;
    end else if (cnt_csr_we) begin
        cnt_mem[tbl_idx[SAW-1:0]] <= tbl_w32;
    end
end
always @(posedge clk) begin
    if (adv) begin
        fwd_v_reg <= cnt_eng_we;
        fwd_addr_reg <= cnt_addr_c;
        fwd_data_reg <= cnt_new;
    end else if (f2_reg) begin
        fwd_v_reg <= 1'b0;
    end
    if (rst) begin
        fwd_v_reg <= 1'b0;
    end
end

// ---------------------------------------------------------------- stage C: checksum updates
// RFC 1624 eqn. 3 as one sum: ~HC + sum(~m) + sum(m'), carries folded until none remain
function [15:0] fold;
    input [19:0] s;
    reg [16:0] f1s;
    begin
        f1s = {1'b0, s[15:0]} + {13'd0, s[19:16]};
        fold = f1s[15:0] + {15'd0, f1s[16]};
    end
endfunction

function [19:0] ext;
    input [15:0] v;
    begin
        ext = {4'd0, v};
    end
endfunction

wire nat_dst = nat_c == `OFL_NAT_DST;
wire nat_src = nat_c == `OFL_NAT_SRC;
wire nat_ip = nat_dst || nat_src;
wire l4 = is_tcp_c || is_udp_c;
wire nat_port = nat_ip && l4 && natport_c != 16'd0;
wire [31:0] old_ip = nat_src ? sip_c : dip_c;
wire [15:0] old_port = nat_src ? sport_c : dport_c;
wire [7:0] ttl_new = ttl_c - 8'd1;

wire [19:0] ip_addr_terms = ext(~old_ip[31:16]) + ext(natip_c[31:16]) + ext(~old_ip[15:0]) + ext(natip_c[15:0]);
wire [19:0] ip_sum = ext(~ipcs_c)
                   + (ttl_dec_c ? ext(~{ttl_c, proto_c}) + ext({ttl_new, proto_c}) : 20'd0)
                   + (nat_ip ? ip_addr_terms : 20'd0);
wire [19:0] l4_sum = ext(~l4cs_c) + ip_addr_terms
                   + (nat_port ? ext(~old_port) + ext(natport_c) : 20'd0);
wire [15:0] hc_new = ~fold(ip_sum);
wire [15:0] l4cs_calc = ~fold(l4_sum);
// UDP: a checksum of 0 means none and stays 0; a computed 0 is sent as 0xFFFF
wire l4_upd_cn = nat_ip && l4 && !(is_udp_c && l4cs_c == 16'd0);
wire [15:0] l4cs_new = is_udp_c && l4cs_calc == 16'd0 ? 16'hFFFF : l4cs_calc;

// ---------------------------------------------------------------- stage D registers
reg v_d = 1'b0;
reg port_d, ovs_d, vlan_d, copy_d, is_tcp_d, is_udp_d, event_d, l4_upd_d;
reg [15:0] len_d;
reg [1:0] kind_d;
reg [3:0] reason_d;
reg [31:0] aux_d;
reg [15:0] cnt_d;
reg [9:0] gid_d;
reg [7:0] fwdr_d, ttl_d;
reg [15:0] hc_d, sport_d, dport_d, l4cs_d;
reg [31:0] sip_d, dip_d;
reg [96:0] nh_d;
reg [511:0] hdr_q;

always @(posedge clk) begin
    if (adv) begin
        v_d <= v_c;
        port_d <= port_c;
        ovs_d <= ovs_c;
        len_d <= len_c;
        kind_d <= kind_c;
        reason_d <= reason_c;
        aux_d <= aux_c;
        event_d <= event_c;
        cnt_d <= cnt_c;
        copy_d <= copy_c;
        gid_d <= gid_c;
        fwdr_d <= fwdr_c;
        vlan_d <= vlan_c;
        is_tcp_d <= is_tcp_c;
        is_udp_d <= is_udp_c;
        ttl_d <= ttl_dec_c ? ttl_new : ttl_c;
        hc_d <= hc_new;
        sip_d <= nat_src ? natip_c : sip_c;
        dip_d <= nat_dst ? natip_c : dip_c;
        sport_d <= nat_port && nat_src ? natport_c : sport_c;
        dport_d <= nat_port && nat_dst ? natport_c : dport_c;
        l4cs_d <= l4cs_new;
        l4_upd_d <= l4_upd_cn;
        nh_d <= nh_q;
        hdr_q <= hdr_buf[tag_c];
    end
    if (rst) begin
        v_d <= 1'b0;
    end
end

// ---------------------------------------------------------------- stage D: header splice, decision
function [47:0] mac_lanes;   // MAC (byte 0 in [47:40]) to frame byte lanes (byte 0 in [7:0])
    input [47:0] m;
    begin
        mac_lanes = {m[7:0], m[15:8], m[23:16], m[31:24], m[39:32], m[47:40]};
    end
endfunction

reg [367:0] l3n;
reg [511:0] hdr_fwd;
always @* begin
    l3n = vlan_d ? hdr_q[8*18 +: 368] : hdr_q[8*14 +: 368];
    l3n[8*8 +: 8] = ttl_d;
    l3n[8*10 +: 8] = hc_d[15:8];
    l3n[8*11 +: 8] = hc_d[7:0];
    for (i = 0; i < 4; i = i + 1) begin
        l3n[8*(12+i) +: 8] = sip_d[8*(3-i) +: 8];
        l3n[8*(16+i) +: 8] = dip_d[8*(3-i) +: 8];
    end
    if (is_tcp_d || is_udp_d) begin
        l3n[8*20 +: 8] = sport_d[15:8];
        l3n[8*21 +: 8] = sport_d[7:0];
        l3n[8*22 +: 8] = dport_d[15:8];
        l3n[8*23 +: 8] = dport_d[7:0];
    end
    if (l4_upd_d && is_tcp_d) begin
        l3n[8*36 +: 8] = l4cs_d[15:8];
        l3n[8*37 +: 8] = l4cs_d[7:0];
    end
    if (l4_upd_d && is_udp_d) begin
        l3n[8*26 +: 8] = l4cs_d[15:8];
        l3n[8*27 +: 8] = l4cs_d[7:0];
    end
    if (vlan_d) begin
        hdr_fwd = {l3n, hdr_q[143:0]};
    end else begin
        hdr_fwd = {hdr_q[511:480], l3n, hdr_q[111:0]};
    end
    hdr_fwd[47:0] = mac_lanes(nh_d[95:48]);
    hdr_fwd[95:48] = mac_lanes(nh_d[47:0]);
end

wire fwd_d = kind_d == K_FWD;
reg [DEC_W-1:0] dec;
always @* begin
    dec = {DEC_W{1'b0}};
    dec[DEC_HDR +: 512] = fwd_d ? hdr_fwd : hdr_q;
    dec[DEC_LEN +: 16] = len_d;
    dec[DEC_HAS_DATA] = !ovs_d && len_d > 16'd64;
    dec[DEC_FWD] = fwd_d;
    dec[DEC_FWD_PORT] = nh_d[96];
    dec[DEC_ARP] = kind_d == K_ARP;
    dec[DEC_HOST] = kind_d == K_HOST || (kind_d == K_ARP && copy_d);
    dec[DEC_EVENT] = fwd_d && event_d;
    dec[DEC_REASON +: 4] = reason_d;
    dec[DEC_AUX +: 32] = aux_d;
    dec[DEC_GID +: 10] = gid_d;
    dec[DEC_FWDR +: 8] = fwdr_d;
    dec[DEC_VLAN] = vlan_d;
end

assign m_dec_data = dec;
assign m_dec_valid0 = adv && v_d && !port_d;
assign m_dec_valid1 = adv && v_d && port_d;
assign cnt_vec = adv && v_d ? cnt_d : 16'd0;
assign cnt_port = port_d;

assign busy = v_a || v_b || v_c || v_d;

// ---------------------------------------------------------------- CSR read results (valid in F2)
always @* begin
    tbl_ft_r = 165'd0;
    tbl_r32 = 32'd0;
    if (csr_ft_main) begin
        tbl_ft_r = ft_q[csr_ft_mem];
    end else if (csr_ft_stash) begin
        tbl_ft_r = stash[csr_stash];
    end
    if (op == OP_SLOT_READ && csr_slot_ok) begin
        tbl_r32 = {24'd0, slot_q};
    end else if (op == OP_CNT_READ && csr_slot_ok) begin
        tbl_r32 = cnt_q;
    end
end
assign tbl_ls_r = (csr_ft_main || csr_ft_stash) ? ls_q : 32'd0;
assign tbl_nh_r = csr_nh_ok ? nh_q : 97'd0;

always @(posedge clk) begin
    f2_reg <= f1;
    if (rst) begin
        f2_reg <= 1'b0;
    end
end

endmodule

`resetall
