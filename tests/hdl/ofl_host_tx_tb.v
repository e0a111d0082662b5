`timescale 1ns / 1ps
`default_nettype none

// ofl_host_tx: CSR writes (4 bytes, big-endian) then a commit with the byte length (metadata
// included) send bytes 16..len-1 to the port named by metadata byte 0, in order, with the last
// word's tkeep; bytes written past len are dropped. A commit under 30, over 16 + MAX_FRAME, past
// what was written, or to a port > 1 sends nothing and pulses cnt_drop (everything since the
// previous commit is gone). Writes with no room are acked and dropped. free_bytes tracks the room.
module ofl_host_tx_tb;

parameter DATA_W = 64;
parameter DEPTH = 32;
parameter MAX_FRAME = 100;
localparam WB = DATA_W / 8;
localparam META_WORDS = 16 / WB;
localparam CAP = DEPTH * WB;

`define TB_NAME $sformatf("ofl_host_tx DATA_W=%0d DEPTH=%0d MAX_FRAME=%0d", DATA_W, DEPTH, MAX_FRAME)
`include "tb_common.vh"

reg rst = 1'b1;
reg wr_req = 1'b0, commit_req = 1'b0, m_tready = 1'b0;
reg [31:0] wr_data = 0, commit_len = 0;
wire wr_ack, commit_ack, m_tvalid, m_tlast, cnt_frame, cnt_drop, busy;
wire [31:0] free_bytes;
wire [DATA_W-1:0] m_tdata;
wire [WB-1:0] m_tkeep;
wire [1:0] m_tdest;

ofl_host_tx #(.DATA_W(DATA_W), .DEPTH(DEPTH), .MAX_FRAME(MAX_FRAME)) dut (
    .clk(clk), .rst(rst),
    .wr_req(wr_req), .wr_data(wr_data), .wr_ack(wr_ack),
    .commit_req(commit_req), .commit_len(commit_len), .commit_ack(commit_ack), .free_bytes(free_bytes),
    .m_axis_tdata(m_tdata), .m_axis_tkeep(m_tkeep), .m_axis_tvalid(m_tvalid), .m_axis_tready(m_tready),
    .m_axis_tlast(m_tlast), .m_axis_tdest(m_tdest),
    .cnt_frame(cnt_frame), .cnt_drop(cnt_drop),
    .busy(busy)
);

// the frame being written (bytes the DUT accepted) and the committed frames (bytes past metadata)
localparam BN = 1 << 20, FN = 4096;
reg [7:0] tent[0:65535];
integer ntent = 0;
reg [7:0] fb[0:BN-1];
integer f_len[0:FN-1], f_base[0:FN-1], f_port[0:FN-1], f_words[0:FN-1];
integer f_in = 0, f_out = 0, b_in = 0, out_idx = 0, sent_words = 0;
// the CSR master's script for its current frame
reg [7:0] script[0:65535];
integer s_len = 0, s_n = 0, s_i = 0, gap = 0, req_since = 0;
integer max_lat = 0;
integer p_ready = 70, p_bad = 10, n_drop = 0, n_frames = 0, n_full_wr = 0;

function automatic integer words_of(input integer bytes);
    words_of = (bytes + WB - 1) / WB;
endfunction

task automatic new_script;
    integer bad, port;
    bad = chance(p_bad) ? rnd(4) : -1;   // which commit rule this frame breaks, if any
    s_len = 30 + rnd(MAX_FRAME - 13);
    port = rnd(2);
    case (bad)
        0: s_len = rnd(30);
        1: s_len = 17 + MAX_FRAME + rnd(8);
        2: port = chance(50) ? 2 : 3 + rnd(253);
        default: ;
    endcase
    s_n = (s_len + 3) / 4;
    if (bad == 3) s_n = rnd(s_n);            // committed past what was written
    else if (chance(20)) s_n = s_n + rnd(4); // written past the length: trimmed
    for (int i = 0; i < 4 * s_n; i++) script[i] = $random(seed);
    script[0] = port;
    s_i = 0;
endtask

