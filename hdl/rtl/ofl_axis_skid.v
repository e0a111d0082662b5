`resetall
`timescale 1ns / 1ps
`default_nettype none

// Register slice for a frame stream: registered outputs and a registered tready (a skid register
// takes the word that arrives in the cycle the sink stops), full throughput while the sink is ready.
module ofl_axis_skid #(
    parameter DATA_W = 64
) (
    input  wire                clk,
    input  wire                rst,

    input  wire [DATA_W-1:0]   s_axis_tdata,
    input  wire [DATA_W/8-1:0] s_axis_tkeep,
    input  wire                s_axis_tvalid,
    output wire                s_axis_tready,
    input  wire                s_axis_tlast,

    output wire [DATA_W-1:0]   m_axis_tdata,
    output wire [DATA_W/8-1:0] m_axis_tkeep,
    output wire                m_axis_tvalid,
    input  wire                m_axis_tready,
    output wire                m_axis_tlast,

    output wire                busy
);

localparam W = DATA_W + DATA_W/8 + 1;

reg [W-1:0] out_reg;
reg out_valid_reg = 1'b0;
reg [W-1:0] skid_reg;
reg skid_valid_reg = 1'b0;

wire [W-1:0] in_word = {s_axis_tlast, s_axis_tkeep, s_axis_tdata};

assign s_axis_tready = !skid_valid_reg;
assign {m_axis_tlast, m_axis_tkeep, m_axis_tdata} = out_reg;
assign m_axis_tvalid = out_valid_reg;
assign busy = out_valid_reg || skid_valid_reg;

always @(posedge clk) begin
    if (!out_valid_reg || m_axis_tready) begin
        if (skid_valid_reg) begin
            out_reg <= skid_reg;
            out_valid_reg <= 1'b1;
            skid_valid_reg <= 1'b0;
        end else begin
            out_reg <= in_word;
            out_valid_reg <= s_axis_tvalid;
        end
    end else if (s_axis_tvalid && !skid_valid_reg) begin
        skid_reg <= in_word;
        skid_valid_reg <= 1'b1;
    end
    if (rst) begin
        out_valid_reg <= 1'b0;
        skid_valid_reg <= 1'b0;
    end
end

endmodule

`resetall
