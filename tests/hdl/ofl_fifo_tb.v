`timescale 1ns / 1ps
`default_nettype none

// ofl_fifo: every word pushed comes out once and in order; s_ready is exactly "the RAM has room"
// (capacity DEPTH plus the output register); a word shows two cycles after its push (registered
// output), and after a pop the next one follows with no bubble; a reset empties it.
module ofl_fifo_tb;

parameter WIDTH = 8;
parameter DEPTH = 16;

`define TB_NAME $sformatf("ofl_fifo WIDTH=%0d DEPTH=%0d", WIDTH, DEPTH)
`include "tb_common.vh"

reg rst = 1'b1;
reg [WIDTH-1:0] s_data = 0;
reg s_valid = 1'b0;
reg m_ready = 1'b0;
wire s_ready, m_valid, empty;
wire [WIDTH-1:0] m_data;

ofl_fifo #(.WIDTH(WIDTH), .DEPTH(DEPTH)) dut (
    .clk(clk), .rst(rst),
    .s_data(s_data), .s_valid(s_valid), .s_ready(s_ready),
    .m_data(m_data), .m_valid(m_valid), .m_ready(m_ready),
    .empty(empty)
);

// model: the words inside, each with the cycle of its push
localparam QN = 4096;
reg [WIDTH-1:0] q[0:QN-1];
integer qt[0:QN-1];
integer head = 0, tail = 0, last_pop = -10;
integer p_push = 50, p_pop = 50, n_in = 0, n_out = 0;

function automatic integer max2(input integer a, input integer b);
    max2 = a > b ? a : b;
endfunction

task automatic step;
    integer n;
    @(posedge clk);
    n = tail - head;
    if (rst) begin
        head = tail;
    end else begin
        if (empty !== (n == 0))
            err($sformatf("empty=%b with %0d words inside", empty, n));
        if (s_ready !== (n - m_valid < DEPTH))
            err($sformatf("s_ready=%b with %0d words inside, m_valid=%b", s_ready, n, m_valid));
        if (m_valid === 1'b1) begin
            if (n == 0) err("m_valid while empty");
            else if (m_data !== q[head % QN])
                err($sformatf("m_data=%h, expected %h", m_data, q[head % QN]));
            else if (qt[head % QN] > cycle - 2)
                err("word visible less than two cycles after its push");
        end else if (m_valid !== 1'b0) begin
            err("m_valid is X");
        end else if (n > 0 && cycle >= max2(qt[head % QN] + 2, last_pop + 1)) begin
            err($sformatf("bubble: %0d words inside, m_valid=0", n));
        end
        if (m_valid && m_ready) begin
            head = head + 1;
            last_pop = cycle;
            n_out = n_out + 1;
        end
        if (s_valid && s_ready) begin
            q[tail % QN] = s_data;
            qt[tail % QN] = cycle;
            tail = tail + 1;
            n_in = n_in + 1;
        end
    end
    // a source holds its word until taken
    if (!(s_valid && !s_ready)) begin
        s_valid <= chance(p_push);
        s_data <= $random(seed);
    end
    m_ready <= chance(p_pop);
endtask

task automatic phase(input integer push, input integer pop, input integer cycles);
    p_push = push;
    p_pop = pop;
    repeat (cycles) step;
endtask

initial begin
    repeat (3) step;
    rst <= 1'b0;
    // fill to the brim, then drain; both at full rate; then random mixes
    phase(100, 0, DEPTH + 8);
    phase(0, 100, DEPTH + 8);
    phase(100, 100, 200);
    phase(90, 10, 300);
    phase(10, 90, 300);
    phase(50, 50, 2000);
    phase(80, 70, 2000);
    // reset with words inside: they are gone
    phase(100, 0, DEPTH);
    rst <= 1'b1;
    step;
    rst <= 1'b0;
    phase(70, 60, 1000);
    phase(0, 100, DEPTH + 8);
    if (tail != head) err($sformatf("%0d words never came out", tail - head));
    $display("  %0d words in, %0d out", n_in, n_out);
    tb_finish;
end

endmodule
