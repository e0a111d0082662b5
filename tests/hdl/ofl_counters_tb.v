`timescale 1ns / 1ps
`default_nettype none

// ofl_counters: 34 64-bit counters (16 per port, 2 global). Frame/event counters add one per
// increment bit, RX_BYTES/TX_BYTES add their byte count when RX_FRAMES/TX_FRAMES increment (their own
// bits are ignored); random 32-bit byte counts carry into the high half within a few cycles. A clear
// and an increment in the same cycle leave the increment; rd_val is 0 past the last counter.
// Reads are requests held until rd_ack: rd_val then holds all 64 bits as of the cycle before, whatever
// the traffic; reads come back to back and one at a time, and each is acked within 2 cycles (reads
// steal the round robin's slots, yet the accumulators never overflow: every value is checked).
// (Latching HI on a LO read is ofl_csr's job, outside this module.)
module ofl_counters_tb;

`define TB_NAME "ofl_counters"
`include "tb_common.vh"
`include "offload_regs.vh"

reg rst = 1'b1;
reg [15:0] inc0 = 0, inc1 = 0;
reg [31:0] rx_bytes0 = 0, tx_bytes0 = 0, rx_bytes1 = 0, tx_bytes1 = 0;
reg [1:0] inc_global = 0;
reg [5:0] rd_idx = 0, clr_idx = 0;
reg clr = 1'b0, rd_req = 1'b0;
wire rd_ack;
wire [63:0] rd_val;

ofl_counters dut (
    .clk(clk), .rst(rst),
    .inc0(inc0), .rx_bytes0(rx_bytes0), .tx_bytes0(tx_bytes0),
    .inc1(inc1), .rx_bytes1(rx_bytes1), .tx_bytes1(tx_bytes1),
    .inc_global(inc_global),
    .rd_req(rd_req), .rd_idx(rd_idx), .rd_ack(rd_ack), .rd_val(rd_val), .clr(clr), .clr_idx(clr_idx)
);

reg [63:0] model[0:33];
reg was_reset = 1'b0;
integer p_inc = 30, p_clr = 5, p_rd = 50, n_carry = 0, n_reads = 0, n_past = 0, wait_cyc = 0;

function automatic [63:0] add_port(input integer i, input [15:0] inc, input [31:0] rxb, input [31:0] txb);
    if (i == `OFL_CNT_RX_BYTES) add_port = inc[`OFL_CNT_RX_FRAMES] ? {32'd0, rxb} : 64'd0;
    else if (i == `OFL_CNT_TX_BYTES) add_port = inc[`OFL_CNT_TX_FRAMES] ? {32'd0, txb} : 64'd0;
    else add_port = {63'd0, inc[i]};
endfunction

task automatic step;
    @(posedge clk);
    // the counters hold X until the first reset
    if (rd_ack && !rd_req) err("rd_ack without rd_req");
    if (rd_ack && rd_req) begin
        if (was_reset && rd_val !== (rd_idx < 34 ? model[rd_idx] : 64'd0))
            err($sformatf("rd_val[%0d]=%h, expected %h", rd_idx, rd_val, rd_idx < 34 ? model[rd_idx] : 64'd0));
        n_reads = n_reads + 1;
        if (rd_idx >= 34) n_past = n_past + 1;
    end
    if (rd_req && !rd_ack && !rst) begin
        wait_cyc = wait_cyc + 1;
        if (wait_cyc > 2) err($sformatf("read of %0d not acked within 2 cycles", rd_idx));
    end else wait_cyc = 0;
    for (int i = 0; i < 34; i++) begin
        if (rst || (clr && clr_idx == i)) model[i] = 64'd0;
        if (!rst) begin
            if (i < 16) model[i] = model[i] + add_port(i, inc0, rx_bytes0, tx_bytes0);
            else if (i < 32) model[i] = model[i] + add_port(i - 16, inc1, rx_bytes1, tx_bytes1);
            else model[i] = model[i] + inc_global[i - 32];
        end
    end
    if (rst) was_reset = 1'b1;
    if (model[`OFL_CNT_RX_BYTES][63:32] != 0) n_carry = n_carry + 1;
    for (int b = 0; b < 16; b++) begin
        inc0[b] <= chance(p_inc);
        inc1[b] <= chance(p_inc);
    end
    inc_global <= {chance(p_inc), chance(p_inc)};
    rx_bytes0 <= $random(seed);
    tx_bytes0 <= $random(seed);
    rx_bytes1 <= $random(seed);
    tx_bytes1 <= $random(seed);
    // a new read (or none) once the last one is acked, else the same one held
    if (!rd_req || rd_ack) begin
        rd_req <= chance(p_rd);
        rd_idx <= rnd(40);
    end
    clr <= chance(p_clr);
    clr_idx <= rnd(40);
endtask

initial begin
    for (int i = 0; i < 34; i++) model[i] = 0;
    repeat (3) step;
    rst <= 1'b0;
    repeat (3000) step;
    p_inc = 90;
    p_clr = 30;
    repeat (2000) step;
    p_rd = 100;
    repeat (2000) step;
    rst <= 1'b1;
    step;
    rst <= 1'b0;
    p_clr = 2;
    repeat (2000) step;
    if (n_carry == 0) err("no byte counter reached the high half");
    if (n_reads < 3000 || n_past == 0) err($sformatf("only %0d reads, %0d past the last", n_reads, n_past));
    tb_finish;
end

endmodule
