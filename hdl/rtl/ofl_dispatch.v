`resetall
`timescale 1ns / 1ps
`default_nettype none

// Per ingress port: pops the port's decisions (FWFT) and its RX FIFO, which holds each frame whole,
// and emits the frames the decision asks for, each with a destination tag (0 = tx0, 1 = tx1, 2 = host
// RX queue):
//   forward:        the frame from the FIFO, rewritten as it passes (MACs, TTL, checksums, NAT
//                   addresses and ports from the decision, ofl_dec.vh), to the next hop's port
//   ARP reply:      reply built from the request's fields in the decision, out the ingress port;
//                   without COPY the request's FIFO data is popped in parallel
//   host:           metadata + the frame from the FIFO, if the host queue grants room (else dropped)
//   FIN/RST event:  after the forward, 16 bytes of metadata only
//   drop:           FIFO data popped, nothing sent
// The next decision starts in the cycle after the last word of the previous one (no bubble).
module ofl_dispatch #(
    parameter DATA_W = 64,
    parameter PORT = 0
) (
    input  wire                clk,
    input  wire                rst,

    input  wire [247:0]        dec_data,   // DEC_W bits (ofl_dec.vh)
    input  wire                dec_valid,
    output wire                dec_ready,

    input  wire [DATA_W-1:0]   rxf_data,
    input  wire                rxf_valid,
    output wire                rxf_ready,

    output reg  [DATA_W-1:0]   m_axis_tdata,
    output reg  [DATA_W/8-1:0] m_axis_tkeep,
    output reg                 m_axis_tvalid,
    input  wire                m_axis_tready,
    output reg                 m_axis_tlast,
    output reg  [1:0]          m_axis_tdest,

    // host RX queue room: request words, granted (reserved) or not in the same cycle
    output wire                host_req,
    output wire [15:0]         host_words,
    input  wire                host_grant,

    input  wire [63:0]         now,

    output wire                cnt_punt,
    output wire                cnt_host_full,

    output wire                busy
);

`include "offload_regs.vh"

`include "ofl_dec.vh"

localparam WB = DATA_W / 8;
localparam LWB = $clog2(WB);
localparam HDR_WORDS_I = 64 / WB;     // a forward's rewritten bytes all lie in the first 64
localparam META_WORDS_I = 16 / WB;
localparam REPLY_WORDS_I = (60 + WB - 1) / WB;
localparam WB_M1_I = WB - 1;
localparam [15:0] HDR_WORDS = HDR_WORDS_I[15:0];
localparam [15:0] META_WORDS = META_WORDS_I[15:0];
localparam [15:0] REPLY_WORDS = REPLY_WORDS_I[15:0];
localparam [15:0] REPLY_WORDS_VLAN = HDR_WORDS;
localparam [WB-1:0] KEEP_ALL = {WB{1'b1}};
localparam [15:0] WB_M1 = WB_M1_I[15:0];

localparam [1:0] P_MAIN = 2'd0;
localparam [1:0] P_RES = 2'd1;
localparam [1:0] P_HOST = 2'd2;
localparam [1:0] P_DRAIN = 2'd3;

localparam [1:0] DEST_HOST = 2'd2;
localparam [1:0] DEST_IN = PORT;

`ifndef SYNTHESIS
// parameter checks (simulation and lint; synthesis tools skip them)
initial begin
    if (DATA_W != 8 && DATA_W != 16 && DATA_W != 32 && DATA_W != 64) begin
        $error("ofl_dispatch: DATA_W must be 8, 16, 32 or 64");
        $finish;
    end
    if (DEC_W != 248) begin
        $error("ofl_dispatch: dec_data must be DEC_W (ofl_dec.vh) bits wide");
        $finish;
    end
