`timescale 1ns / 1ps
`default_nettype none

// ofl_host_rx: reservations are granted exactly when the words fit (port 0 first when both ask);
// frames written as DATA_W words (last one partial) read back as 4-byte big-endian chunks, bytes past
// the end 0, the read of the last chunk moving to the next frame; rx_len is the head frame's length
// (0 when empty); a read with no frame is acked at once with 0. Reads follow the CSR protocol.
module ofl_host_rx_tb;

parameter DATA_W = 64;
parameter DEPTH = 64;
localparam WB = DATA_W / 8;
localparam MIN_WORDS = (16 + WB - 1) / WB;

`define TB_NAME $sformatf("ofl_host_rx DATA_W=%0d DEPTH=%0d", DATA_W, DEPTH)
`include "tb_common.vh"

reg rst = 1'b1;
reg [DATA_W-1:0] s_tdata = 0;
reg [WB-1:0] s_tkeep = 0;
reg s_tvalid = 1'b0, s_tlast = 1'b0;
reg req0 = 1'b0, req1 = 1'b0, rd_req = 1'b0;
reg [15:0] words0 = 0, words1 = 0;
wire grant0, grant1, rd_ack, busy;
wire [15:0] rx_len;
wire [31:0] rd_data;

ofl_host_rx #(.DATA_W(DATA_W), .DEPTH(DEPTH)) dut (
    .clk(clk), .rst(rst),
    .s_axis_tdata(s_tdata), .s_axis_tkeep(s_tkeep), .s_axis_tvalid(s_tvalid), .s_axis_tlast(s_tlast),
    .req0(req0), .words0(words0), .grant0(grant0), .req1(req1), .words1(words1), .grant1(grant1),
    .rx_len(rx_len), .rd_req(rd_req), .rd_ack(rd_ack), .rd_data(rd_data),
    .busy(busy)
);

// frames: reserved (to be written), then complete (readable); bytes of all frames in one array
localparam FN = 1024, BN = 1 << 20;
reg [7:0] fb[0:BN-1];
integer f_words[0:FN-1], f_len[0:FN-1], f_base[0:FN-1], f_done_at[0:FN-1];
integer f_res = 0, f_wr = 0, f_rd = 0;   // frames reserved / completely written / completely read
integer w_idx = 0;                       // next word of frame f_wr
integer rd_off = 0, last_read = -10, reserved = 0, freed = 0;
integer p_req = 30, p_wr = 70, p_rd = 60, max_words = 12;
integer req_since = -1, max_lat = 0, gap = 0, n_chunks = 0;
reg [31:0] chunk;

task automatic reserve(input integer w, input integer len);
    f_words[f_res % FN] = w;
    f_len[f_res % FN] = len;
    f_base[f_res % FN] = f_res == 0 ? 0 : (f_base[(f_res - 1) % FN] + f_len[(f_res - 1) % FN]) % BN;
    for (int i = 0; i < len; i++) fb[(f_base[f_res % FN] + i) % BN] = $random(seed);
    reserved += w;
    f_res++;
endtask

task automatic rand_req(output reg r, output reg [15:0] w);
    r = chance(p_req);
    w = MIN_WORDS + rnd(max_words - MIN_WORDS + 1);
endtask

