`resetall
`timescale 1ns / 1ps
`default_nettype none

// Ingress port: store-and-forward. The whole frame goes into the port's RX FIFO (its one copy: the
// dispatcher rewrites a forwarded frame as it streams out); the first 64 bytes are also captured into
// a header register for the lookup engine's decode. At tlast a descriptor goes to the lookup engine. The decisions a port can have outstanding are limited by credits, so the
// engine, which cannot stall, never overflows the port's decision FIFO.
//
// The descriptor also carries the IPv4 header checksum's sums, added up as the header streams in:
// m_desc_cs14 sums the ten big-endian 16-bit words at bytes 14..33 (the L3 header of an untagged
// frame), m_desc_cs18 those at bytes 18..37 (behind a VLAN tag), bytes past the end as 0, unfolded
// (20 bits). Why: summing ten words of the 512-bit header behind the engine's port select was the
// deepest logic of the lookup (ofl_decode); spread over the frame's words it costs a few adders here.
module ofl_rx #(
    parameter DATA_W = 64,
    parameter MAX_FRAME = 9600,
    parameter CREDITS = 16
) (
    input  wire                clk,
    input  wire                rst,

    input  wire [DATA_W-1:0]   s_axis_tdata,
    input  wire [DATA_W/8-1:0] s_axis_tkeep,
    input  wire                s_axis_tvalid,
    output wire                s_axis_tready,
    input  wire                s_axis_tlast,

    // RX FIFO write side
    output wire [DATA_W-1:0]   fifo_wr_data,
    output wire                fifo_wr_en,
    output wire                fifo_commit,
    output wire                fifo_rollback,
    input  wire [31:0]         fifo_free,

    // descriptor to the engine
    output wire [511:0]        m_desc_hdr,
    output wire [15:0]         m_desc_len,
    output wire [19:0]         m_desc_cs14,
    output wire [19:0]         m_desc_cs18,
    output wire                m_desc_ovs,
    output wire                m_desc_valid,
    input  wire                m_desc_ready,

    // the dispatcher popped one of this port's decisions
    input  wire                credit_return,

    // counters: a frame ended (RX_FRAMES) with this many bytes (RX_BYTES)
    output wire                cnt_frame,
    output wire [31:0]         cnt_bytes,

    output wire                busy
);

localparam WB = DATA_W / 8;
localparam HW = 64 / WB;               // header words
localparam IW = $clog2(HW) + 1;        // word index, saturates at HW
localparam CW = $clog2(CREDITS + 1);
localparam [IW-1:0] HW_C = HW[IW-1:0];
localparam [CW-1:0] CREDITS_C = CREDITS;

`ifndef SYNTHESIS
// parameter checks (simulation and lint; synthesis tools skip them)
initial begin
    if (DATA_W != 8 && DATA_W != 16 && DATA_W != 32 && DATA_W != 64) begin
        $error("ofl_rx: DATA_W must be 8, 16, 32 or 64");
        $finish;
    end
    if (MAX_FRAME < 64 || MAX_FRAME > 65535) begin
        $error("ofl_rx: MAX_FRAME must be 64..65535");
        $finish;
    end
