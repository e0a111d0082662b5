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

// per destination: the requesting sources and the one served this cycle (3 = none); the outputs
// are one mux per destination
reg [1:0] act[0:2];
reg [2:0] req[0:2];
reg [DATA_W-1:0] d_data[0:2];
reg [KW-1:0] d_keep[0:2];
reg [2:0] d_valid, d_last;
reg [2:0] rdy;
integer d, s;
always @* begin
    rdy = 3'd0;
    for (d = 0; d < 3; d = d + 1) begin
        for (s = 0; s < 3; s = s + 1) begin
            req[d][s] = s_axis_tvalid[s] && s_axis_tdest[2*s +: 2] == d[1:0];
        end
        act[d] = lock_reg[d] ? sel_reg[2*d +: 2] : rr_pick(req[d], last_reg[2*d +: 2]);
        case (act[d])
            2'd0: begin
                d_data[d] = s_axis_tdata[0 +: DATA_W];
                d_keep[d] = s_axis_tkeep[0 +: KW];
                d_valid[d] = req[d][0];
                d_last[d] = s_axis_tlast[0];
                rdy[0] = m_axis_tready[d] && s_axis_tdest[1:0] == d[1:0];
            end
            2'd1: begin
                d_data[d] = s_axis_tdata[DATA_W +: DATA_W];
                d_keep[d] = s_axis_tkeep[KW +: KW];
                d_valid[d] = req[d][1];
                d_last[d] = s_axis_tlast[1];
                rdy[1] = m_axis_tready[d] && s_axis_tdest[3:2] == d[1:0];
            end
            2'd2: begin
                d_data[d] = s_axis_tdata[2*DATA_W +: DATA_W];
                d_keep[d] = s_axis_tkeep[2*KW +: KW];
                d_valid[d] = req[d][2];
                d_last[d] = s_axis_tlast[2];
                rdy[2] = m_axis_tready[d] && s_axis_tdest[5:4] == d[1:0];
            end
            default: begin
                d_data[d] = {DATA_W{1'b0}};
                d_keep[d] = {KW{1'b0}};
                d_valid[d] = 1'b0;
                d_last[d] = 1'b0;
            end
        endcase
    end
    s_axis_tready = rdy;
    m_axis_tdata = {d_data[2], d_data[1], d_data[0]};
    m_axis_tkeep = {d_keep[2], d_keep[1], d_keep[0]};
    m_axis_tvalid = d_valid;
    m_axis_tlast = d_last;
end

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
