`resetall
`timescale 1ns / 1ps
`default_nettype none

// The shared lookup engine. One descriptor per FT_READ_CYCLES cycles from the two ingress ports
// (round-robin when both wait), a fixed pipeline whose stages each take FT_READ_CYCLES cycles, one
// decision per descriptor written into the ingress port's decision FIFO 4 * FT_READ_CYCLES cycles
// after it was accepted:
//
//   accept  decode (ofl_decode, registered), port MAC compare; the vMAC filter and group VIP
//           compares run in ofl_csr, which returns registered match bits                      -> A
//   A       classification up to the lookup, bucket hashes -> way memories (read over the
//           stage's cycles), slot table, stash compare, round-robin pointer                   -> B
//   B       way compare, lowest index wins, TTL / FIN-RST; LAST_SEEN write; next-hop and
//           ARP reply counter reads                                                          -> C
//   C       ARP reply counter write (forwarded for back-to-back updates), checksum updates,
//           the rewrite values (or the ARP reply's fields) into the decision register           -> D
//   D       decision write, counter pulses
//
// Simulation speed (Verilator): a stage's registers load only when a valid item enters it, wide
// work (decode, hashes, splice) happens inside those enabled branches, and memory read ports load
// only when an item or a CSR access needs them, so an idle or half-busy pipeline costs little.
//
// CSR table accesses freeze the whole pipeline for two cycles: in the first the CSR owns the
// memory ports, in the second every read port re-reads the address of the item that waits on it
// (the CSR read clobbered its output register). Only then is the latency longer than LATENCY.
module ofl_engine #(
    parameter FT_BUCKETS = 1024,
    parameter FT_STASH = 4,
    parameter GROUPS = 16,
    parameter VMACS = 64,
    parameter NEXTHOPS = 256,
    // cycles a lookup reads the flow table over: 1, 2 or 4 (see "flow table ways" below)
    parameter FT_READ_CYCLES = 1
) (
    input  wire                 clk,
    input  wire                 rst,

    input  wire [511:0]         s_desc0_hdr,
    input  wire [15:0]          s_desc0_len,
    input  wire [39:0]          s_desc0_cs,     // IPv4 checksum sums at bytes 18 and 14 (ofl_rx)
    input  wire                 s_desc0_ovs,
    input  wire                 s_desc0_valid,
    output wire                 s_desc0_ready,
    input  wire [511:0]         s_desc1_hdr,
    input  wire [15:0]          s_desc1_len,
    input  wire [39:0]          s_desc1_cs,
    input  wire                 s_desc1_ovs,
    input  wire                 s_desc1_valid,
    output wire                 s_desc1_ready,

    // decision for the port's decision FIFO (layout: ofl_dec.vh)
    output wire [247:0]         m_dec_data,     // DEC_W bits
    output wire                 m_dec_valid0,
    output wire                 m_dec_valid1,

    // configuration (CSR block)
    input  wire [47:0]          port_mac0,
    input  wire [47:0]          port_mac1,
    // vMAC / group VIP lookups done by the CSR block: lk_* sent in the accept cycle, match bits
    // back (registered) in stage A
    output wire                 lk_en,
    output wire [47:0]          lk_dmac,
    output wire [31:0]          lk_tpa,
    input  wire [VMACS-1:0]     lk_vmac_m,
    input  wire [GROUPS-1:0]    lk_grp_m,
    input  wire [GROUPS-1:0]    grp_mode,
    input  wire [GROUPS-1:0]    grp_copy,
    output wire [5:0]           gid_sel,
    input  wire [9:0]           gid_in,
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

`include "ofl_dec.vh"

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
localparam S = FT_READ_CYCLES;
localparam LS = S == 4 ? 2 : S == 2 ? 1 : 0;
localparam PHW = LS > 0 ? LS : 1;
localparam MPS = 4 / S;               // way memories per sub-table
localparam NM = 2 * MPS;
localparam AWW = BW + LS;             // way memory address: bucket, then the read phase
localparam PH_LAST_I = S - 1;
localparam [PHW-1:0] PH_LAST = PH_LAST_I[PHW-1:0];

