`resetall
`timescale 1ns / 1ps
`default_nettype none

// 3 sources (dispatch0, dispatch1, host TX) x 3 destinations (tx0, tx1, host RX queue). Each
// destination has a round-robin arbiter that stays locked on a source for a whole frame and picks
// again combinationally in the cycle after tlast, so back-to-back frames need no bubble.
// Sources and destinations are packed: source s in bits [s*DATA_W +: DATA_W] etc.
module ofl_xbar #(
    parameter DATA_W = 64
) (
    input  wire                  clk,
    input  wire                  rst,

    input  wire [3*DATA_W-1:0]   s_axis_tdata,
    input  wire [3*DATA_W/8-1:0] s_axis_tkeep,
    input  wire [2:0]            s_axis_tvalid,
    output wire [2:0]            s_axis_tready,
    input  wire [2:0]            s_axis_tlast,
    input  wire [5:0]            s_axis_tdest,

    output wire [3*DATA_W-1:0]   m_axis_tdata,
    output wire [3*DATA_W/8-1:0] m_axis_tkeep,
    output wire [2:0]            m_axis_tvalid,
    input  wire [2:0]            m_axis_tready,
    output wire [2:0]            m_axis_tlast,

    output wire                  busy
);

localparam KW = DATA_W / 8;

reg [2:0] lock_reg = 3'd0;
reg [5:0] sel_reg;     // per destination d: bits [2*d +: 2]
reg [5:0] last_reg;

// round-robin: the source after the last one granted goes first
function [1:0] rr_pick;
    input [2:0] req;
    input [1:0] last;
    begin
        rr_pick = 2'd3;
        case (last)
            2'd0: rr_pick = req[1] ? 2'd1 : req[2] ? 2'd2 : req[0] ? 2'd0 : 2'd3;
            2'd1: rr_pick = req[2] ? 2'd2 : req[0] ? 2'd0 : req[1] ? 2'd1 : 2'd3;
            default: rr_pick = req[0] ? 2'd0 : req[1] ? 2'd1 : req[2] ? 2'd2 : 2'd3;
        endcase
    end
endfunction

// per destination d (a constant in each generate block, so no arrays or loops are left to
// evaluate): the requesting sources, the one served this cycle (3 = none) and the output mux
wire [1:0] act[0:2];
genvar gd;
generate
    for (gd = 0; gd < 3; gd = gd + 1) begin : dst
        localparam [1:0] D = gd;
        wire [2:0] req = {s_axis_tvalid[2] && s_axis_tdest[5:4] == D, s_axis_tvalid[1] && s_axis_tdest[3:2] == D,
                          s_axis_tvalid[0] && s_axis_tdest[1:0] == D};
        wire [1:0] a = lock_reg[gd] ? sel_reg[2*gd +: 2] : rr_pick(req, last_reg[2*gd +: 2]);
        assign act[gd] = a;
        assign m_axis_tdata[gd*DATA_W +: DATA_W] = a == 2'd0 ? s_axis_tdata[0 +: DATA_W]
                                                 : a == 2'd1 ? s_axis_tdata[DATA_W +: DATA_W]
                                                 : a == 2'd2 ? s_axis_tdata[2*DATA_W +: DATA_W] : {DATA_W{1'b0}};
        assign m_axis_tkeep[gd*KW +: KW] = a == 2'd0 ? s_axis_tkeep[0 +: KW]
                                         : a == 2'd1 ? s_axis_tkeep[KW +: KW]
                                         : a == 2'd2 ? s_axis_tkeep[2*KW +: KW] : {KW{1'b0}};
        assign m_axis_tvalid[gd] = a == 2'd0 ? req[0] : a == 2'd1 ? req[1] : a == 2'd2 ? req[2] : 1'b0;
        assign m_axis_tlast[gd] = a == 2'd0 ? s_axis_tlast[0] : a == 2'd1 ? s_axis_tlast[1]
                                : a == 2'd2 ? s_axis_tlast[2] : 1'b0;
    end
endgenerate

// source s is ready when the destination serving it takes the word; should two destinations name
// the same source, the highest-numbered one decides
genvar gs;
generate
    for (gs = 0; gs < 3; gs = gs + 1) begin : src
        localparam [1:0] S = gs;
        wire [1:0] sd = s_axis_tdest[2*gs +: 2];
        assign s_axis_tready[gs] = act[2] == S ? m_axis_tready[2] && sd == 2'd2
                                 : act[1] == S ? m_axis_tready[1] && sd == 2'd1
                                 : act[0] == S ? m_axis_tready[0] && sd == 2'd0 : 1'b0;
    end
endgenerate

integer d;
always @(posedge clk) begin
    for (d = 0; d < 3; d = d + 1) begin
        if (m_axis_tvalid[d] && m_axis_tready[d]) begin
            lock_reg[d] <= !m_axis_tlast[d];
            sel_reg[2*d +: 2] <= act[d];
            if (m_axis_tlast[d]) begin
                last_reg[2*d +: 2] <= act[d];
            end
        end
    end
    if (rst) begin
        lock_reg <= 3'd0;
        for (d = 0; d < 3; d = d + 1) begin
            last_reg[2*d +: 2] <= 2'd2;
        end
    end
end

assign busy = |lock_reg;

endmodule

`resetall
