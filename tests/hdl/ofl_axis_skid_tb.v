`timescale 1ns / 1ps
`default_nettype none

// ofl_axis_skid: every accepted word (tdata, tkeep, tlast) comes out once and in order under random
// tvalid/tready; the output obeys AXI-Stream (tvalid and the word hold until taken); tready is
// registered and drops only when the skid register is used; full rate while the sink is ready.
module ofl_axis_skid_tb;

parameter DATA_W = 64;
localparam KW = DATA_W / 8;
localparam W = DATA_W + KW + 1;

`define TB_NAME $sformatf("ofl_axis_skid DATA_W=%0d", DATA_W)
`include "tb_common.vh"

reg rst = 1'b1;
reg [DATA_W-1:0] s_tdata = 0;
reg [KW-1:0] s_tkeep = 0;
reg s_tvalid = 1'b0, s_tlast = 1'b0, m_tready = 1'b0;
wire s_tready, m_tvalid, m_tlast, busy;
wire [DATA_W-1:0] m_tdata;
wire [KW-1:0] m_tkeep;

ofl_axis_skid #(.DATA_W(DATA_W)) dut (
    .clk(clk), .rst(rst),
    .s_axis_tdata(s_tdata), .s_axis_tkeep(s_tkeep), .s_axis_tvalid(s_tvalid),
    .s_axis_tready(s_tready), .s_axis_tlast(s_tlast),
    .m_axis_tdata(m_tdata), .m_axis_tkeep(m_tkeep), .m_axis_tvalid(m_tvalid),
    .m_axis_tready(m_tready), .m_axis_tlast(m_tlast),
    .busy(busy)
);

localparam QN = 16;
reg [W-1:0] q[0:QN-1];
integer head = 0, tail = 0, n_out = 0;
integer p_valid = 50, p_ready = 50;
reg ready_run = 1'b0;             // the sink was ready in every cycle since the last idle point
reg [W-1:0] held;
reg was_stalled = 1'b0;

task automatic step;
    integer n, len;
    @(posedge clk);
    n = tail - head;
    if (rst) begin
        head = tail;
        was_stalled = 1'b0;
    end else begin
        if (m_tvalid !== (n > 0)) err($sformatf("m_tvalid=%b with %0d words inside", m_tvalid, n));
        if (s_tready !== (n < 2)) err($sformatf("s_tready=%b with %0d words inside", s_tready, n));
        if (busy !== (n > 0)) err($sformatf("busy=%b with %0d words inside", busy, n));
        if (was_stalled && (m_tvalid !== 1'b1 || {m_tlast, m_tkeep, m_tdata} !== held))
            err("output changed while stalled (tvalid && !tready)");
        if (m_tvalid === 1'b1 && {m_tlast, m_tkeep, m_tdata} !== q[head % QN])
            err($sformatf("out %h, expected %h", {m_tlast, m_tkeep, m_tdata}, q[head % QN]));
        if (ready_run && s_tready !== 1'b1) err("s_tready dropped while the sink kept up");
        was_stalled = m_tvalid && !m_tready;
        held = {m_tlast, m_tkeep, m_tdata};
        if (m_tvalid && m_tready) begin
            head = head + 1;
            n_out = n_out + 1;
        end
        if (s_tvalid && s_tready) begin
            q[tail % QN] = {s_tlast, s_tkeep, s_tdata};
            tail = tail + 1;
        end
        ready_run = ready_run && m_tready;
        if (tail == head) ready_run = 1'b1;
    end
    // AXI source: a word is held until taken; tkeep is all ones but on a frame's last word
    if (!(s_tvalid && !s_tready)) begin
        s_tvalid <= chance(p_valid);
        s_tdata <= {$random(seed), $random(seed)};
        s_tlast <= chance(25);
        len = 1 + rnd(KW);
        s_tkeep <= {KW{1'b1}} >> (KW - len);
    end
    m_tready <= chance(p_ready);
endtask

task automatic phase(input integer v, input integer r, input integer cycles);
    p_valid = v;
    p_ready = r;
    repeat (cycles) step;
endtask

initial begin
    repeat (3) step;
    rst <= 1'b0;
    phase(100, 100, 300);
    phase(100, 0, 10);
    phase(100, 100, 300);
    phase(50, 50, 3000);
    phase(90, 30, 2000);
    phase(30, 90, 2000);
    rst <= 1'b1;
    step;
    rst <= 1'b0;
    phase(80, 80, 2000);
    phase(0, 100, 10);
    if (tail != head) err($sformatf("%0d words never came out", tail - head));
    $display("  %0d words out", n_out);
    tb_finish;
end

endmodule
