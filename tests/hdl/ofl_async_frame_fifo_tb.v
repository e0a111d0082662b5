`timescale 1ns / 1ps
`default_nettype none

// ofl_async_frame_fifo between two unrelated clocks (periods S_PS and M_PS picoseconds): every
// good frame comes out once, whole, byte-exact and in order; a frame ending with tuser never comes
// out and is counted once as bad; a frame is dropped as full only when the FIFO really was (nearly)
// full, always when it is larger than the FIFO, and then never comes out; the drop counters, read
// in the other clock domain through ofl_cdc_count, match the pulses. With DROP_WHEN_FULL = 0 only
// frames larger than the FIFO are dropped. Runs under Icarus and Verilator (--binary --timing).
module ofl_async_frame_fifo_tb;

parameter DATA_W = 8;
parameter DEPTH = 64;
parameter DROP_WHEN_FULL = 1;
parameter FRAMES = 600;

// clock periods in picoseconds, from +S_PS=... +M_PS=... (run time, so one Verilator build serves
// every ratio): write clock 50 MHz and read clock 62.5 MHz unless told
function automatic integer arg_or(input string name, input integer dflt);
    integer v;
    if (!$value$plusargs({name, "=%d"}, v)) v = dflt;
    arg_or = v;
endfunction
integer S_PS = arg_or("S_PS", 20000);
integer M_PS = arg_or("M_PS", 16000);

