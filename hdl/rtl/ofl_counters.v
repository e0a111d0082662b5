`resetall
`timescale 1ns / 1ps
`default_nettype none

// 64-bit event counters in flops: 16 per port (OFL_CNT_* order) and 2 global. Counter n is
// port n/16 index n%16 for n < 32, global n-32 above. RX_BYTES and TX_BYTES add a byte count when
// their frame counter increments. A clear and an increment in the same cycle leave the increment.
module ofl_counters (
    input  wire        clk,
    input  wire        rst,

    input  wire [15:0] inc0,
    input  wire [31:0] rx_bytes0,
    input  wire [31:0] tx_bytes0,
    input  wire [15:0] inc1,
    input  wire [31:0] rx_bytes1,
    input  wire [31:0] tx_bytes1,
    input  wire [1:0]  inc_global,

    input  wire [5:0]  rd_idx,
    output wire [63:0] rd_val,
    input  wire        clr,
    input  wire [5:0]  clr_idx
);

`include "offload_regs.vh"

localparam N = 34;

// One flop group per counter (no array), each written only when it counts or is cleared, so a
// cycle without events costs nothing. A clear and an increment in the same cycle give 0 + amount.
function [63:0] amount;
    input [31:0] bytes;
    input        is_bytes;
    begin
        amount = is_bytes ? {32'd0, bytes} : 64'd1;
    end
endfunction

// any counter changes this cycle (one test skips all of them when nothing happens)
wire ev = inc0 != 16'd0 || inc1 != 16'd0 || inc_global != 2'd0 || clr;

genvar g;
generate
    for (g = 0; g < N; g = g + 1) begin : c
        localparam I = g % 16;
        localparam IS_BYTES = g < 32 && (I == `OFL_CNT_RX_BYTES || I == `OFL_CNT_TX_BYTES);
        localparam SRC = I == `OFL_CNT_RX_BYTES ? `OFL_CNT_RX_FRAMES : I == `OFL_CNT_TX_BYTES ? `OFL_CNT_TX_FRAMES : I;
        localparam [5:0] IDX = g;
        wire [31:0] bytes = g < 16 ? (I == `OFL_CNT_RX_BYTES ? rx_bytes0 : tx_bytes0)
                                   : (I == `OFL_CNT_RX_BYTES ? rx_bytes1 : tx_bytes1);
        wire inc = g < 16 ? inc0[SRC] : g < 32 ? inc1[SRC] : inc_global[g - 32];
        reg [63:0] v;
        always @(posedge clk) begin
            if (ev) begin
                if (inc) begin
                    v <= (clr && clr_idx == IDX ? 64'd0 : v) + amount(bytes, IS_BYTES);
                end else if (clr && clr_idx == IDX) begin
                    v <= 64'd0;
                end
            end
            if (rst) begin
                v <= 64'd0;
            end
        end
    end
endgenerate

reg [63:0] rd;
always @* begin
    case (rd_idx)
        6'd0: rd = c[0].v;
        6'd1: rd = c[1].v;
        6'd2: rd = c[2].v;
        6'd3: rd = c[3].v;
        6'd4: rd = c[4].v;
        6'd5: rd = c[5].v;
        6'd6: rd = c[6].v;
        6'd7: rd = c[7].v;
        6'd8: rd = c[8].v;
        6'd9: rd = c[9].v;
        6'd10: rd = c[10].v;
        6'd11: rd = c[11].v;
        6'd12: rd = c[12].v;
        6'd13: rd = c[13].v;
        6'd14: rd = c[14].v;
        6'd15: rd = c[15].v;
        6'd16: rd = c[16].v;
        6'd17: rd = c[17].v;
        6'd18: rd = c[18].v;
        6'd19: rd = c[19].v;
        6'd20: rd = c[20].v;
        6'd21: rd = c[21].v;
        6'd22: rd = c[22].v;
        6'd23: rd = c[23].v;
        6'd24: rd = c[24].v;
        6'd25: rd = c[25].v;
        6'd26: rd = c[26].v;
        6'd27: rd = c[27].v;
        6'd28: rd = c[28].v;
        6'd29: rd = c[29].v;
        6'd30: rd = c[30].v;
        6'd31: rd = c[31].v;
        6'd32: rd = c[32].v;
        6'd33: rd = c[33].v;
        default: rd = 64'd0;
    endcase
end
assign rd_val = rd;

// the byte counters' own increment bits are implied by the frame counters
wire unused = ^{inc0[`OFL_CNT_RX_BYTES], inc0[`OFL_CNT_TX_BYTES], inc1[`OFL_CNT_RX_BYTES], inc1[`OFL_CNT_TX_BYTES]};

endmodule

`resetall
