`timescale 1ns / 1ps
`default_nettype none

// ofl_frame_fifo: only committed words come out, once and in order, committed frames follow each
// other with no bubble; rollback drops the frame being written (the word written in the same cycle
// too), trim keeps only its first trim_words words; free counts tentative words as used, exactly.
module ofl_frame_fifo_tb;

parameter WIDTH = 16;
parameter DEPTH = 8;

`define TB_NAME $sformatf("ofl_frame_fifo WIDTH=%0d DEPTH=%0d", WIDTH, DEPTH)
`include "tb_common.vh"

reg rst = 1'b1;
reg [WIDTH-1:0] wr_data = 0;
reg wr_en = 1'b0, commit = 1'b0, rollback = 1'b0, trim = 1'b0, m_ready = 1'b0;
reg [31:0] trim_words = 0;
wire [31:0] free;
wire [WIDTH-1:0] m_data;
wire m_valid, empty;

ofl_frame_fifo #(.WIDTH(WIDTH), .DEPTH(DEPTH)) dut (
    .clk(clk), .rst(rst),
    .wr_data(wr_data), .wr_en(wr_en), .commit(commit), .rollback(rollback), .trim(trim),
    .trim_words(trim_words), .free(free),
    .m_data(m_data), .m_valid(m_valid), .m_ready(m_ready),
    .empty(empty)
);

// model: committed words (with the cycle of their commit) and the frame being written
localparam QN = 8192;
reg [WIDTH-1:0] q[0:QN-1];
integer qt[0:QN-1];
integer head = 0, tail = 0, last_pop = -10;
reg [WIDTH-1:0] tent[0:QN-1];
integer ntent = 0;
integer target = 4;               // words the writer means to write for its frame
integer p_wr = 70, p_pop = 50, p_end_rb = 20, p_end_trim = 20;
integer n_commit = 0, n_rb = 0, n_trim = 0, n_out = 0;

function automatic integer max2(input integer a, input integer b);
    max2 = a > b ? a : b;
endfunction

task automatic step;
    integer n, exp_free, k, end_kind;
    @(posedge clk);
    n = tail - head;
    if (rst) begin
        head = tail;
        ntent = 0;
    end else begin
        exp_free = DEPTH - (ntent + n - (m_valid === 1'b1 ? 1 : 0));
        if (free !== exp_free)
            err($sformatf("free=%0d, expected %0d (%0d tentative, %0d committed)", free, exp_free, ntent, n));
        if (empty !== (n == 0))
            err($sformatf("empty=%b with %0d committed words inside", empty, n));
        if (m_valid === 1'b1) begin
            if (n == 0) err("m_valid with no committed word");
            else if (m_data !== q[head % QN])
                err($sformatf("m_data=%h, expected %h", m_data, q[head % QN]));
            else if (qt[head % QN] > cycle - 2)
                err("word visible less than two cycles after its commit");
        end else if (m_valid !== 1'b0) begin
            err("m_valid is X");
        end else if (n > 0 && cycle >= max2(qt[head % QN] + 2, last_pop + 1)) begin
            err($sformatf("bubble: %0d committed words, m_valid=0", n));
        end
        if (m_valid && m_ready) begin
            head = head + 1;
            last_pop = cycle;
            n_out = n_out + 1;
        end
        if (wr_en) begin
            tent[ntent] = wr_data;
            ntent = ntent + 1;
        end
        if (rollback) begin
            ntent = 0;
            n_rb = n_rb + 1;
        end else if (trim || commit) begin
            k = trim ? trim_words : ntent;
            for (int i = 0; i < k; i++) begin
                q[tail % QN] = tent[i];
                qt[tail % QN] = cycle;
                tail = tail + 1;
            end
            ntent = 0;
            if (trim) n_trim = n_trim + 1; else n_commit = n_commit + 1;
        end
        // next inputs; free after this edge (pessimistic: the pop's room shows a cycle later)
        exp_free = DEPTH - (ntent + (tail - head) - (m_valid && !m_ready ? 1 : 0)) - 1;
        wr_en <= 1'b0;
        commit <= 1'b0;
        rollback <= 1'b0;
        trim <= 1'b0;
        wr_data <= $random(seed);
        if (ntent < target && exp_free > 0 && chance(p_wr)) begin
            wr_en <= 1'b1;
            ntent = ntent + 1;   // counted back below; decides whether this word ends the frame
            if (ntent == target && chance(50)) end_kind = 1; else end_kind = 0;
            ntent = ntent - 1;
        end else begin
            // a frame larger than the FIFO can only end when it is full with nothing to read
            end_kind = ntent == target || (exp_free <= 0 && tail == head) ? 2 : 0;
        end
        if (end_kind != 0) begin
            // end the frame: rollback (an oversize frame), trim (host TX length) or commit
            k = ntent + (end_kind == 1 ? 1 : 0);
            if (chance(p_end_rb)) rollback <= 1'b1;
            else if (chance(p_end_trim)) begin
                trim <= 1'b1;
                trim_words <= rnd(k + 1);
            end else commit <= 1'b1;
            target = chance(5) ? DEPTH + 1 + rnd(4) : 1 + rnd(DEPTH);
        end
    end
    m_ready <= chance(p_pop);
endtask

task automatic phase(input integer wr, input integer pop, input integer cycles);
    p_wr = wr;
    p_pop = pop;
    repeat (cycles) step;
endtask

initial begin
    repeat (3) step;
    rst <= 1'b0;
    phase(100, 100, 500);
    phase(100, 0, 50);
    phase(0, 100, 50);
    phase(70, 30, 2000);
    phase(30, 70, 2000);
    phase(90, 90, 2000);
    p_end_rb = 0;
    p_end_trim = 0;
    phase(100, 100, 1000);
    rst <= 1'b1;
    step;
    rst <= 1'b0;
    p_end_rb = 30;
    p_end_trim = 30;
    phase(60, 60, 2000);
    phase(0, 100, DEPTH + 8);
    $display("  %0d commits, %0d trims, %0d rollbacks, %0d words out", n_commit, n_trim, n_rb, n_out);
    tb_finish;
end

endmodule