localparam [1:0] K_DROP = 2'd0;
localparam [1:0] K_HOST = 2'd1;
localparam [1:0] K_ARP = 2'd2;
localparam [1:0] K_FWD = 2'd3;     // before stage B: "look the flow up"

// entry (memories, stash, tbl_ft_w / tbl_ft_r): action(59), valid, key(105); the key in the low bits
// so a compare needs no shifting. Action: nh(8), ttl_dec, nat(2), nat_ip(32), nat_port(16)
localparam M_KEY = 0;
localparam M_VALID = 105;
localparam M_ACT = 106;
localparam E_NH = 51;         // in the action
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
    if (S != 1 && S != 2 && S != 4) begin
        $error("ofl_engine: FT_READ_CYCLES must be 1, 2 or 4");
        $finish;
    end
end
`endif

// ---------------------------------------------------------------- freeze for CSR table accesses
reg f2_reg = 1'b0;
wire f1 = tbl_req && !f2_reg;
// Every cycle outside a freeze is a step; the pipeline advances on every S-th step (read phase
// ph_reg = S - 1), so an item spends S steps in each stage (all of them when S = 1).
wire step = !(f1 || f2_reg);
reg [PHW-1:0] ph_reg = 0;
wire adv = step && ph_reg == PH_LAST;
assign tbl_done = f2_reg;

wire [3:0] op = tbl_op;
wire csr_ft_main = tbl_idx < FT_MAIN;
wire csr_ft_stash = !csr_ft_main && tbl_idx < FT_ENTRIES;
wire [BW-1:0] csr_ft_bkt = tbl_idx[BW+1:2];
// entry {sub, bucket, way} lives in way memory sub * MPS + way % MPS, at read phase way / MPS
wire [31:0] csr_ft_mem = {31'd0, tbl_idx[BW+2]} * MPS + {30'd0, tbl_idx[1:0]} % MPS;
wire [31:0] csr_ft_row = {30'd0, tbl_idx[1:0]} / MPS;
// FT_MAIN is a multiple of 16 and FT_STASH at most 16, so the low index bits are the stash slot
wire [SW-1:0] csr_stash = tbl_idx[SW-1:0];
wire csr_slot_ok = tbl_idx < GROUPS * 256;
wire csr_nh_ok = tbl_idx < NEXTHOPS;

// ---------------------------------------------------------------- accept + decode
// Every stage register below is loaded only when a valid item enters its stage (and the pipeline
// advances); only the valid bits and arbitration state change every cycle.
reg rr_in_reg = 1'b0;
wire grant0 = adv && s_desc0_valid && (!s_desc1_valid || !rr_in_reg);
wire grant1 = adv && s_desc1_valid && (!s_desc0_valid || rr_in_reg);
wire accept = grant0 || grant1;
assign s_desc0_ready = grant0;
assign s_desc1_ready = grant1;
wire in_port = grant1;

function [47:0] mac_be;      // bytes 0..5 of a header (lane order) as a MAC (byte 0 in [47:40])
    input [47:0] l;
    begin
        mac_be = {l[7:0], l[15:8], l[23:16], l[31:24], l[39:32], l[47:40]};
    end
endfunction

// ARP TPA (bytes l3 + 24..27), lane order; l3 = 18 behind a VLAN tag
wire [31:0] tpa0_l = s_desc0_hdr[8*12 +: 16] == 16'h0081 ? s_desc0_hdr[8*42 +: 32] : s_desc0_hdr[8*38 +: 32];
wire [31:0] tpa1_l = s_desc1_hdr[8*12 +: 16] == 16'h0081 ? s_desc1_hdr[8*42 +: 32] : s_desc1_hdr[8*38 +: 32];
wire [31:0] tpa_l = grant1 ? tpa1_l : tpa0_l;
assign lk_en = accept;
assign lk_dmac = mac_be(grant1 ? s_desc1_hdr[47:0] : s_desc0_hdr[47:0]);
assign lk_tpa = {tpa_l[7:0], tpa_l[15:8], tpa_l[23:16], tpa_l[31:24]};
// ARP sender MAC (bytes l3 + 8..13) and IP (l3 + 14..17), big-endian, and the VLAN TCI (bytes 14..15),
// from header bytes 12..35
/* verilator lint_off UNUSEDSIGNAL */
function [95:0] arp_sender;
    input [191:0] h;
    reg [47:0] l;
    reg [31:0] ip;
    begin
        if (h[0 +: 16] == 16'h0081) begin
            l = h[8*14 +: 48];
            ip = h[8*20 +: 32];
        end else begin
            l = h[8*10 +: 48];
            ip = h[8*16 +: 32];
        end
        arp_sender = {mac_be(l), ip[7:0], ip[15:8], ip[23:16], ip[31:24], h[8*2 +: 8], h[8*3 +: 8]};
    end
endfunction
/* verilator lint_on UNUSEDSIGNAL */
wire [95:0] sender_in = arp_sender(grant1 ? s_desc1_hdr[8*12 +: 192] : s_desc0_hdr[8*12 +: 192]);

wire d_bcast, d_mcast, d_vlan, d_runt, d_is_arp, d_arp_short, d_arp_request;
wire [7:0] d_sha_crc;
wire d_is_ipv4, d_ip_malformed, d_ip_bad_csum, d_ip_exception, d_ip_l4_short, d_is_tcp, d_is_udp;
wire [7:0] d_ttl, d_tcp_flags;
wire [15:0] d_ip_csum, d_l4_csum;
wire [104:0] key_a;
wire [BW-1:0] bkt_a_a, bkt_b_a;

// registered: these are stage A values
ofl_decode #(.BW(BW)) u_decode (
    .clk(clk), .en(accept), .sel(grant1),
    .hdr0(s_desc0_hdr), .len0(s_desc0_len), .cs0(s_desc0_cs),
    .hdr1(s_desc1_hdr), .len1(s_desc1_len), .cs1(s_desc1_cs),
    .bcast(d_bcast), .mcast(d_mcast), .vlan(d_vlan), .runt(d_runt),
    .is_arp(d_is_arp), .arp_short(d_arp_short), .arp_request(d_arp_request), .sha_crc(d_sha_crc),
    .is_ipv4(d_is_ipv4), .ip_malformed(d_ip_malformed), .ip_bad_csum(d_ip_bad_csum),
    .ip_exception(d_ip_exception), .ip_l4_short(d_ip_l4_short), .is_tcp(d_is_tcp), .is_udp(d_is_udp),
    .ttl(d_ttl), .ip_csum(d_ip_csum), .tcp_flags(d_tcp_flags), .l4_csum(d_l4_csum),
    .key(key_a), .crc_a(bkt_a_a), .crc_b(bkt_b_a)
);

// ---------------------------------------------------------------- stage A registers
reg v_a = 1'b0;
reg port_a, ovs_a, own_m_a;
reg [15:0] len_a;
// Of the header only what an ARP reply needs rides along the stages (the frame itself waits whole in
// the RX FIFO, and a forward is rewritten from the decision's values): sender MAC and IP, target IP,
// the VLAN TCI.
reg [47:0] sha_a, sha_b, sha_c;
reg [31:0] spa_a, spa_b, spa_c, tpa_a, tpa_b, tpa_c;
reg [15:0] tci_a, tci_b, tci_c;

always @(posedge clk) begin
    if (adv) begin
        v_a <= accept;
        rr_in_reg <= accept ? !in_port : rr_in_reg;
    end
    if (accept) begin
        port_a <= in_port;
        if (grant1) begin
            len_a <= s_desc1_len;
            ovs_a <= s_desc1_ovs;
            own_m_a <= lk_dmac == port_mac1;
        end else begin
            len_a <= s_desc0_len;
            ovs_a <= s_desc0_ovs;
            own_m_a <= lk_dmac == port_mac0;
        end
        sha_a <= sender_in[95:48];
        spa_a <= sender_in[47:16];
        tpa_a <= lk_tpa;
        tci_a <= sender_in[15:0];
    end
    if (rst) begin
        v_a <= 1'b0;
        rr_in_reg <= 1'b0;
    end
end

// ---------------------------------------------------------------- stage A: classify
wire bcast_a = d_bcast;
wire mcast_a = d_mcast;
wire own_a = !d_bcast && !d_mcast && own_m_a;
wire vmac_a = !d_bcast && !d_mcast && !own_m_a && (|lk_vmac_m);
wire grp_hit_a = |lk_grp_m;
// lowest enabled group index wins
reg [GW-1:0] grp_a;
integer i;
always @* begin
    grp_a = 0;
    if (v_a) begin
        for (i = GROUPS - 1; i >= 0; i = i - 1) begin
            if (lk_grp_m[i]) begin
                grp_a = i[GW-1:0];
            end
        end
    end
end
wire [15:0] dport_a = key_a[15:0];

wire other_a = !(bcast_a || mcast_a || own_a || vmac_a);
reg [1:0] kind_an;
reg [3:0] dcnt_an;     // drop counter index
reg [3:0] reason_an;
always @* begin
    kind_an = K_DROP;
    dcnt_an = `OFL_CNT_DROP_NOT_FOR_US;
    reason_an = 4'd0;
    if (!v_a) begin
        kind_an = K_DROP;
    end else if (ovs_a) begin
        dcnt_an = `OFL_CNT_DROP_OVERSIZE;
    end else if (d_runt) begin
        dcnt_an = `OFL_CNT_DROP_RUNT;
    end else if (d_is_arp) begin
        if (d_arp_short) begin
            dcnt_an = `OFL_CNT_DROP_MALFORMED;
        end else if (d_arp_request && (bcast_a || own_a || vmac_a) && grp_hit_a) begin
            kind_an = K_ARP;
        end else if (!other_a) begin
            kind_an = K_HOST;
            reason_an = `OFL_REASON_ARP;
        end
    end else if (d_is_ipv4) begin
        if (other_a) begin
            dcnt_an = `OFL_CNT_DROP_NOT_FOR_US;
        end else if (d_ip_malformed) begin
            dcnt_an = `OFL_CNT_DROP_MALFORMED;
        end else if (d_ip_bad_csum) begin
            dcnt_an = `OFL_CNT_DROP_BAD_CSUM;
        end else if (bcast_a || mcast_a) begin
            kind_an = K_HOST;
            reason_an = `OFL_REASON_BCAST;
        end else if (d_ip_exception) begin
            kind_an = K_HOST;
            reason_an = `OFL_REASON_EXCEPTION;
        end else if (d_ip_l4_short) begin
            dcnt_an = `OFL_CNT_DROP_MALFORMED;
        end else if (d_is_udp && (dport_a == `OFL_GLBP_PORT || {16'd0, dport_a} == sync_port)) begin
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
wire [SAW-1:0] slot_addr_an = {grp_a, mode_a ? d_sha_crc : rr_a};
assign gid_sel = {{(6-GW){1'b0}}, grp_a};

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

// stash: flops
reg [104:0] stash_key[0:FT_STASH-1];
reg [58:0] stash_act[0:FT_STASH-1];
reg [FT_STASH-1:0] stash_v;

// ---------------------------------------------------------------- stage B registers + memories
reg v_b = 1'b0;
reg port_b, ovs_b, vlan_b, copy_b, is_tcp_b, is_udp_b;
reg [15:0] len_b;
reg [1:0] kind_b;
reg [3:0] dcnt_b, reason_b;
reg [GW-1:0] grp_b;
reg [9:0] gid_b;
reg [7:0] ttl_b, flags_b;
reg [15:0] ipcs_b, l4cs_b;
reg [104:0] key_b;
reg [BW-1:0] bkt_a_b, bkt_b_b;
reg [SAW-1:0] slot_addr_b;
reg [FT_STASH-1:0] stash_m_b;

always @(posedge clk) begin
    if (adv) begin
        v_b <= v_a;
    end
    if (adv && v_a) begin
        port_b <= port_a;
        ovs_b <= ovs_a;
        len_b <= len_a;
        sha_b <= sha_a;
        spa_b <= spa_a;
        tpa_b <= tpa_a;
        tci_b <= tci_a;
        kind_b <= kind_an;
        dcnt_b <= dcnt_an;
        reason_b <= reason_an;
        grp_b <= grp_a;
        copy_b <= grp_copy[grp_a];
        gid_b <= gid_in;
        vlan_b <= d_vlan;
        is_tcp_b <= d_is_tcp;
        is_udp_b <= d_is_udp;
        ttl_b <= d_ttl;
        flags_b <= d_tcp_flags;
        ipcs_b <= d_ip_csum;
        key_b <= key_a;
        l4cs_b <= d_l4_csum;
        bkt_a_b <= bkt_a_a;
        bkt_b_b <= bkt_b_a;
        slot_addr_b <= slot_addr_an;
        for (i = 0; i < FT_STASH; i = i + 1) begin
            stash_m_b[i] <= stash_v[i] && stash_key[i] == key_a;
        end
    end
    if (rst) begin
        v_b <= 1'b0;
    end
end

// memory read ports load when an item enters stage B / C or for a CSR access (F1) or its re-read (F2)
wire rd_en_b = f1 || f2_reg || (adv && v_a);
wire rd_en_c = f1 || f2_reg || (adv && v_b);

always @(posedge clk) begin
    if (step) begin
        ph_reg <= ph_reg == PH_LAST ? {PHW{1'b0}} : ph_reg + 1'b1;
    end
    if (rst) begin
        ph_reg <= 0;
    end
end

// flow table ways: the 4 ways of a sub-table's bucket are spread over MPS = 4 / S memories, S ways
// each at consecutive addresses; in read phase r (0..S-1, the item in stage A) memory m of a
// sub-table reads way r * MPS + m of the item's bucket, so its registered output holds read phase
// r - 1 of the stage-A item, or for r = 0 the last phase of the stage-B item. Why: at S = 4 a
// sub-table is one memory 4 * FT_BUCKETS deep instead of four FT_BUCKETS deep, which packs small
// tables into a quarter of the block RAMs; the price is one lookup per S cycles.
/* verilator lint_off UNUSEDSIGNAL */
function [AWW-1:0] way_addr;
    input [BW-1:0] bkt;
    input [31:0] r;
    reg [31:0] t;
    begin
        t = {{(32-BW){1'b0}}, bkt} * S + r;
        way_addr = t[AWW-1:0];
    end
endfunction
/* verilator lint_on UNUSEDSIGNAL */
wire [31:0] ph32 = {{(32-PHW){1'b0}}, ph_reg};
// the read phase the memory outputs hold (what F2 re-reads after a CSR access clobbered them)
wire [31:0] q_ph = ph_reg == 0 ? S - 1 : ph32 - 1;
wire q_of_a = ph_reg != 0;
wire [165*8-1:0] way_q;

genvar gm;
generate
    for (gm = 0; gm < NM; gm = gm + 1) begin : way
        reg [164:0] mem[0:FT_BUCKETS*S-1];
        reg [164:0] q;
        integer n;
        initial begin
            for (n = 0; n < FT_BUCKETS * S; n = n + 1) begin
                mem[n] = 165'd0;
            end
        end
        wire [BW-1:0] bkt_a = gm < MPS ? bkt_a_a : bkt_b_a;
        wire [BW-1:0] bkt_b = gm < MPS ? bkt_a_b : bkt_b_b;
        wire [AWW-1:0] eng_addr = way_addr(bkt_a, ph32);
        wire [AWW-1:0] rep_addr = way_addr(q_of_a ? bkt_a : bkt_b, q_ph);
        wire [AWW-1:0] csr_addr = way_addr(csr_ft_bkt, csr_ft_row);
        wire [AWW-1:0] rd_addr = f1 ? csr_addr : f2_reg ? rep_addr : eng_addr;
        wire sel = csr_ft_main && csr_ft_mem == gm;
        wire we = sel && ((f1 && op == OP_FT_WRITE) || (f2_reg && op == OP_FT_INV));
        always @(posedge clk) begin
            if (f1 || f2_reg || (step && v_a)) begin
                q <= mem[rd_addr];
            end
            // invalidate is a read-modify-write: read in F1, write back without the valid bit in F2
            if (we) begin
                mem[csr_addr] <= op == OP_FT_INV ? {q[164:106], 1'b0, q[104:0]} : tbl_ft_w;
            end
        end
        assign way_q[165*gm +: 165] = q;
    end
    for (gm = NM; gm < 8; gm = gm + 1) begin : way_none
        assign way_q[165*gm +: 165] = 165'd0;
    end
endgenerate

// stash writes from the CSR
always @(posedge clk) begin
    if (csr_ft_stash && f1 && op == OP_FT_WRITE) begin
        stash_key[csr_stash] <= tbl_ft_w[M_KEY +: 105];
        stash_act[csr_stash] <= tbl_ft_w[M_ACT +: 59];
        stash_v[csr_stash] <= tbl_ft_w[M_VALID];
    end
    if (csr_ft_stash && f1 && op == OP_FT_INV) begin
        stash_v[csr_stash] <= 1'b0;
    end
    if (rst) begin
        stash_v <= {FT_STASH{1'b0}};
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
    if (rd_en_b) begin
        slot_q <= slot_mem[slot_rd_addr];
    end
    if (f1 && op == OP_SLOT_WRITE && csr_slot_ok) begin
        slot_mem[tbl_idx[SAW-1:0]] <= tbl_w32[7:0];
    end
end

// ---------------------------------------------------------------- stage B: flow compare
// Each step compares the memory outputs (read phase q_ph) with the key of the item they belong to.
// Per sub-table the first hit found is kept (an earlier phase, or a lower memory, is a lower way):
// over phases 0..S-2 in stage A (acc_*), then at phase 0 in stage B the last phase is added. With
// S = 1 that is all combinational in stage B, as the pipeline has always worked; with S > 1 the
// result is registered (res_*) and read at the advance.
reg [1:0] cmp_hit;
reg [3:0] cmp_way;
reg [117:0] cmp_act;
reg [1:0] acc_hit = 2'd0;
reg [3:0] acc_way;
reg [117:0] acc_act;
reg [1:0] res_hit;
reg [3:0] res_way;
reg [117:0] res_act;
wire [104:0] cmp_key = q_of_a ? key_a : key_b;
integer sb, ml;
always @* begin
    for (sb = 0; sb < 2; sb = sb + 1) begin
        cmp_hit[sb] = acc_hit[sb];
        cmp_way[2*sb +: 2] = acc_way[2*sb +: 2];
        cmp_act[59*sb +: 59] = acc_act[59*sb +: 59];
        if (!acc_hit[sb]) begin
            // from the highest memory down, so the lowest matching way is the one left
            for (ml = MPS - 1; ml >= 0; ml = ml - 1) begin
                if (way_q[165*(sb*MPS + ml) + M_VALID] && way_q[165*(sb*MPS + ml) + M_KEY +: 105] == cmp_key) begin
                    cmp_hit[sb] = 1'b1;
                    cmp_way[2*sb +: 2] = q_ph[1:0] * MPS[1:0] + ml[1:0];
                    cmp_act[59*sb +: 59] = way_q[165*(sb*MPS + ml) + M_ACT +: 59];
                end
            end
        end
    end
end
always @(posedge clk) begin
    if (step) begin
        if (!q_of_a) begin
            res_hit <= cmp_hit;
            res_way <= cmp_way;
            res_act <= cmp_act;
            acc_hit <= 2'd0;
        end else if (v_a) begin
            acc_hit <= cmp_hit;
            acc_way <= cmp_way;
            acc_act <= cmp_act;
        end
    end
    if (rst || S == 1) begin
        acc_hit <= 2'd0;
    end
end
wire [1:0] b_hit = S == 1 ? cmp_hit : res_hit;
wire [3:0] b_way = S == 1 ? cmp_way : res_way;
wire [117:0] b_act = S == 1 ? cmp_act : res_act;

reg hit_bn;
reg [FIW-1:0] hit_idx_bn;
reg [58:0] hit_act_bn;
always @* begin
    hit_bn = 1'b0;
    hit_idx_bn = 0;
    hit_act_bn = 59'd0;
    if (v_b && kind_b == K_FWD) begin
        // lowest index wins: sub-table 0, then sub-table 1, then the stash (scanned from the top down)
        for (i = FT_STASH - 1; i >= 0; i = i - 1) begin
            if (stash_m_b[i]) begin
                hit_bn = 1'b1;
                hit_idx_bn = FT_MAIN[FIW-1:0] + i[FIW-1:0];
                hit_act_bn = stash_act[i];
            end
        end
        for (sb = 1; sb >= 0; sb = sb - 1) begin
            if (b_hit[sb]) begin
                hit_bn = 1'b1;
                hit_idx_bn = {{(FIW-BW-3){1'b0}}, sb[0], sb == 0 ? bkt_a_b : bkt_b_b, b_way[2*sb +: 2]};
                hit_act_bn = b_act[59*sb +: 59];
            end
        end
    end
end

wire hit_ttl_dec = hit_act_bn[E_TTL];
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

wire [NHW-1:0] nh_addr_bn = hit_act_bn[E_NH +: NHW];
wire [SAW-1:0] cnt_addr_bn = {grp_b, slot_q};
wire unused_nh = ^hit_act_bn;

always @(posedge clk) begin
    if (adv) begin
        v_c <= v_b;
    end
    if (adv && v_b) begin
        port_c <= port_b;
        ovs_c <= ovs_b;
        len_c <= len_b;
        sha_c <= sha_b;
        spa_c <= spa_b;
        tpa_c <= tpa_b;
        tci_c <= tci_b;
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
        proto_c <= key_b[39:32];
        ttl_c <= ttl_b;
        ipcs_c <= ipcs_b;
        sip_c <= key_b[103:72];
        dip_c <= key_b[71:40];
        sport_c <= key_b[31:16];
        dport_c <= key_b[15:0];
        l4cs_c <= l4cs_b;
        ttl_dec_c <= hit_ttl_dec;
        nat_c <= hit_act_bn[E_NAT +: 2];
        natip_c <= hit_act_bn[E_NATIP +: 32];
        natport_c <= hit_act_bn[E_NATPORT +: 16];
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
    if (rd_en_c) begin
        nh_q <= nh_mem[nh_rd_addr];
    end
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
    if (rd_en_c) begin
        cnt_q <= cnt_mem[cnt_rd_addr];
    end
    if (cnt_eng_we) begin
        cnt_mem[cnt_addr_c] <= cnt_new;
    end else if (cnt_csr_we) begin
        cnt_mem[tbl_idx[SAW-1:0]] <= tbl_w32;
    end
end
always @(posedge clk) begin
    if (adv) begin
        fwd_v_reg <= cnt_eng_we;
    end else if (f2_reg) begin
        fwd_v_reg <= 1'b0;
    end
    if (cnt_eng_we) begin
        fwd_addr_reg <= cnt_addr_c;
        fwd_data_reg <= cnt_new;
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

// ---------------------------------------------------------------- C -> D: rewrite values, decision
wire [7:0] ttl_out = ttl_dec_c ? ttl_new : ttl_c;
wire [47:0] vmac_c = {24'h0007b4, 6'd0, gid_c, fwdr_c};

// ---------------------------------------------------------------- stage D: the decision register
reg v_d = 1'b0;
reg port_d;
reg [15:0] cnt_d;
reg [DEC_W-1:0] dec_reg;
wire fwd_c = kind_c == K_FWD;

always @(posedge clk) begin
    if (adv) begin
        v_d <= v_c;
    end
    if (adv && v_c) begin
        port_d <= port_c;
        cnt_d <= cnt_c;
        // a forward: what the dispatcher writes over the frame as it streams (ofl_dec.vh); an ARP
        // reply: the request's fields it is built from
        if (fwd_c) begin
            dec_reg[DEC_DMAC +: 48] <= nh_q[95:48];
            dec_reg[DEC_SMAC +: 48] <= nh_q[47:0];
            dec_reg[DEC_NATIP +: 32] <= natip_c;
            dec_reg[DEC_NATPORT +: 16] <= natport_c;
            dec_reg[DEC_L4CS +: 16] <= l4cs_new;
            dec_reg[DEC_HC +: 16] <= hc_new;
            dec_reg[DEC_TTL +: 8] <= ttl_out;
            dec_reg[DEC_NAT_SRC] <= nat_src;
            dec_reg[DEC_NAT_DST] <= nat_dst;
            dec_reg[DEC_NAT_PORT] <= nat_port;
            dec_reg[DEC_L4CS_TCP] <= l4_upd_cn && is_tcp_c;
            dec_reg[DEC_L4CS_UDP] <= l4_upd_cn && is_udp_c;
        end else begin
            dec_reg[DEC_SHA +: 48] <= sha_c;
            dec_reg[DEC_VMAC +: 48] <= vmac_c;
            dec_reg[DEC_TPA +: 32] <= tpa_c;
            dec_reg[DEC_TCI +: 16] <= tci_c;
            dec_reg[DEC_SPA +: 32] <= spa_c;
        end
        dec_reg[DEC_LEN +: 16] <= len_c;
        dec_reg[DEC_HAS_DATA] <= !ovs_c;
        dec_reg[DEC_FWD] <= fwd_c;
        dec_reg[DEC_FWD_PORT] <= nh_q[96];
        dec_reg[DEC_ARP] <= kind_c == K_ARP;
        dec_reg[DEC_HOST] <= kind_c == K_HOST || (kind_c == K_ARP && copy_c);
        dec_reg[DEC_EVENT] <= fwd_c && event_c;
        dec_reg[DEC_REASON +: 4] <= reason_c;
        dec_reg[DEC_AUX +: 32] <= aux_c;
        dec_reg[DEC_VLAN] <= vlan_c;
    end
    if (rst) begin
        v_d <= 1'b0;
    end
end

assign m_dec_data = dec_reg;
assign m_dec_valid0 = adv && v_d && !port_d;
assign m_dec_valid1 = adv && v_d && port_d;
assign cnt_vec = adv && v_d ? cnt_d : 16'd0;
assign cnt_port = port_d;

assign busy = v_a || v_b || v_c || v_d;

// ---------------------------------------------------------------- CSR read results (valid in F2)
always @* begin
    tbl_ft_r = 165'd0;
    tbl_r32 = 32'd0;
    if (f2_reg) begin
        if (csr_ft_main) begin
            tbl_ft_r = way_q[165*csr_ft_mem[2:0] +: 165];
        end else if (csr_ft_stash) begin
            tbl_ft_r = {stash_act[csr_stash], stash_v[csr_stash], stash_key[csr_stash]};
        end
        if (op == OP_SLOT_READ && csr_slot_ok) begin
            tbl_r32 = {24'd0, slot_q};
        end else if (op == OP_CNT_READ && csr_slot_ok) begin
            tbl_r32 = cnt_q;
        end
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
