`timescale 1ns / 1ps
`default_nettype none

// ofl_xbar: each word a source hands over appears, unchanged, at its destination in the same cycle
// (and only then); a destination serves one source for a whole frame (frames never interleave); a
// destination's tvalid is 1 exactly when an eligible source waits (no bubble after tlast); while a
// source waits at a destination, no other source gets two frames there (round robin).
module ofl_xbar_tb;

parameter DATA_W = 64;
localparam KW = DATA_W / 8;

`define TB_NAME $sformatf("ofl_xbar DATA_W=%0d", DATA_W)
`include "tb_common.vh"

reg rst = 1'b1;
reg [3*DATA_W-1:0] s_tdata = 0;
reg [3*KW-1:0] s_tkeep = 0;
reg [2:0] s_tvalid = 0, s_tlast = 0, m_tready = 0;
reg [5:0] s_tdest = 0;
wire [2:0] s_tready, m_tvalid, m_tlast;
wire [3*DATA_W-1:0] m_tdata;
wire [3*KW-1:0] m_tkeep;
wire busy;

ofl_xbar #(.DATA_W(DATA_W)) dut (
    .clk(clk), .rst(rst),
    .s_axis_tdata(s_tdata), .s_axis_tkeep(s_tkeep), .s_axis_tvalid(s_tvalid), .s_axis_tready(s_tready),
    .s_axis_tlast(s_tlast), .s_axis_tdest(s_tdest),
    .m_axis_tdata(m_tdata), .m_axis_tkeep(m_tkeep), .m_axis_tvalid(m_tvalid), .m_axis_tready(m_tready),
    .m_axis_tlast(m_tlast),
    .busy(busy)
);

// sources: the frame each is sending (destination, words left); destinations: who holds them
integer f_dest[0:2], f_left[0:2], f_first[0:2];
reg locked[0:2];
integer lock_src[0:2];
reg served[0:2][0:2][0:2];        // [waiting source][destination][other source]: got a frame meanwhile
integer frames[0:2][0:2];
// not an error: the sinks (skid buffer, host RX queue) take whatever is offered when ready
integer n_switch = 0;
reg [DATA_W:0] stalled_word[0:2];
reg stalled[0:2];
integer p_valid = 80, p_ready = 80, max_len = 6, dest_mask = 3'b111;

function automatic [DATA_W-1:0] sdata(input integer s);
    sdata = s_tdata[s*DATA_W +: DATA_W];
endfunction

function automatic integer pick_dest;
    do pick_dest = rnd(3); while (!dest_mask[pick_dest]);
endfunction