end
`endif

wire [15:0] d_len = dec_data[DEC_LEN +: 16];
wire d_has_data = dec_data[DEC_HAS_DATA];
wire d_fwd = dec_data[DEC_FWD];
wire d_fwd_port = dec_data[DEC_FWD_PORT];
wire d_arp = dec_data[DEC_ARP];
wire d_host = dec_data[DEC_HOST];
wire d_event = dec_data[DEC_EVENT];
wire [3:0] d_reason = dec_data[DEC_REASON +: 4];
wire [31:0] d_aux = dec_data[DEC_AUX +: 32];
wire d_vlan = dec_data[DEC_VLAN];
// forward
wire [47:0] d_dmac = dec_data[DEC_DMAC +: 48];
wire [47:0] d_smac = dec_data[DEC_SMAC +: 48];
wire [31:0] d_natip = dec_data[DEC_NATIP +: 32];
wire [15:0] d_natport = dec_data[DEC_NATPORT +: 16];
wire [15:0] d_l4cs = dec_data[DEC_L4CS +: 16];
wire [15:0] d_hc = dec_data[DEC_HC +: 16];
wire [7:0] d_ttl = dec_data[DEC_TTL +: 8];
wire d_nat_src = dec_data[DEC_NAT_SRC];
wire d_nat_dst = dec_data[DEC_NAT_DST];
wire d_nat_port = dec_data[DEC_NAT_PORT];
wire d_l4cs_tcp = dec_data[DEC_L4CS_TCP];
wire d_l4cs_udp = dec_data[DEC_L4CS_UDP];
// ARP reply
wire [47:0] d_sha = dec_data[DEC_SHA +: 48];
wire [47:0] d_vmac = dec_data[DEC_VMAC +: 48];
wire [31:0] d_tpa = dec_data[DEC_TPA +: 32];
wire [15:0] d_tci = dec_data[DEC_TCI +: 16];
wire [31:0] d_spa = dec_data[DEC_SPA +: 32];

// sizes in words
wire [15:0] frame_words = (d_len >> LWB) + {15'd0, (d_len & WB_M1) != 16'd0};
// the engine decides every frame without data (oversize) a drop
wire [15:0] data_words = d_has_data ? frame_words : 16'd0;
wire [15:0] reply_words = d_vlan ? REPLY_WORDS_VLAN : REPLY_WORDS;
wire [15:0] host_total = META_WORDS + (d_host ? frame_words : 16'd0);

function [WB-1:0] keep_for;
    input [15:0] nbytes;
    integer b;
    reg [15:0] rem;
    begin
        rem = nbytes & WB_M1;
        for (b = 0; b < WB; b = b + 1) begin
            keep_for[b] = rem == 16'd0 || b < rem;
        end
    end
endfunction

wire [WB-1:0] last_keep = keep_for(d_len);
wire [WB-1:0] reply_keep = keep_for(d_vlan ? 16'd64 : 16'd60);

// ARP reply (docs/dataplane.md): dst = SHA, src = vMAC, the request's VLAN tag, oper 2,
// SHA = vMAC, SPA = VIP (= the request's TPA), THA = request's SHA, TPA = request's SPA, zero padded
// Built one word at a time, and only while an ARP decision that is not a forward is at the head (the
// only time it is sent).
localparam [63:0] ARP_FIXED = 64'h0200_0406_0008_0100;   // bytes l3..l3+7: htype 1, ptype 0800, 6, 4, oper 2


integer k;

// metadata, big-endian (built only in the host phase, where it is sent)
reg [63:0] meta_time_reg;
wire [15:0] meta_len = d_host ? d_len : 16'd0;
wire [127:0] meta_be = {4'd0, d_reason, 7'd0, PORT[0], meta_len, d_aux, meta_time_reg};
reg [127:0] meta;

// ---------------------------------------------------------------- sequencing
reg init_reg = 1'b1;         // the head decision has not started yet
reg [1:0] phase_reg = P_MAIN;
reg [15:0] idx_reg = 16'd0;
reg [15:0] dleft_reg = 16'd0;

wire [1:0] init_phase = (d_fwd || d_arp) ? P_MAIN : (d_host || d_event) ? P_RES : P_DRAIN;
wire [1:0] phase = init_reg ? init_phase : phase_reg;
wire [15:0] idx = init_reg ? 16'd0 : idx_reg;
wire [15:0] dleft = init_reg ? data_words : dleft_reg;

reg [1:0] phase_next;
reg [15:0] idx_next;
reg [15:0] dleft_next;
reg init_next;
reg pop_dec;
reg pop_rxf;
reg req;
reg punt;
reg full;
reg take_time;

wire [DATA_W-1:0] meta_word = meta[idx[3-LWB:0]*DATA_W +: DATA_W];
wire xfer = m_axis_tvalid && m_axis_tready;

reg [DATA_W-1:0] reply_word;
wire [5:0] reply_p0 = idx[5:0] << LWB;     // first byte of word idx (only words 0..63/WB use it)
// byte p of the reply, p = pi (0..63); q = its position in an untagged reply (o = l3 - 14)
integer pi, q, o;
always @* begin
    reply_word = {DATA_W{1'b0}};
    pi = 0;
    q = 0;
    o = 0;
    if (dec_valid && !d_fwd && d_arp) begin
        o = d_vlan ? 4 : 0;
        for (k = 0; k < WB; k = k + 1) begin
            pi = {26'd0, reply_p0 + k[5:0]};
            q = pi - o;
            if (pi < 6) begin
                reply_word[8*k +: 8] = d_sha[8*(5 - pi) +: 8];            // dst = request's SHA
            end else if (pi < 12) begin
                reply_word[8*k +: 8] = d_vmac[8*(11 - pi) +: 8];          // src = vMAC
            end else if (d_vlan && pi < 16) begin
                reply_word[8*k +: 8] = pi == 12 ? 8'h81 : pi == 13 ? 8'h00 : d_tci[8*(15 - pi) +: 8];
            end else if (q == 12) begin
                reply_word[8*k +: 8] = 8'h08;
            end else if (q == 13) begin
                reply_word[8*k +: 8] = 8'h06;
            end else if (q >= 14 && q < 22) begin
                reply_word[8*k +: 8] = ARP_FIXED[8*(q - 14) +: 8];
            end else if (q >= 22 && q < 28) begin
                reply_word[8*k +: 8] = d_vmac[8*(27 - q) +: 8];           // SHA = vMAC
            end else if (q >= 28 && q < 32) begin
                reply_word[8*k +: 8] = d_tpa[8*(31 - q) +: 8];            // SPA = VIP (request's TPA)
            end else if (q >= 32 && q < 38) begin
                reply_word[8*k +: 8] = d_sha[8*(37 - q) +: 8];            // THA = request's SHA
            end else if (q >= 38 && q < 42) begin
                reply_word[8*k +: 8] = d_spa[8*(41 - q) +: 8];            // TPA = request's SPA
            end
        end
    end
end

// a forwarded frame's word idx as it leaves: the FIFO word with the rewritten bytes put in (all of them
// lie in the first 64 bytes; the TCP/UDP fields only exist where the engine set their flags)
reg [DATA_W-1:0] fwd_word;
integer fp, fq;
always @* begin
    fwd_word = rxf_data;
    fp = 0;
    fq = 0;
    if (dec_valid && d_fwd && idx < HDR_WORDS) begin
        for (k = 0; k < WB; k = k + 1) begin
            fp = {26'd0, reply_p0 + k[5:0]};
            fq = fp - (d_vlan ? 4 : 0);
            if (fp < 6) begin
                fwd_word[8*k +: 8] = d_dmac[8*(5 - fp) +: 8];
            end else if (fp < 12) begin
                fwd_word[8*k +: 8] = d_smac[8*(11 - fp) +: 8];
            end else if (fq == 22) begin
                fwd_word[8*k +: 8] = d_ttl;
            end else if (fq == 24 || fq == 25) begin
                fwd_word[8*k +: 8] = d_hc[8*(25 - fq) +: 8];
            end else if (fq >= 26 && fq < 30 && d_nat_src) begin
                fwd_word[8*k +: 8] = d_natip[8*(29 - fq) +: 8];
            end else if (fq >= 30 && fq < 34 && d_nat_dst) begin
                fwd_word[8*k +: 8] = d_natip[8*(33 - fq) +: 8];
            end else if (fq >= 34 && fq < 36 && d_nat_port && d_nat_src) begin
                fwd_word[8*k +: 8] = d_natport[8*(35 - fq) +: 8];
            end else if (fq >= 36 && fq < 38 && d_nat_port && d_nat_dst) begin
                fwd_word[8*k +: 8] = d_natport[8*(37 - fq) +: 8];
            end else if (fq >= 40 && fq < 42 && d_l4cs_udp) begin
                fwd_word[8*k +: 8] = d_l4cs[8*(41 - fq) +: 8];
            end else if (fq >= 50 && fq < 52 && d_l4cs_tcp) begin
                fwd_word[8*k +: 8] = d_l4cs[8*(51 - fq) +: 8];
            end
        end
    end
end

always @* begin
    meta = 128'd0;
    if (dec_valid && phase == P_HOST) begin
        for (k = 0; k < 16; k = k + 1) begin
            meta[8*k +: 8] = meta_be[8*(15-k) +: 8];
        end
    end
end

// outputs: a function of the head decision and the state only (not of tready)
always @* begin
    m_axis_tdata = rxf_data;
    m_axis_tkeep = KEEP_ALL;
    m_axis_tvalid = 1'b0;
    m_axis_tlast = 1'b0;
    m_axis_tdest = DEST_HOST;
    if (dec_valid) begin
        case (phase)
            P_MAIN: begin
                if (d_fwd) begin
                    m_axis_tdest = {1'b0, d_fwd_port};
                    m_axis_tdata = fwd_word;
                    m_axis_tvalid = rxf_valid;
                    m_axis_tlast = idx == frame_words - 16'd1;
                    m_axis_tkeep = m_axis_tlast ? last_keep : KEEP_ALL;
                end else begin
                    m_axis_tdest = DEST_IN;
                    m_axis_tdata = reply_word;
                    m_axis_tvalid = idx < reply_words;
                    m_axis_tlast = idx == reply_words - 16'd1;
                    m_axis_tkeep = m_axis_tlast ? reply_keep : KEEP_ALL;
                end
            end
            P_HOST: begin
                if (idx < META_WORDS) begin
                    m_axis_tdata = meta_word;
                    m_axis_tvalid = 1'b1;
                end else begin
                    m_axis_tdata = rxf_data;
                    m_axis_tvalid = rxf_valid;
                end
                m_axis_tlast = idx == host_total - 16'd1;
                m_axis_tkeep = m_axis_tlast && d_host ? last_keep : KEEP_ALL;
            end
            default: ;
        endcase
    end
end

always @* begin
    phase_next = phase;
    idx_next = idx;
    dleft_next = dleft;
    init_next = init_reg;
    pop_dec = 1'b0;
    pop_rxf = 1'b0;
    req = 1'b0;
    punt = 1'b0;
    full = 1'b0;
    take_time = 1'b0;
    if (dec_valid) begin
        init_next = 1'b0;
        case (phase)
            P_MAIN: begin
                if (d_fwd) begin
                    if (xfer) begin
                        idx_next = idx + 16'd1;
                        pop_rxf = 1'b1;
                        dleft_next = dleft - 16'd1;
                        if (m_axis_tlast) begin
                            if (d_event) begin
                                phase_next = P_RES;
                            end else begin
                                pop_dec = 1'b1;
                            end
                        end
                    end
                end else begin
                    // ARP reply; without COPY the request's FIFO data drains meanwhile
                    if (!d_host && dleft != 16'd0 && rxf_valid) begin
                        pop_rxf = 1'b1;
                        dleft_next = dleft - 16'd1;
                    end
                    if (xfer) begin
                        idx_next = idx + 16'd1;
                    end
                    if (!m_axis_tvalid || (xfer && m_axis_tlast)) begin
                        if (d_host) begin
                            phase_next = P_RES;
                        end else if (dleft_next == 16'd0) begin
                            pop_dec = 1'b1;
                        end
                    end
                end
            end
            P_RES: begin
                req = 1'b1;
                if (host_grant) begin
                    punt = 1'b1;
                    take_time = 1'b1;
                    phase_next = P_HOST;
                    idx_next = 16'd0;
                end else begin
                    full = 1'b1;
                    if (d_host && dleft != 16'd0) begin
                        phase_next = P_DRAIN;
                    end else begin
                        pop_dec = 1'b1;
                    end
                end
            end
            P_HOST: begin
                if (xfer) begin
                    idx_next = idx + 16'd1;
                    if (idx >= META_WORDS) begin
                        pop_rxf = 1'b1;
                        dleft_next = dleft - 16'd1;
                    end
                    if (m_axis_tlast) begin
                        pop_dec = 1'b1;
                    end
                end
            end
            default: begin   // P_DRAIN
                if (dleft != 16'd0 && rxf_valid) begin
                    pop_rxf = 1'b1;
                    dleft_next = dleft - 16'd1;
                end
                if (dleft_next == 16'd0) begin
                    pop_dec = 1'b1;
                end
            end
        endcase
        if (pop_dec) begin
            init_next = 1'b1;
        end
    end
end

assign dec_ready = pop_dec;
assign rxf_ready = pop_rxf;
assign host_req = req;
assign host_words = host_total;
assign cnt_punt = punt;
assign cnt_host_full = full;
assign busy = !init_reg;

always @(posedge clk) begin
    if (take_time) begin
        meta_time_reg <= now;
    end
end

always @(posedge clk) begin
    init_reg <= init_next;
    phase_reg <= phase_next;
    idx_reg <= idx_next;
    dleft_reg <= dleft_next;
    if (rst) begin
        init_reg <= 1'b1;
        phase_reg <= P_MAIN;
        idx_reg <= 16'd0;
        dleft_reg <= 16'd0;
    end
end

endmodule

`resetall
