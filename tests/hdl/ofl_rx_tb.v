`timescale 1ns / 1ps
`default_nettype none

// ofl_rx: the first 64 bytes of a frame go to the descriptor header (bytes past the end 0), every
// word to the RX FIFO (the frame's one copy); a frame longer than MAX_FRAME stops writing and is rolled
// back (still fully accepted), others are committed; the descriptor (header, length saturated at
// 0xffff, oversize flag) queues up to two deep; tready drops only when the FIFO has no room (unless
// the frame is already oversize), no credit is left, or both descriptor slots are full. The descriptor's
// checksum sums are the ten big-endian words of its own header at bytes 14.. and 18.., added unfolded.
module ofl_rx_tb;

parameter DATA_W = 64;
parameter MAX_FRAME = 200;
parameter CREDITS = 4;
parameter LONG = 0;               // also send one 70000-byte frame (length saturation)
localparam WB = DATA_W / 8;
localparam HW = 64 / WB;

`define TB_NAME $sformatf("ofl_rx DATA_W=%0d MAX_FRAME=%0d CREDITS=%0d%s", DATA_W, MAX_FRAME, CREDITS, LONG ? " LONG=1" : "")
`define TB_WDOG 400000
`include "tb_common.vh"

reg rst = 1'b1;
reg [DATA_W-1:0] s_tdata = 0;
reg [WB-1:0] s_tkeep = 0;
reg s_tvalid = 1'b0, s_tlast = 1'b0, m_desc_ready = 1'b0, credit_return = 1'b0;
reg [31:0] fifo_free = 0;
wire s_tready, fifo_wr_en, fifo_commit, fifo_rollback, m_desc_ovs, m_desc_valid, cnt_frame, busy;
wire [DATA_W-1:0] fifo_wr_data;
wire [511:0] m_desc_hdr;
wire [15:0] m_desc_len;
wire [19:0] m_desc_cs14, m_desc_cs18;
wire [31:0] cnt_bytes;

ofl_rx #(.DATA_W(DATA_W), .MAX_FRAME(MAX_FRAME), .CREDITS(CREDITS)) dut (
    .clk(clk), .rst(rst),
    .s_axis_tdata(s_tdata), .s_axis_tkeep(s_tkeep), .s_axis_tvalid(s_tvalid), .s_axis_tready(s_tready),
    .s_axis_tlast(s_tlast),
    .fifo_wr_data(fifo_wr_data), .fifo_wr_en(fifo_wr_en), .fifo_commit(fifo_commit),
    .fifo_rollback(fifo_rollback), .fifo_free(fifo_free),
    .m_desc_hdr(m_desc_hdr), .m_desc_len(m_desc_len), .m_desc_cs14(m_desc_cs14), .m_desc_cs18(m_desc_cs18), .m_desc_ovs(m_desc_ovs), .m_desc_valid(m_desc_valid),
    .m_desc_ready(m_desc_ready),
    .credit_return(credit_return),
    .cnt_frame(cnt_frame), .cnt_bytes(cnt_bytes),
    .busy(busy)
);

// the frame on the wire (source side) and the one being received (model side)
integer src_len = 0, src_idx = 0;
integer bytes = 0, widx = 0;
reg ovs = 1'b0, in_frame = 1'b0;
reg [511:0] hdr = 0;
// descriptors (at most two), decisions outstanding, decisions popped but not returned
reg [511:0] dq_hdr[0:1];
integer dq_len[0:1];
reg dq_ovs[0:1];
integer dq = 0, inflight = 0, returnable = 0;
integer p_valid = 80, p_desc = 70, p_ret = 50, p_full = 5, full_left = 0;
integer n_frames = 0, n_ovs = 0, n_words = 0, n_csum = 0;

// sum of the ten big-endian 16-bit words of a header from byte off on
function automatic [19:0] words10(input [511:0] h, input integer off);
    words10 = 0;
    for (int i = 0; i < 10; i++) words10 = words10 + {4'd0, h[8*(off+2*i) +: 8], h[8*(off+2*i+1) +: 8]};
endfunction

task automatic new_frame;
    integer r;
    r = rnd(100);
    if (LONG && n_frames == 3) src_len = 70000;
    else if (r < 10) src_len = MAX_FRAME + rnd(2);
    else if (r < 20) src_len = MAX_FRAME + 1 + rnd(3 * WB);
    else if (r < 40) src_len = 1 + rnd(70);
    else src_len = 1 + rnd(MAX_FRAME);
    src_idx = 0;
endtask

task automatic step;
    integer nb, len_now;
    reg ovs_now, fe, exp_ready;
    @(posedge clk);
    if (!rst) begin
        exp_ready = (ovs || fifo_free != 0) && inflight < CREDITS && (dq != 2 || m_desc_ready);
        if (s_tready !== exp_ready)
            err($sformatf("tready=%b: ovs=%b free=%0d inflight=%0d descriptors=%0d desc_ready=%b",
                          s_tready, ovs, fifo_free, inflight, dq, m_desc_ready));
        if (m_desc_valid !== (dq != 0)) err($sformatf("desc_valid=%b with %0d descriptors", m_desc_valid, dq));
        if (dq != 0 && (m_desc_hdr !== dq_hdr[0] || m_desc_len !== dq_len[0] || m_desc_ovs !== dq_ovs[0]))
            err($sformatf("descriptor len %0d ovs %b hdr %h, expected %0d %b %h", m_desc_len, m_desc_ovs,
                          m_desc_hdr, dq_len[0], dq_ovs[0], dq_hdr[0]));
        if (dq != 0 && (m_desc_cs14 !== words10(dq_hdr[0], 14) || m_desc_cs18 !== words10(dq_hdr[0], 18)))
            err($sformatf("descriptor sums %h %h, expected %h %h", m_desc_cs14, m_desc_cs18,
                          words10(dq_hdr[0], 14), words10(dq_hdr[0], 18)));
        if (dq != 0 && m_desc_cs14 > 20'hffff && m_desc_cs18 > 20'hffff) n_csum++;
        if (busy !== (in_frame || dq != 0)) err($sformatf("busy=%b", busy));
        fe = 1'b0;
        if (s_tvalid && s_tready) begin
            nb = s_tlast ? $countones(s_tkeep) : WB;
            len_now = bytes + nb;
            ovs_now = ovs || len_now > MAX_FRAME;
            fe = s_tlast;
            if (fifo_wr_en !== !ovs_now || (fifo_wr_en && fifo_wr_data !== s_tdata))
                err($sformatf("word %0d of a frame at byte %0d: wr_en=%b data %h", widx, len_now, fifo_wr_en, fifo_wr_data));
            if (fifo_commit !== (fe && !ovs_now) || fifo_rollback !== (fe && ovs_now))
                err($sformatf("commit=%b rollback=%b at byte %0d, tlast=%b", fifo_commit, fifo_rollback, len_now, s_tlast));
            if (cnt_frame !== fe || (fe && cnt_bytes !== len_now))
                err($sformatf("cnt_frame=%b cnt_bytes=%0d, frame of %0d bytes ended=%b", cnt_frame, cnt_bytes, len_now, fe));
            if (widx < HW)
                for (int i = 0; i < WB; i++) hdr[8 * (widx * WB + i) +: 8] = s_tkeep[i] ? s_tdata[8*i +: 8] : 8'd0;
            n_words++;
            if (fe) begin
                n_frames++;
                if (ovs_now) n_ovs++;
            end
            bytes = fe ? 0 : len_now;
            ovs = fe ? 1'b0 : ovs_now;
            widx = fe ? 0 : widx + 1;
            in_frame = !fe;
        end else if (fifo_wr_en || fifo_commit || fifo_rollback || cnt_frame) begin
            err("FIFO write, commit, rollback or cnt_frame without a word");
        end
        // descriptor queue, then the new one behind it
        if (dq != 0 && m_desc_ready) begin
            dq_hdr[0] = dq_hdr[1];
            dq_len[0] = dq_len[1];
            dq_ovs[0] = dq_ovs[1];
            dq--;
            returnable++;
        end
        if (fe) begin
            if (dq == 2) err("descriptor queue overflow");
            dq_hdr[dq] = hdr;
            dq_len[dq] = len_now > 65535 ? 65535 : len_now;
            dq_ovs[dq] = ovs_now;
            dq++;
            hdr = 0;
            inflight++;
        end
        if (credit_return) inflight--;
    end
    // source: frames of random length, tkeep contiguous on the last word, junk in unkept bytes
    if (!(s_tvalid && !s_tready)) begin
        if (s_tvalid) begin
            src_idx++;
            if (s_tlast) new_frame;
        end
        s_tvalid <= chance(p_valid);
        s_tdata <= {$random(seed), $random(seed)};
        s_tlast <= (src_idx + 1) * WB >= src_len;
        s_tkeep <= (src_idx + 1) * WB >= src_len ? {WB{1'b1}} >> ((src_idx + 1) * WB - src_len) : {WB{1'b1}};
    end
    // the FIFO is sometimes full for a while; the engine and dispatcher take their time
    if (full_left > 0) full_left--;
    else if (chance(p_full)) full_left = 1 + rnd(20);
    fifo_free <= full_left > 0 ? 0 : 1 + rnd(100);
    m_desc_ready <= chance(p_desc);
    credit_return <= 1'b0;
    if (returnable > 0 && chance(p_ret)) begin
        credit_return <= 1'b1;
        returnable--;
    end
endtask

initial begin
    new_frame;
    repeat (3) step;
    rst <= 1'b0;
    repeat (6000) step;
    p_valid = 100;
    p_desc = 100;
    p_ret = 100;
    p_full = 0;
    repeat (3000) step;
    p_desc = 10;
    p_ret = 10;
    repeat (3000) step;
    if (LONG) repeat (9000) step;
    p_valid = 0;
    p_desc = 100;
    p_ret = 100;
    repeat (50) step;
    if (dq != 0 || inflight != 0) err("descriptors or credits left over");
    if (n_csum == 0) err("no descriptor had sums past 16 bits");
    $display("  %0d frames (%0d oversize), %0d words", n_frames, n_ovs, n_words);
    tb_finish;
end

endmodule