end
`endif

reg in_frame_reg = 1'b0;
reg [IW-1:0] widx_reg = 0;
reg [31:0] bytes_reg = 0;
reg ovs_reg = 1'b0;
// header words of the frame being received (word i valid when i < widx_reg)
reg [DATA_W-1:0] hdr_w[0:HW-1];
// two descriptor slots (slot 0 is the head): when both ports end a frame in the same cycle, the one
// the engine serves second still has room for the tlast of a frame only one word long
reg [511:0] desc_hdr0_reg, desc_hdr1_reg;
reg [15:0] desc_len0_reg, desc_len1_reg;
reg [19:0] desc_cs14_0_reg, desc_cs14_1_reg, desc_cs18_0_reg, desc_cs18_1_reg;
reg [19:0] cs14_reg = 20'd0, cs18_reg = 20'd0;
reg desc_ovs0_reg, desc_ovs1_reg;
reg [1:0] desc_cnt_reg = 2'd0;
reg [CW-1:0] inflight_reg = 0;

// tready does not look at the input word: the FIFO must have room (unless the frame is already
// being dropped as oversize), the port must hold a credit, and the descriptor slot must be free or
// leaving this cycle.
wire space_ok = ovs_reg || fifo_free != 0;
wire credit_ok = inflight_reg < CREDITS_C;
wire desc_ok = desc_cnt_reg != 2'd2 || m_desc_ready;
assign s_axis_tready = space_ok && credit_ok && desc_ok;

wire xfer = s_axis_tvalid && s_axis_tready;

reg [3:0] nbytes;
integer k;
always @* begin
    nbytes = 0;
    for (k = 0; k < WB; k = k + 1) begin
        nbytes = nbytes + {3'd0, s_axis_tkeep[k]};
    end
    if (!s_axis_tlast) begin
        nbytes = WB[3:0];
    end
end

wire [31:0] len_now = bytes_reg + {28'd0, nbytes};
wire ovs_now = ovs_reg || len_now > MAX_FRAME;
wire is_hdr_word = widx_reg < HW_C;

// header: bytes not kept are zero, and a new frame starts from an all-zero header, so bytes past the
// end of a short frame are deterministic. Each header word is stored as it arrives; the 512-bit
// header is assembled only at tlast (words before the current one, the current one, zeros).
function [DATA_W-1:0] masked;
    input [DATA_W-1:0] d;
    input [DATA_W/8-1:0] keep;
    integer b;
    begin
        for (b = 0; b < WB; b = b + 1) begin
            masked[8*b +: 8] = keep[b] ? d[8*b +: 8] : 8'd0;
        end
    end
endfunction

wire [31:0] widx32 = {{(32-IW){1'b0}}, widx_reg};
wire [DATA_W-1:0] word_m = masked(s_axis_tdata, s_axis_tkeep);
integer w;

// checksum sums: byte b of this word is frame byte p = widx * WB + b; an even p is the high byte of
// its 16-bit word. Only header words (widx < HW) reach bytes 14..37.
reg [19:0] cs14_add, cs18_add;
integer p;
always @* begin
    cs14_add = 20'd0;
    cs18_add = 20'd0;
    for (w = 0; w < WB; w = w + 1) begin
        p = widx32 * WB + w;
        if (p >= 14 && p < 34) begin
            cs14_add = cs14_add + (p % 2 == 0 ? {4'd0, word_m[8*w +: 8], 8'd0} : {12'd0, word_m[8*w +: 8]});
        end
        if (p >= 18 && p < 38) begin
            cs18_add = cs18_add + (p % 2 == 0 ? {4'd0, word_m[8*w +: 8], 8'd0} : {12'd0, word_m[8*w +: 8]});
        end
    end
end
wire [19:0] cs14_now = cs14_reg + cs14_add;
wire [19:0] cs18_now = cs18_reg + cs18_add;

wire frame_end = xfer && s_axis_tlast;

assign fifo_wr_data = s_axis_tdata;
assign fifo_wr_en = xfer && !ovs_now;
assign fifo_commit = frame_end && !ovs_now;
assign fifo_rollback = frame_end && ovs_now;

assign m_desc_hdr = desc_hdr0_reg;
assign m_desc_len = desc_len0_reg;
assign m_desc_cs14 = desc_cs14_0_reg;
assign m_desc_cs18 = desc_cs18_0_reg;
assign m_desc_ovs = desc_ovs0_reg;
assign m_desc_valid = desc_cnt_reg != 2'd0;

wire desc_pop = desc_cnt_reg != 2'd0 && m_desc_ready;
wire [15:0] len_sat = len_now > 32'hffff ? 16'hffff : len_now[15:0];
// where the new descriptor goes, after this cycle's pop
wire to_slot0 = frame_end && (desc_cnt_reg == 2'd0 || (desc_cnt_reg == 2'd1 && desc_pop));
wire to_slot1 = frame_end && !to_slot0;

assign cnt_frame = frame_end;
assign cnt_bytes = len_now;

assign busy = in_frame_reg || desc_cnt_reg != 2'd0;

always @(posedge clk) begin
    if (xfer && is_hdr_word) begin
        hdr_w[widx_reg[IW-2:0]] <= word_m;
    end
    if (desc_pop && desc_cnt_reg == 2'd2) begin
        desc_hdr0_reg <= desc_hdr1_reg;
        desc_len0_reg <= desc_len1_reg;
        desc_ovs0_reg <= desc_ovs1_reg;
        desc_cs14_0_reg <= desc_cs14_1_reg;
        desc_cs18_0_reg <= desc_cs18_1_reg;
    end
    if (to_slot0) begin
        for (w = 0; w < HW; w = w + 1) begin
            desc_hdr0_reg[w*DATA_W +: DATA_W] <= w < widx32 ? hdr_w[w] : w == widx32 ? word_m : {DATA_W{1'b0}};
        end
        desc_len0_reg <= len_sat;
        desc_ovs0_reg <= ovs_now;
        desc_cs14_0_reg <= cs14_now;
        desc_cs18_0_reg <= cs18_now;
    end
    if (to_slot1) begin
        for (w = 0; w < HW; w = w + 1) begin
            desc_hdr1_reg[w*DATA_W +: DATA_W] <= w < widx32 ? hdr_w[w] : w == widx32 ? word_m : {DATA_W{1'b0}};
        end
        desc_len1_reg <= len_sat;
        desc_ovs1_reg <= ovs_now;
        desc_cs14_1_reg <= cs14_now;
        desc_cs18_1_reg <= cs18_now;
    end
end

always @(posedge clk) begin
    desc_cnt_reg <= desc_cnt_reg + {1'b0, frame_end} - {1'b0, desc_pop};
    if (xfer) begin
        if (s_axis_tlast) begin
            in_frame_reg <= 1'b0;
            widx_reg <= 0;
            cs14_reg <= 20'd0;
            cs18_reg <= 20'd0;
            bytes_reg <= 0;
            ovs_reg <= 1'b0;
        end else begin
            in_frame_reg <= 1'b1;
            widx_reg <= is_hdr_word ? widx_reg + 1'b1 : widx_reg;
            cs14_reg <= cs14_now;
            cs18_reg <= cs18_now;
            bytes_reg <= len_now;
            ovs_reg <= ovs_now;
        end
    end
    inflight_reg <= inflight_reg + {{(CW-1){1'b0}}, frame_end} - {{(CW-1){1'b0}}, credit_return};
    if (rst) begin
        in_frame_reg <= 1'b0;
        widx_reg <= 0;
        bytes_reg <= 0;
        ovs_reg <= 1'b0;
        cs14_reg <= 20'd0;
        cs18_reg <= 20'd0;
        desc_cnt_reg <= 2'd0;
        inflight_reg <= 0;
    end
end

endmodule

`resetall
