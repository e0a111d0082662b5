`resetall
`timescale 1ns / 1ps
`default_nettype none

// Byte stream to DATA_W-bit words, in the lane order of offload_top's ports: byte 0 of a frame in
// tdata[7:0] of its first word, every word but a frame's last full, the last word's tkeep contiguous
// from bit 0. Bytes gather in an accumulator; a full word, or the end of a frame, moves to the
// output register, so the output is registered and a stalled sink stalls the byte stream.
module ofl_axis_upsize #(
    parameter DATA_W = 64
) (
    input  wire                clk,
    input  wire                rst,

    input  wire [7:0]          s_axis_tdata,
    input  wire                s_axis_tvalid,
    output wire                s_axis_tready,
    input  wire                s_axis_tlast,

    output wire [DATA_W-1:0]   m_axis_tdata,
    output wire [DATA_W/8-1:0] m_axis_tkeep,
    output wire                m_axis_tvalid,
    input  wire                m_axis_tready,
    output wire                m_axis_tlast
);

localparam WB = DATA_W / 8;
localparam LW = WB > 1 ? $clog2(WB) : 1;
localparam integer LAST_I = WB - 1;
localparam [LW-1:0] LAST_LANE = LAST_I[LW-1:0];

`ifndef SYNTHESIS
initial begin
    if (DATA_W != 8 && DATA_W != 16 && DATA_W != 32 && DATA_W != 64) begin
        $error("ofl_axis_upsize: DATA_W must be 8, 16, 32 or 64");
        $finish;
    end
end
`endif

reg [DATA_W-1:0] acc_data_reg = 0;
reg [WB-1:0] acc_keep_reg = 0;
reg [LW-1:0] lane_reg = 0;
reg [DATA_W-1:0] out_data_reg = 0;
reg [WB-1:0] out_keep_reg = 0;
reg out_last_reg = 1'b0;
reg out_valid_reg = 1'b0;

wire ready = !out_valid_reg || m_axis_tready;
wire beat = s_axis_tvalid && ready;
wire word_done = s_axis_tlast || lane_reg == LAST_LANE;
wire [DATA_W-1:0] lane_data = {{(DATA_W-8){1'b0}}, s_axis_tdata} << (8 * lane_reg);
wire [WB-1:0] lane_keep = {{(WB-1){1'b0}}, 1'b1} << lane_reg;

assign s_axis_tready = ready;
assign m_axis_tdata = out_data_reg;
assign m_axis_tkeep = out_keep_reg;
assign m_axis_tvalid = out_valid_reg;
assign m_axis_tlast = out_last_reg;

always @(posedge clk) begin
    if (m_axis_tready) begin
        out_valid_reg <= 1'b0;
    end
    if (beat) begin
        if (word_done) begin
            out_data_reg <= acc_data_reg | lane_data;
            out_keep_reg <= acc_keep_reg | lane_keep;
            out_last_reg <= s_axis_tlast;
            out_valid_reg <= 1'b1;
            acc_data_reg <= 0;
            acc_keep_reg <= 0;
            lane_reg <= 0;
        end else begin
            acc_data_reg <= acc_data_reg | lane_data;
            acc_keep_reg <= acc_keep_reg | lane_keep;
            lane_reg <= lane_reg + 1'b1;
        end
    end
    if (rst) begin
        acc_data_reg <= 0;
        acc_keep_reg <= 0;
        lane_reg <= 0;
        out_valid_reg <= 1'b0;
    end
end

endmodule

`resetall