task automatic new_word(input integer s);
    integer len;
    if (f_left[s] == 0) begin
        f_dest[s] = pick_dest();
        f_left[s] = 1 + rnd(max_len);
        f_first[s] = 1;
    end
    s_tdest[2*s +: 2] <= f_dest[s];
    s_tdata[s*DATA_W +: DATA_W] <= {$random(seed), $random(seed)};
    s_tlast[s] <= f_left[s] == 1;
    len = f_left[s] == 1 ? 1 + rnd(KW) : KW;
    s_tkeep[s*KW +: KW] <= {KW{1'b1}} >> (KW - len);
endtask

task automatic step;
    integer d, s, o, n, hs;
    @(posedge clk);
    if (!rst && busy !== (locked[0] || locked[1] || locked[2])) err($sformatf("busy=%b", busy));
    if (!rst) for (d = 0; d < 3; d++) begin
        // who may be shown at d, and who hands a word to d
        n = 0;
        hs = -1;
        for (s = 0; s < 3; s++) begin
            if (s_tvalid[s] && s_tdest[2*s +: 2] == d && (!locked[d] || lock_src[d] == s)) n++;
            if (s_tvalid[s] && s_tready[s] && s_tdest[2*s +: 2] == d) begin
                if (hs >= 0) err($sformatf("sources %0d and %0d both taken by destination %0d", hs, s, d));
                hs = s;
            end
        end
        if (m_tvalid[d] !== (n > 0))
            err($sformatf("dest %0d: tvalid=%b, %0d eligible sources (locked=%b to %0d)",
                          d, m_tvalid[d], n, locked[d], lock_src[d]));
        if (m_tvalid[d] && m_tready[d] && hs < 0)
            err($sformatf("dest %0d took a word no source handed over", d));
        if (hs >= 0) begin
            if (!(m_tvalid[d] && m_tready[d]))
                err($sformatf("source %0d handed a word to dest %0d, which did not take it", hs, d));
            else if (m_tdata[d*DATA_W +: DATA_W] !== sdata(hs) || m_tkeep[d*KW +: KW] !== s_tkeep[hs*KW +: KW]
                     || m_tlast[d] !== s_tlast[hs])
                err($sformatf("dest %0d: word %h/%h/%b, source %0d sent %h/%h/%b", d,
                              m_tdata[d*DATA_W +: DATA_W], m_tkeep[d*KW +: KW], m_tlast[d],
                              hs, sdata(hs), s_tkeep[hs*KW +: KW], s_tlast[hs]));
            if (locked[d] && lock_src[d] != hs)
                err($sformatf("dest %0d: frame from %0d interleaved by %0d", d, lock_src[d], hs));
            if (!locked[d]) begin
                // a frame starts at d: round robin over the sources waiting there
                for (s = 0; s < 3; s++)
                    if (s != hs && s_tvalid[s] && f_first[s] && f_dest[s] == d) begin
                        if (served[s][d][hs])
                            err($sformatf("dest %0d: source %0d served twice while %0d waited", d, hs, s));
                        served[s][d][hs] = 1'b1;
                    end
                for (o = 0; o < 3; o++) served[hs][d][o] = 1'b0;
                frames[hs][d]++;
            end
            locked[d] = !s_tlast[hs];
            lock_src[d] = hs;
        end
        if (stalled[d] && {m_tvalid[d], m_tdata[d*DATA_W +: DATA_W]} !== stalled_word[d]) n_switch++;
        stalled[d] = m_tvalid[d] && !m_tready[d];
        stalled_word[d] = {m_tvalid[d], m_tdata[d*DATA_W +: DATA_W]};
    end
    // sources: hold a word until taken, then maybe pause
    for (s = 0; s < 3; s++) begin
        if (!rst && s_tvalid[s] && s_tready[s]) begin
            f_left[s]--;
            f_first[s] = 0;
        end
        if (!s_tvalid[s] || s_tready[s]) begin
            s_tvalid[s] <= chance(p_valid);
            new_word(s);
        end
    end
    for (d = 0; d < 3; d++) m_tready[d] <= chance(p_ready);
endtask

task automatic phase(input integer v, input integer r, input integer len, input integer mask,
                     input integer cycles);
    p_valid = v;
    p_ready = r;
    max_len = len;
    dest_mask = mask;
    repeat (cycles) step;
endtask

initial begin
    for (int s = 0; s < 3; s++) begin
        f_left[s] = 0;
        locked[s] = 1'b0;
        stalled[s] = 1'b0;
        lock_src[s] = 0;
        for (int d = 0; d < 3; d++) begin
            frames[s][d] = 0;
            for (int o = 0; o < 3; o++) served[s][d][o] = 1'b0;
        end
    end
    repeat (3) step;
    rst <= 1'b0;
    // everyone to one destination, full rate: fairness and back-to-back frames
    phase(100, 100, 4, 3'b001, 500);
    phase(100, 100, 1, 3'b100, 300);
    phase(100, 60, 5, 3'b010, 1000);
    phase(80, 80, 6, 3'b111, 3000);
    phase(50, 50, 3, 3'b011, 2000);
    phase(100, 100, 8, 3'b111, 2000);
    phase(0, 100, 1, 3'b111, 20);
    for (int s = 0; s < 3; s++)
        $display("  source %0d: frames to dest 0/1/2: %0d %0d %0d", s, frames[s][0], frames[s][1], frames[s][2]);
    $display("  a stalled destination's word changed %0d times (another source won before the first word went)", n_switch);
    tb_finish;
end

endmodule
