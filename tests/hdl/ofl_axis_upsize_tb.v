`timescale 1ns / 1ps
`default_nettype none

// ofl_axis_upsize into ofl_axis_downsize, with random stalls on all three streams: the words between
// them follow offload_top's lane rules (byte 0 in lane 0, every word but a frame's last full, the last
// word's tkeep contiguous from bit 0, tlast on it) and carry the bytes in order; the bytes that come
// out are the bytes that went in, frame by frame.
module ofl_axis_upsize_tb;

parameter DATA_W = 32;

`define TB_NAME $sformatf("ofl_axis_upsize/downsize DATA_W=%0d", DATA_W)
`include "tb_common.vh"

localparam WB = DATA_W / 8;
localparam NB = 1 << 13;   // Icarus slows with the size of the arrays a wait looks into

reg rst = 1'b1;
reg s_tvalid = 1'b0, m_tready = 1'b0, gate = 1'b0;
reg [7:0] s_tdata = 0;
reg s_tlast = 1'b0;
wire s_tready, m_tvalid, m_tlast;
wire [7:0] m_tdata;
wire [DATA_W-1:0] w_tdata;
wire [WB-1:0] w_tkeep;
wire w_tvalid, w_tready, w_tlast, d_tready;

ofl_axis_upsize #(.DATA_W(DATA_W)) u_up (
    .clk(clk), .rst(rst),
    .s_axis_tdata(s_tdata), .s_axis_tvalid(s_tvalid), .s_axis_tready(s_tready), .s_axis_tlast(s_tlast),
    .m_axis_tdata(w_tdata), .m_axis_tkeep(w_tkeep), .m_axis_tvalid(w_tvalid), .m_axis_tready(w_tready),
    .m_axis_tlast(w_tlast)
);

// the word stream stalls when the gate is closed, whatever the two sides want
assign w_tready = d_tready && gate;

ofl_axis_downsize #(.DATA_W(DATA_W)) u_down (
    .clk(clk), .rst(rst),
    .s_axis_tdata(w_tdata), .s_axis_tkeep(w_tkeep), .s_axis_tvalid(w_tvalid && gate), .s_axis_tready(d_tready),
    .s_axis_tlast(w_tlast),
    .m_axis_tdata(m_tdata), .m_axis_tvalid(m_tvalid), .m_axis_tready(m_tready), .m_axis_tlast(m_tlast)
);

// the byte stream: bytes and whether each ends its frame
reg [7:0] sb[0:NB-1];
reg sl[0:NB-1];
integer ns = 0, nw = 0, nm = 0, n_frames = 0, n_words = 0, p_src = 80, p_gate = 80, p_sink = 80;

initial begin : build
    integer i, len;
    i = 0;
    while (i < NB - 200) begin
        len = chance(30) ? 1 + rnd(2 * WB) : 1 + rnd(100);
        for (int k = 0; k < len; k++) begin
            sb[i + k] = $random(seed);
            sl[i + k] = k == len - 1;
        end
        i = i + len;
    end
end

integer total = 6000;
always @(posedge clk) begin : check
    integer k, nk;
    if (!rst) begin
        if (s_tvalid && s_tready) ns = ns + 1;
        if (w_tvalid === 1'b1 && w_tready) begin
            nk = 0;
            for (k = 0; k < WB; k++) if (w_tkeep[k]) nk = k + 1;
            for (k = 0; k < WB; k++) if (w_tkeep[k] !== (k < nk)) err($sformatf("tkeep %b not contiguous from bit 0", w_tkeep));
            if (nk == 0) err("a word with no byte kept");
            if (!w_tlast && nk != WB) err($sformatf("tkeep %b on a word that is not a frame's last", w_tkeep));
            for (k = 0; k < nk; k++) begin
                if (w_tdata[8*k +: 8] !== sb[nw + k])
                    err($sformatf("word %0d lane %0d: %h, expected byte %0d = %h", n_words, k, w_tdata[8*k +: 8], nw + k, sb[nw + k]));
                if ((k == nk - 1) != 0 && w_tlast !== sl[nw + k])
                    err($sformatf("word %0d: tlast %b, frame ends: %b", n_words, w_tlast, sl[nw + k]));
                if (k < nk - 1 && sl[nw + k]) err($sformatf("word %0d holds the end of a frame in lane %0d", n_words, k));
            end
            nw = nw + nk;
            n_words = n_words + 1;
        end
        if (m_tvalid === 1'b1 && m_tready) begin
            if (m_tdata !== sb[nm] || m_tlast !== sl[nm])
                err($sformatf("byte %0d out: %h last %b, expected %h last %b", nm, m_tdata, m_tlast, sb[nm], sl[nm]));
            if (m_tlast) n_frames = n_frames + 1;
            nm = nm + 1;
        end
    end
    s_tvalid <= 1'b0;
    if (!(s_tvalid && !s_tready) && chance(p_src) && (ns < total || !sl[ns - 1])) begin
        s_tvalid <= 1'b1;
    end
    if (s_tvalid && !s_tready) s_tvalid <= 1'b1;
    gate <= chance(p_gate);
    m_tready <= chance(p_sink);
end

// the source's data follows its own count, so it holds while stalled (set after the count moves)
always @(posedge clk) begin
    #1;
    s_tdata = sb[ns];
    s_tlast = sl[ns];
end

initial begin
    repeat (3) @(posedge clk);
    rst <= 1'b0;
    p_src = 100; p_gate = 100; p_sink = 100;
    wait (ns >= 1000);
    p_src = 80; p_gate = 50; p_sink = 70;
    wait (ns >= 3000);
    p_src = 30; p_gate = 90; p_sink = 100;
    wait (ns >= 4500);
    p_src = 100; p_gate = 100; p_sink = 20;
    // the source stops at the end of the frame it is in (a word is only complete at a frame's end)
    wait (ns >= total && sl[ns - 1]);
    p_sink = 100;
    p_gate = 100;
    repeat (200) @(posedge clk);
    if (nm != ns || nw != ns) err($sformatf("%0d bytes in, %0d through the words, %0d out", ns, nw, nm));
    $display("  %0d bytes, %0d frames, %0d words", nm, n_frames, n_words);
    tb_finish;
end

endmodule
