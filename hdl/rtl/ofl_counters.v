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

reg [63:0] cnt[0:N-1];

function [63:0] amount;
    input        inc;
    input [31:0] bytes;
    input        is_bytes;
    begin
        if (!inc) begin
            amount = 64'd0;
        end else if (is_bytes) begin
            amount = {32'd0, bytes};
        end else begin
            amount = 64'd1;
        end
    end
endfunction

integer i;
always @(posedge clk) begin
    for (i = 0; i < N; i = i + 1) begin
        if (i < 16) begin
            cnt[i] <= (clr && clr_idx == i[5:0] ? 64'd0 : cnt[i])
                    + amount(i == `OFL_CNT_RX_BYTES ? inc0[`OFL_CNT_RX_FRAMES] :
                             i == `OFL_CNT_TX_BYTES ? inc0[`OFL_CNT_TX_FRAMES] : inc0[i],
                             i == `OFL_CNT_RX_BYTES ? rx_bytes0 : tx_bytes0,
                             i == `OFL_CNT_RX_BYTES || i == `OFL_CNT_TX_BYTES);
        end else if (i < 32) begin
            cnt[i] <= (clr && clr_idx == i[5:0] ? 64'd0 : cnt[i])
                    + amount(i - 16 == `OFL_CNT_RX_BYTES ? inc1[`OFL_CNT_RX_FRAMES] :
                             i - 16 == `OFL_CNT_TX_BYTES ? inc1[`OFL_CNT_TX_FRAMES] : inc1[i-16],
                             i - 16 == `OFL_CNT_RX_BYTES ? rx_bytes1 : tx_bytes1,
                             i - 16 == `OFL_CNT_RX_BYTES || i - 16 == `OFL_CNT_TX_BYTES);
        end else begin
            cnt[i] <= (clr && clr_idx == i[5:0] ? 64'd0 : cnt[i]) + amount(inc_global[i-32], 32'd0, 1'b0);
        end
    end
    if (rst) begin
        for (i = 0; i < N; i = i + 1) begin
            cnt[i] <= 64'd0;
        end
    end
end

assign rd_val = rd_idx < N ? cnt[rd_idx] : 64'd0;

// the byte counters' own increment bits are implied by the frame counters
wire unused = ^{inc0[`OFL_CNT_RX_BYTES], inc0[`OFL_CNT_TX_BYTES], inc1[`OFL_CNT_RX_BYTES], inc1[`OFL_CNT_TX_BYTES]};

endmodule

`resetall
