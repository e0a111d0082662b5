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
    output reg  [2:0]            s_axis_tready,
    input  wire [2:0]            s_axis_tlast,
    input  wire [5:0]            s_axis_tdest,

    output reg  [3*DATA_W-1:0]   m_axis_tdata,
    output reg  [3*DATA_W/8-1:0] m_axis_tkeep,
    output reg  [2:0]            m_axis_tvalid,
    input  wire [2:0]            m_axis_tready,
    output reg  [2:0]            m_axis_tlast,

    output wire                  busy
);

localparam KW = DATA_W / 8;

reg [2:0] lock_reg = 3'd0;
reg [1:0] sel_reg[0:2];
reg [1:0] last_reg[0:2];

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

reg [1:0] act[0:2];     // source served by each destination this cycle (3 = none)
reg [2:0] req;
integer d, s;
always @* begin
    s_axis_tready = 3'd0;
    m_axis_tdata = {3*DATA_W{1'b0}};
    m_axis_tkeep = {3*KW{1'b0}};
    m_axis_tvalid = 3'd0;
    m_axis_tlast = 3'd0;
    for (d = 0; d < 3; d = d + 1) begin
        for (s = 0; s < 3; s = s + 1) begin
            req[s] = s_axis_tvalid[s] && s_axis_tdest[2*s +: 2] == d[1:0];
        end
        act[d] = lock_reg[d] ? sel_reg[d] : rr_pick(req, last_reg[d]);
        for (s = 0; s < 3; s = s + 1) begin
            if (act[d] == s[1:0]) begin
                m_axis_tdata[d*DATA_W +: DATA_W] = s_axis_tdata[s*DATA_W +: DATA_W];
                m_axis_tkeep[d*KW +: KW] = s_axis_tkeep[s*KW +: KW];
                m_axis_tvalid[d] = req[s];
                m_axis_tlast[d] = s_axis_tlast[s];
                s_axis_tready[s] = m_axis_tready[d] && s_axis_tdest[2*s +: 2] == d[1:0];
            end
        end
    end
end

always @(posedge clk) begin
    for (d = 0; d < 3; d = d + 1) begin
        if (m_axis_tvalid[d] && m_axis_tready[d]) begin
            lock_reg[d] <= !m_axis_tlast[d];
            sel_reg[d] <= act[d];
            if (m_axis_tlast[d]) begin
                last_reg[d] <= act[d];
            end
        end
    end
    if (rst) begin
        lock_reg <= 3'd0;
        for (d = 0; d < 3; d = d + 1) begin
            last_reg[d] <= 2'd2;
        end
    end
end

assign busy = |lock_reg;

endmodule

`resetall