task automatic step;
    integer exp_lo, k, ok, len;
    reg [WB-1:0] keep;
    @(posedge clk);
    if (!rst) begin
        // room: exact but for the head frame's metadata words and the word in the output register
        exp_lo = CAP - ntent;
        for (int f = f_out; f < f_in; f++) exp_lo -= WB * words_of(16 + f_len[f % FN]);
        exp_lo += WB * sent_words;
        if (int'(free_bytes) < exp_lo || int'(free_bytes) > exp_lo + WB * (META_WORDS + 1)
            || (f_in == f_out && int'(free_bytes) != exp_lo))
            err($sformatf("free_bytes=%0d, expected %0d (+%0d)", free_bytes, exp_lo, f_in == f_out ? 0 : WB * (META_WORDS + 1)));
        if (WB >= 4 && busy !== (f_in != f_out)) err($sformatf("busy=%b with %0d frames queued", busy, f_in - f_out));
        if (wr_req && !wr_ack && cycle - req_since > 8) err("write not acked within 8 cycles");
        if (commit_req && !commit_ack && cycle - req_since > 8) err("commit not acked within 8 cycles");
        if ((wr_req && wr_ack) || (commit_req && commit_ack))
            if (cycle - req_since > max_lat) max_lat = cycle - req_since;
        if (wr_req && wr_ack) begin
            if (free_bytes >= 4) begin
                for (int i = 0; i < 4; i++) tent[ntent + i] = wr_data[31 - 8*i -: 8];
                ntent += 4;
            end else begin
                n_full_wr++;
            end
        end
        ok = commit_len >= 30 && commit_len <= 16 + MAX_FRAME && commit_len <= ntent && tent[0] <= 1;
        if (cnt_drop !== (commit_req && commit_ack && !ok))
            err($sformatf("cnt_drop=%b on commit of %0d bytes (%0d written, port %0d)", cnt_drop, commit_len, ntent, tent[0]));
        if (commit_req && commit_ack) begin
            if (ok) begin
                f_len[f_in % FN] = commit_len - 16;
                f_base[f_in % FN] = b_in;
                f_port[f_in % FN] = tent[0];
                for (int i = 16; i < commit_len; i++) fb[(b_in + i - 16) % BN] = tent[i];
                b_in = (b_in + commit_len - 16) % BN;
                f_in++;
            end else begin
                n_drop++;
            end
            ntent = 0;
        end
        // output: the next word of the head frame, held while not taken
        if (m_tvalid === 1'b1) begin
            if (f_out == f_in) begin
                err("tvalid with no committed frame");
            end else begin
                len = f_len[f_out % FN];
                k = len - out_idx * WB;
                keep = k >= WB ? {WB{1'b1}} : {WB{1'b1}} >> (WB - k);
                if (m_tdest !== f_port[f_out % FN] || m_tlast !== (k <= WB) || m_tkeep !== keep)
                    err($sformatf("frame %0d word %0d: dest %0d last %b keep %b, expected %0d %b %b", f_out,
                                  out_idx, m_tdest, m_tlast, m_tkeep, f_port[f_out % FN], k <= WB, keep));
                for (int i = 0; i < WB; i++)
                    if (keep[i] && m_tdata[8*i +: 8] !== fb[(f_base[f_out % FN] + out_idx * WB + i) % BN])
                        err($sformatf("frame %0d byte %0d: %h, expected %h", f_out, out_idx * WB + i,
                                      m_tdata[8*i +: 8], fb[(f_base[f_out % FN] + out_idx * WB + i) % BN]));
            end
        end else if (m_tvalid !== 1'b0) begin
            err("tvalid is X");
        end
        if (cnt_frame !== (m_tvalid && m_tready && m_tlast)) err("cnt_frame is not the last word's handshake");
        // the metadata words leave without a handshake; count them once the frame's data shows
        if (m_tvalid && out_idx == 0) sent_words = META_WORDS;
        if (m_tvalid && m_tready) begin
            out_idx++;
            sent_words++;
            if (m_tlast) begin
                f_out++;
                n_frames++;
                out_idx = 0;
                sent_words = 0;
            end
        end
    end
    // CSR master: one request at a time, held until acked, then at least one idle cycle
    if ((wr_req && wr_ack) || (commit_req && commit_ack)) begin
        wr_req <= 1'b0;
        commit_req <= 1'b0;
        gap = 1 + rnd(2);
    end else if (!wr_req && !commit_req && !rst) begin
        if (gap > 0) begin
            gap--;
        end else if (s_i < s_n) begin
            wr_req <= 1'b1;
            wr_data <= {script[4*s_i], script[4*s_i + 1], script[4*s_i + 2], script[4*s_i + 3]};
            s_i++;
            req_since = cycle + 1;
        end else begin
            commit_req <= 1'b1;
            commit_len <= s_len;
            req_since = cycle + 1;
            new_script;
        end
    end
    m_tready <= chance(p_ready);
endtask

initial begin
    new_script;
    repeat (3) step;
    rst <= 1'b0;
    repeat (3000) step;
    // sink stalled: the queue fills, writes get dropped, their commits fail
    p_ready = 0;
    repeat (1500) step;
    p_ready = 100;
    p_bad = 30;
    repeat (3000) step;
    p_ready = 20;
    repeat (2000) step;
    p_ready = 100;
    p_bad = 200;    // from here on every commit fails: the queue drains
    repeat (1000) step;
    if (f_out != f_in) err($sformatf("%0d committed frames never sent", f_in - f_out));
    if (n_full_wr == 0) err("no write met a full queue");
    $display("  %0d frames sent, %0d commits dropped, %0d writes met a full queue, slowest ack %0d cycles",
             n_frames, n_drop, n_full_wr, max_lat);
    tb_finish;
end

endmodule