`define TB_NAME $sformatf("ofl_async_frame_fifo DEPTH=%0d DROP_WHEN_FULL=%0d S=%0dps M=%0dps", \
    DEPTH, DROP_WHEN_FULL, S_PS, M_PS)
`define TB_WDOG 2000000
`include "tb_common.vh"

reg s_clk = 1'b0, m_clk = 1'b0;
// the read clock starts at an odd offset so the edges never line up in a pattern
initial forever #(S_PS / 2000.0) s_clk = ~s_clk;
initial begin
    #(M_PS / 3100.0);
    forever #(M_PS / 2000.0) m_clk = ~m_clk;
end

reg s_rst = 1'b1, m_rst = 1'b1;
reg [DATA_W-1:0] s_tdata = 0;
reg s_tvalid = 1'b0, s_tlast = 1'b0, s_tuser = 1'b0, m_tready = 1'b0;
wire s_tready, drop_full, drop_bad, m_tvalid, m_tlast;
wire [DATA_W-1:0] m_tdata;
wire [15:0] cnt_full, cnt_bad;

ofl_async_frame_fifo #(.DATA_W(DATA_W), .DEPTH(DEPTH), .DROP_WHEN_FULL(DROP_WHEN_FULL)) dut (
    .s_clk(s_clk), .s_rst(s_rst),
    .s_axis_tdata(s_tdata), .s_axis_tvalid(s_tvalid), .s_axis_tready(s_tready),
    .s_axis_tlast(s_tlast), .s_axis_tuser(s_tuser),
    .drop_full(drop_full), .drop_bad(drop_bad),
    .m_clk(m_clk), .m_rst(m_rst),
    .m_axis_tdata(m_tdata), .m_axis_tvalid(m_tvalid), .m_axis_tready(m_tready),
    .m_axis_tlast(m_tlast)
);

ofl_cdc_count #(.WIDTH(16)) u_cnt_full (
    .s_clk(s_clk), .s_rst(s_rst), .s_pulse(drop_full), .m_clk(m_clk), .m_rst(m_rst), .m_count(cnt_full)
);
ofl_cdc_count #(.WIDTH(16)) u_cnt_bad (
    .s_clk(s_clk), .s_rst(s_rst), .s_pulse(drop_bad), .m_clk(m_clk), .m_rst(m_rst), .m_count(cnt_bad)
);

// frames: bytes in one flat array; status 0 = still being written, 1 = good, 2 = dropped full,
// 3 = dropped bad
localparam NB = 1 << 20;
reg [DATA_W-1:0] fbytes[0:NB-1];
integer fstart[0:FRAMES-1];
integer flen[0:FRAMES-1];
reg ferr[0:FRAMES-1];
integer fstatus[0:FRAMES-1];
integer nbytes = 0;

// writer knobs: a word every 1 + rnd(w_gap) cycles, frames of 1 + rnd(w_maxlen) words, p_err %
// bad, p_big % larger than the FIFO; reader ready with p_rd %
integer w_gap = 0, w_maxlen = DEPTH / 2, p_err = 15, p_big = 0, p_rd = 100;
integer n_written = 0;            // frames fully handed to the DUT
integer n_full = 0, n_bad = 0, n_good = 0, n_out = 0;
// words inside the DUT as the testbench counts them (kept words of the frame being written plus
// committed words not yet taken by the reader)
integer kept = 0, popped = 0;
// how many words the write side may think are still inside although the reader already took them:
// the read pointer reaches the write side after a read-side register and three write-side registers
integer SLACK = 0;   // set at time 0 from the clock periods
reg strict = 1'b0;                // no frame may be dropped as full (the reader is faster)

// ---- writer (s_clk) ----
integer cur = -1;                 // frame whose word was accepted at the last edge
reg cur_last = 1'b0;
reg saw_full = 1'b0, saw_bad = 1'b0;
integer cur_kept = 0;

task automatic new_frame(input integer i);
    integer k, len;
    len = chance(p_big) ? DEPTH + 1 + rnd(8) : 1 + rnd(w_maxlen);
    fstart[i] = nbytes;
    flen[i] = len;
    ferr[i] = chance(p_err);
    fstatus[i] = 0;
    for (k = 0; k < len; k = k + 1) fbytes[nbytes + k] = $random(seed);
    // the first byte names the frame, so a frame that comes out in the wrong place is obvious
    fbytes[nbytes] = i[DATA_W-1:0];
    nbytes = nbytes + len;
endtask

initial begin : writer
    integer i, k, gap;
    repeat (4) @(posedge s_clk);
    s_rst <= 1'b0;
    repeat (4) @(posedge s_clk);
    @(negedge s_clk);
    for (i = 0; i < FRAMES; i = i + 1) begin
        new_frame(i);
        for (k = 0; k < flen[i]; k = k + 1) begin
            gap = rnd(w_gap + 1);
            s_tvalid = 1'b0;
            repeat (gap) wr_edge;
            s_tvalid = 1'b1;
            s_tdata = fbytes[fstart[i] + k];
            s_tlast = k == flen[i] - 1;
            s_tuser = k == flen[i] - 1 ? ferr[i] : chance(50);   // tuser only counts with tlast
            while (s_tready !== 1'b1) wr_edge;
            // taken at the coming rising edge
            cur = i;
            cur_last = k == flen[i] - 1;
            wr_edge;
        end
    end
    s_tvalid = 1'b0;
    repeat (2) wr_edge;
end

// One s_clk cycle. Inputs change and outputs are sampled at the falling edge, half a cycle away
// from the rising edge the DUT acts on, so Icarus and Verilator order things alike. The pulses
// sampled here are about the word taken at the rising edge just passed.
task automatic wr_edge;
    @(negedge s_clk);
    if (cur >= 0) begin
        if (drop_full === 1'b1) begin
            if (saw_full || saw_bad) err($sformatf("frame %0d: a second drop pulse", cur));
            saw_full = 1'b1;
            n_full = n_full + 1;
            if (strict) err($sformatf("frame %0d dropped as full while the reader keeps up", cur));
            if (kept + cur_kept - popped < DEPTH - SLACK)
                err($sformatf("frame %0d dropped as full with %0d of %0d words used", cur,
                    kept + cur_kept - popped, DEPTH));
            if (DROP_WHEN_FULL == 0 && flen[cur] <= DEPTH)
                err($sformatf("frame %0d (%0d words) dropped although the writer can wait", cur, flen[cur]));
            cur_kept = 0;
        end else if (!saw_full) begin
            cur_kept = cur_kept + 1;
        end
        if (drop_bad === 1'b1) begin
            if (saw_full || saw_bad || !cur_last || !ferr[cur])
                err($sformatf("frame %0d: unexpected drop_bad", cur));
            saw_bad = 1'b1;
            n_bad = n_bad + 1;
            cur_kept = 0;
        end
        if (drop_full !== 1'b0 && drop_full !== 1'b1) err("drop_full is X");
        if (cur_last) begin
            if (!saw_full && !saw_bad && ferr[cur]) err($sformatf("bad frame %0d not dropped", cur));
            if (!saw_full && flen[cur] > DEPTH) err($sformatf("frame %0d larger than the FIFO kept", cur));
            fstatus[cur] = saw_full ? 2 : saw_bad ? 3 : 1;
            if (fstatus[cur] == 1) n_good = n_good + 1;
            kept = kept + cur_kept;
            cur_kept = 0;
            saw_full = 1'b0;
            saw_bad = 1'b0;
            n_written = cur + 1;
        end
        cur = -1;
        cur_last = 1'b0;
    end
    if (DROP_WHEN_FULL != 0 && s_tready !== 1'b1) err("s_tready low with DROP_WHEN_FULL");
endtask

// ---- reader (m_clk) ----
integer rf = 0, rk = 0;          // frame and word expected next
initial begin : reader
    repeat (4) @(posedge m_clk);
    m_rst <= 1'b0;
    forever begin
        // sampled and driven at the falling edge (see wr_edge): a word seen here with m_tready set
        // is taken at the coming rising edge
        @(negedge m_clk);
        m_tready = chance(p_rd);
        if (m_tvalid === 1'b1 && m_tready) begin
            while (rf < FRAMES && rk == 0 && fstatus[rf] >= 2) rf = rf + 1;
            if (rf >= FRAMES) err("a word after the last frame");
            else if (fstatus[rf] == 0) err($sformatf("frame %0d comes out before it ended", rf));
            else begin
                if (m_tdata !== fbytes[fstart[rf] + rk])
                    err($sformatf("frame %0d word %0d: %h, expected %h", rf, rk, m_tdata, fbytes[fstart[rf] + rk]));
                if (m_tlast !== (rk == flen[rf] - 1))
                    err($sformatf("frame %0d word %0d of %0d: tlast=%b", rf, rk, flen[rf], m_tlast));
                popped = popped + 1;
                rk = rk + 1;
                if (rk == flen[rf]) begin
                    rk = 0;
                    rf = rf + 1;
                    n_out = n_out + 1;
                end
            end
        end else if (m_tvalid !== 1'b0 && m_tvalid !== 1'b1) begin
            err("m_tvalid is X");
        end
    end
end

task automatic wait_written(input integer n);
    while (n_written < n) @(posedge s_clk);
endtask

initial begin : control
    integer fast_gap;
    SLACK = 2 + (2 * M_PS + 5 * S_PS + M_PS - 1) / M_PS;
    // phase 1: the writer is slower per word than the reader takes them, frames fit: no drops
    fast_gap = 2 * ((M_PS + S_PS - 1) / S_PS);
    w_gap = fast_gap;
    p_rd = 100;
    strict = 1'b1;
    wait_written(FRAMES / 6);
    strict = 1'b0;
    // phase 2: back to back words, a reader that stalls, some frames larger than the FIFO
    w_gap = 0;
    p_rd = 40;
    p_big = 3;
    wait_written(FRAMES / 2);
    // phase 3: the reader stops (a waiting writer needs a trickle), then the FIFO drains
    p_rd = DROP_WHEN_FULL != 0 ? 0 : 3;
    w_maxlen = DEPTH / 4;
    wait_written(FRAMES * 2 / 3);
    p_rd = 100;
    // phase 4: MAC-like pacing against a mostly ready reader
    w_gap = 4;
    p_rd = 80;
    w_maxlen = DEPTH;
    wait_written(FRAMES);
    p_rd = 100;
    repeat (DEPTH * 4 + 20) @(posedge m_clk);
    repeat (8) @(posedge m_clk);
    while (rf < FRAMES && rk == 0 && fstatus[rf] >= 2) rf = rf + 1;
    if (rf != FRAMES) err($sformatf("reader stopped at frame %0d word %0d of %0d frames", rf, rk, FRAMES));
    if (n_out != n_good) err($sformatf("%0d frames out, %0d good", n_out, n_good));
    if (n_out + n_full + n_bad != FRAMES)
        err($sformatf("%0d out + %0d full + %0d bad != %0d frames", n_out, n_full, n_bad, FRAMES));
    if (cnt_full !== n_full[15:0]) err($sformatf("full counter %0d, %0d drops", cnt_full, n_full));
    if (cnt_bad !== n_bad[15:0]) err($sformatf("bad counter %0d, %0d drops", cnt_bad, n_bad));
    if (DROP_WHEN_FULL != 0 && n_full == 0) err("the test never filled the FIFO");
    if (n_bad == 0) err("the test never sent a bad frame");
    $display("  %0d frames: %0d out, %0d dropped full, %0d dropped bad", FRAMES, n_out, n_full, n_bad);
    tb_finish;
end

endmodule