task automatic step;
    integer lo, hi, len, head_words;
    reg r;
    reg [15:0] w;
    @(posedge clk);
    if (!rst) begin
        // grants: the head frame may be partly popped already, so its words are the uncertainty
        head_words = f_rd < f_wr ? f_words[f_rd % FN] : 0;
        lo = DEPTH - (reserved - freed);
        hi = lo + head_words;
        if (req0 && int'(words0) <= lo && !grant0) err($sformatf("req0 of %0d words refused, >= %0d free", words0, lo));
        if (req0 && int'(words0) > hi && grant0) err($sformatf("req0 of %0d words granted, <= %0d free", words0, hi));
        if (!req0 && grant0) err("grant0 without req0");
        if (grant0) begin
            lo -= words0;
            hi -= words0;
        end
        if (req1 && int'(words1) <= lo && !grant1) err($sformatf("req1 of %0d words refused, >= %0d free", words1, lo));
        if (req1 && int'(words1) > hi && grant1) err($sformatf("req1 of %0d words granted, <= %0d free", words1, hi));
        if (!req1 && grant1) err("grant1 without req1");
        if (req0 && grant0) reserve(words0, (words0 - 1) * WB + 1 + rnd(WB) < 16 ? 16 : (words0 - 1) * WB + 1 + rnd(WB));
        if (req1 && grant1) reserve(words1, (words1 - 1) * WB + 1 + rnd(WB) < 16 ? 16 : (words1 - 1) * WB + 1 + rnd(WB));
        if (busy !== (w_idx != 0)) err($sformatf("busy=%b, %0d words of the frame written", busy, w_idx));
        // rx_len: the head frame's length, allowed to lag two cycles behind its tlast or the last read
        if (f_rd == f_wr) begin
            if (rx_len !== 0) err($sformatf("rx_len=%0d with no frame", rx_len));
        end else if (rx_len !== f_len[f_rd % FN] && !(rx_len === 0 &&
                     (cycle < f_done_at[f_rd % FN] + 2 || cycle < last_read + 1))) begin
            err($sformatf("rx_len=%0d, head frame has %0d bytes", rx_len, f_len[f_rd % FN]));
        end
        if (rd_req && !rd_ack && cycle - req_since > 8) err("read not acked within 8 cycles");
        if (rd_req && rd_ack) begin
            if (cycle - req_since > max_lat) begin
                max_lat = cycle - req_since;
                $display("  read acked after %0d cycles at cycle %0d: %0d bytes into a %0d-byte frame", max_lat, cycle,
                         rd_off, rx_len);
            end
            if (rx_len == 0) begin
                if (rd_data !== 0) err($sformatf("read with no frame returned %h", rd_data));
            end else begin
                for (int i = 0; i < 4; i++)
                    chunk[31 - 8*i -: 8] = rd_off + i < f_len[f_rd % FN] ? fb[(f_base[f_rd % FN] + rd_off + i) % BN] : 8'd0;
                if (rd_data !== chunk)
                    err($sformatf("frame %0d bytes %0d..: read %h, expected %h", f_rd, rd_off, rd_data, chunk));
                n_chunks++;
                rd_off += 4;
                if (rd_off >= f_len[f_rd % FN]) begin
                    freed += f_words[f_rd % FN];
                    f_rd++;
                    rd_off = 0;
                    last_read = cycle;
                end
            end
        end
        if (s_tvalid) begin
            w_idx++;
            if (s_tlast) begin
                f_done_at[f_wr % FN] = cycle;
                f_wr++;
                w_idx = 0;
            end
        end
    end
    // reservations (a reservation and its own data never share a cycle)
    rand_req(r, w);
    req0 <= r;
    words0 <= w;
    rand_req(r, w);
    req1 <= r;
    words1 <= w;
    // writer: the reserved frames, in order
    s_tvalid <= 1'b0;
    if (f_wr < f_res && chance(p_wr)) begin
        s_tvalid <= 1'b1;
        len = f_len[f_wr % FN];
        for (int i = 0; i < WB; i++)
            s_tdata[8*i +: 8] <= w_idx * WB + i < len ? fb[(f_base[f_wr % FN] + w_idx * WB + i) % BN] : $random(seed);
        s_tlast <= w_idx == f_words[f_wr % FN] - 1;
        s_tkeep <= w_idx == f_words[f_wr % FN] - 1 ? {WB{1'b1}} >> (WB * f_words[f_wr % FN] - len) : {WB{1'b1}};
    end
    // reader: holds the request until acked, then idles at least a cycle
    if (rd_req && rd_ack) begin
        rd_req <= 1'b0;
        gap = 1 + rnd(3);
    end else if (!rd_req) begin
        if (gap > 0) gap--;
        else if (chance(p_rd)) begin
            rd_req <= 1'b1;
            req_since = cycle + 1;
        end
    end
endtask

task automatic phase(input integer rq, input integer wr, input integer rd, input integer mw, input integer cycles);
    p_req = rq;
    p_wr = wr;
    p_rd = rd;
    max_words = mw < MIN_WORDS ? MIN_WORDS : mw;
    repeat (cycles) step;
endtask

initial begin
    repeat (3) step;
    rst <= 1'b0;
    // fill with no reads (grants stop exactly at DEPTH), then drain, then mixes
    phase(50, 100, 0, 4 * MIN_WORDS, 200);
    phase(0, 100, 100, 4 * MIN_WORDS, 3000);
    phase(20, 80, 80, DEPTH / 2, 5000);
    phase(60, 100, 100, MIN_WORDS + 1, 3000);
    phase(10, 50, 100, DEPTH, 3000);
    phase(0, 100, 100, DEPTH, 3000);
    if (f_rd != f_res) err($sformatf("%0d of %0d frames read back", f_rd, f_res));
    $display("  %0d frames, %0d chunks, slowest read ack %0d cycles", f_rd, n_chunks, max_lat);
    tb_finish;
end

endmodule
