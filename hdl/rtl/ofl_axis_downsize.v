`resetall
`timescale 1ns / 1ps
`default_nettype none

// DATA_W-bit words (offload_top's lane order and tkeep rules) to a byte stream: a word is held
// and its kept bytes handed out lane by lane; the next word is taken as the last byte of this one
// goes, so a word of WB bytes costs WB clocks.
module ofl_axis_downsize #(
    parameter DATA_W = 64
) (
    input  wire                clk,
    input  wire                rst,

    input  wire [DATA_W-1:0]   s_axis_tdata,
    input  wire [DATA_W/8-1:0] s_axis_tkeep,
    input  wire                s_axis_tvalid,
    output wire                s_axis_tready,
    input  wire                s_axis_tlast,

    output wire [7:0]          m_axis_tdata,
    output wire                m_axis_tvalid,
    input  wire                m_axis_tready,
    output wire                m_axis_tlast
);

localparam WB = DATA_W / 8;
localparam LW = WB > 1 ? $clog2(WB) : 1;

`ifndef SYNTHESIS
initial begin
    if (DATA_W != 8 && DATA_W != 16 && DATA_W != 32 && DATA_W != 64) begin
        $error("ofl_axis_downsize: DATA_W must be 8, 16, 32 or 64");
        $finish;
    end
end
`endif

reg [DATA_W-1:0] data_reg = 0;
reg [WB:0] keep_reg = 0;                 // one bit more: past the last lane is never kept
reg last_reg = 1'b0;
reg valid_reg = 1'b0;
reg [LW-1:0] lane_reg = 0;

// only the lowest bits of these are looked at
/* verilator lint_off UNUSEDSIGNAL */
wire [WB:0] keep_from = keep_reg >> lane_reg;
wire [DATA_W-1:0] shifted = data_reg >> (8 * lane_reg);
/* verilator lint_on UNUSEDSIGNAL */
wire lane_last = !keep_from[1];
wire word_out = valid_reg && m_axis_tready && lane_last;
wire take = s_axis_tvalid && (!valid_reg || word_out);

assign s_axis_tready = !valid_reg || word_out;
assign m_axis_tdata = shifted[7:0];
assign m_axis_tvalid = valid_reg;
assign m_axis_tlast = last_reg && lane_last;

always @(posedge clk) begin
    if (valid_reg && m_axis_tready) begin
        lane_reg <= lane_reg + 1'b1;
        if (lane_last) begin
            valid_reg <= 1'b0;
            lane_reg <= 0;
        end
    end
    if (take) begin
        data_reg <= s_axis_tdata;
        keep_reg <= {1'b0, s_axis_tkeep};
        last_reg <= s_axis_tlast;
        valid_reg <= 1'b1;
        lane_reg <= 0;
    end
    if (rst) begin
        valid_reg <= 1'b0;
        lane_reg <= 0;
    end
end

endmodule

`resetall
