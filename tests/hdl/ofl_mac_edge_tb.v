`timescale 1ns / 1ps
`default_nettype none

// ofl_mac_edge with its RMII pins looped back by a wire (a PHY in loopback), the RMII side at 50 MHz
// and the core clock at +M_PS picoseconds. Frames sent on the core side come back on the core side
// padded to 60 bytes, byte-exact, in order. The wire flips one bit of some frames: they never come
// back and are counted rx_drop_bad (unless the FIFO had no room for them anyway: then they count as full). The core stops reading for a while: the receive FIFO drops whole
// frames, each counted rx_drop_full, and every frame is either back or counted. Frames larger than
// the transmit FIFO are counted tx_drop_big and never reach the wire. Runs under Icarus and Verilator.
module ofl_mac_edge_tb;

parameter DATA_W = 8;             // the edge's core streams; the bench speaks bytes through converters
parameter RX_DEPTH = 256;
parameter TX_DEPTH = 512;
parameter FRAMES = 120;

`define TB_NAME $sformatf("ofl_mac_edge DATA_W=%0d RX_DEPTH=%0d TX_DEPTH=%0d M=%0dps", DATA_W, RX_DEPTH, TX_DEPTH, M_PS)
`define TB_WDOG 3000000
`include "tb_common.vh"

function automatic integer arg_or(input string name, input integer dflt);
    integer v;
    if (!$value$plusargs({name, "=%d"}, v)) v = dflt;
    arg_or = v;
endfunction
integer M_PS = arg_or("M_PS", 16000);

reg rmii_clk = 1'b0, core_clk = 1'b0;
initial forever #10 rmii_clk = ~rmii_clk;
initial begin
    #(M_PS / 2900.0);
    forever #(M_PS / 2000.0) core_clk = ~core_clk;
end

reg rmii_rst = 1'b1, core_rst = 1'b1;
wire [1:0] txd;
wire tx_en;
reg flip = 1'b0;                  // flip one bit on the wire now
wire [1:0] rxd = txd ^ {1'b0, flip};
wire [7:0] rx_tdata;
wire rx_tvalid, rx_tlast, tx_tready;
reg rx_tready = 1'b0;
reg [7:0] tx_tdata = 0;
reg tx_tvalid = 1'b0, tx_tlast = 1'b0;
wire [15:0] rx_drop_full, rx_drop_bad, tx_drop_big, tx_underrun;

wire [DATA_W-1:0] w_rx_tdata, w_tx_tdata;
wire [DATA_W/8-1:0] w_rx_tkeep, w_tx_tkeep;
wire w_rx_tvalid, w_rx_tready, w_rx_tlast, w_tx_tvalid, w_tx_tready, w_tx_tlast;

ofl_axis_upsize #(.DATA_W(DATA_W)) u_tb_up (
    .clk(core_clk), .rst(core_rst),
    .s_axis_tdata(tx_tdata), .s_axis_tvalid(tx_tvalid), .s_axis_tready(tx_tready), .s_axis_tlast(tx_tlast),
    .m_axis_tdata(w_tx_tdata), .m_axis_tkeep(w_tx_tkeep), .m_axis_tvalid(w_tx_tvalid),
    .m_axis_tready(w_tx_tready), .m_axis_tlast(w_tx_tlast)
);

ofl_axis_downsize #(.DATA_W(DATA_W)) u_tb_down (
    .clk(core_clk), .rst(core_rst),
    .s_axis_tdata(w_rx_tdata), .s_axis_tkeep(w_rx_tkeep), .s_axis_tvalid(w_rx_tvalid),
    .s_axis_tready(w_rx_tready), .s_axis_tlast(w_rx_tlast),
    .m_axis_tdata(rx_tdata), .m_axis_tvalid(rx_tvalid), .m_axis_tready(rx_tready), .m_axis_tlast(rx_tlast)
);

ofl_mac_edge #(.DATA_W(DATA_W), .RX_DEPTH(RX_DEPTH), .TX_DEPTH(TX_DEPTH), .CNT_W(16)) dut (
    .rmii_clk(rmii_clk), .rmii_rst(rmii_rst),
    .rmii_rxd(rxd), .rmii_crs_dv(tx_en), .rmii_rx_er(1'b0),
    .rmii_txd(txd), .rmii_tx_en(tx_en),
    .core_clk(core_clk), .core_rst(core_rst),
    .m_axis_rx_tdata(w_rx_tdata), .m_axis_rx_tkeep(w_rx_tkeep), .m_axis_rx_tvalid(w_rx_tvalid),
    .m_axis_rx_tready(w_rx_tready), .m_axis_rx_tlast(w_rx_tlast),
    .s_axis_tx_tdata(w_tx_tdata), .s_axis_tx_tkeep(w_tx_tkeep), .s_axis_tx_tvalid(w_tx_tvalid),
    .s_axis_tx_tready(w_tx_tready), .s_axis_tx_tlast(w_tx_tlast),
    .rx_drop_full(rx_drop_full), .rx_drop_bad(rx_drop_bad), .tx_drop_big(tx_drop_big),
    .tx_underrun(tx_underrun)
);

// frame i: bytes 0 and 1 are i, the rest random; flen[i] bytes before padding
localparam NB = 1 << 18;
reg [7:0] fb[0:NB-1];
integer fs[0:FRAMES-1], fl[0:FRAMES-1];
reg fcorrupt[0:FRAMES-1];
integer wire_seq[0:FRAMES-1];     // the n-th frame on the wire is frame wire_seq[n]
integer n_wire_sent = 0, n_big = 0, n_corrupt = 0, n_out = 0, nbytes = 0;
integer p_rd = 100;

// ---- core side: send ----
initial begin : sender
    integer i, k;
    repeat (4) @(posedge core_clk);
    core_rst <= 1'b0;
    repeat (20) @(negedge core_clk);
    for (i = 0; i < FRAMES; i = i + 1) begin
        fl[i] = i == 5 || chance(4) ? TX_DEPTH + 1 + rnd(20) : chance(20) ? 2 + rnd(58) : 2 + rnd(RX_DEPTH / 2);
        fs[i] = nbytes;
        for (k = 0; k < fl[i]; k = k + 1) fb[nbytes + k] = k < 2 ? i[7:0] ^ (k == 1 ? 8'hA5 : 8'h00) : $random(seed);
        nbytes = nbytes + fl[i];
        fcorrupt[i] = fl[i] <= TX_DEPTH && (i == 7 || chance(10));
        if (fl[i] > TX_DEPTH) n_big = n_big + 1;
        else begin
            wire_seq[n_wire_sent] = i;
            n_wire_sent = n_wire_sent + 1;
            if (fcorrupt[i]) n_corrupt = n_corrupt + 1;
        end
        for (k = 0; k < fl[i]; k = k + 1) begin
            tx_tvalid = 1'b1;
            tx_tdata = fb[fs[i] + k];
            tx_tlast = k == fl[i] - 1;
            while (tx_tready !== 1'b1) @(negedge core_clk);
            @(negedge core_clk);
        end
        tx_tvalid = 1'b0;
        repeat (rnd(3) == 0 ? rnd(400) : 0) @(negedge core_clk);
    end
end

// ---- the wire: flip a bit in the middle of the frames to corrupt ----
integer wire_n = 0, wire_dibits = 0;
always @(negedge rmii_clk) begin
    flip = 1'b0;
    if (tx_en === 1'b1) begin
        if (wire_dibits == 100 && fcorrupt[wire_seq[wire_n]]) flip = 1'b1;
        wire_dibits = wire_dibits + 1;
    end else if (wire_dibits > 0) begin
        wire_dibits = 0;
        wire_n = wire_n + 1;
    end
end

// ---- which frames the receive FIFO dropped as full (a corrupted one among them counts as full) ----
integer mac_done = 0, beat_frame = -1, n_corrupt_full = 0;
always @(negedge rmii_clk) begin
    // the pulse seen now is about the MAC byte taken at the rising edge just passed
    if (beat_frame >= 0 && dut.rx_pulse_full === 1'b1 && fcorrupt[wire_seq[beat_frame]])
        n_corrupt_full = n_corrupt_full + 1;
    beat_frame = -1;
    if (dut.mac_rx_tvalid === 1'b1) begin
        beat_frame = mac_done;
        if (dut.mac_rx_tlast) mac_done = mac_done + 1;
    end
end

// ---- core side: receive ----
integer cur = -1, pos = 0, last_seq = -1;
initial begin : receiver
    repeat (4) @(posedge core_clk);
    forever begin
        @(negedge core_clk);
        rx_tready = chance(p_rd);
        if (rx_tvalid === 1'b1 && rx_tready) begin
            if (pos == 0) begin
                cur = rx_tdata;
                // frame numbers wrap at 256; the next one is the smallest later frame with that number
                while (last_seq + 1 < FRAMES && ((last_seq + 1) % 256 != cur)) last_seq = last_seq + 1;
                cur = last_seq + 1;
                last_seq = cur;
                if (cur >= FRAMES) err($sformatf("a frame numbered %0d that was never sent", rx_tdata));
                else if (fl[cur] > TX_DEPTH) err($sformatf("frame %0d, larger than the TX FIFO, came back", cur));
                else if (fcorrupt[cur]) err($sformatf("frame %0d, corrupted on the wire, came back", cur));
            end
            if (cur < FRAMES) begin
                if (rx_tdata !== (pos < fl[cur] ? fb[fs[cur] + pos] : 8'h00))
                    err($sformatf("frame %0d byte %0d: %h", cur, pos, rx_tdata));
                if (rx_tlast !== (pos == (fl[cur] < 60 ? 60 : fl[cur]) - 1))
                    err($sformatf("frame %0d byte %0d: tlast %b", cur, pos, rx_tlast));
            end
            pos = rx_tlast ? 0 : pos + 1;
            if (rx_tlast) n_out = n_out + 1;
        end
    end
end

initial begin : control
    repeat (4) @(posedge rmii_clk);
    rmii_rst <= 1'b0;
    // the core reads everything, then stops for a while (the receive FIFO overflows), then reads again
    wait (n_wire_sent >= FRAMES / 3);
    p_rd = 0;
    wait (n_wire_sent >= FRAMES * 2 / 3);
    p_rd = 60;
    wait (n_wire_sent == FRAMES - n_big);
    wait (wire_n == n_wire_sent);
    repeat (2000) @(posedge rmii_clk);
    if (rx_drop_bad != n_corrupt - n_corrupt_full)
        err($sformatf("rx_drop_bad %0d, %0d frames corrupted, %0d of them dropped as full", rx_drop_bad,
            n_corrupt, n_corrupt_full));
    if (n_out + rx_drop_full + rx_drop_bad != n_wire_sent)
        err($sformatf("%0d back + %0d full + %0d bad != %0d sent", n_out, rx_drop_full, rx_drop_bad, n_wire_sent));
    if (rx_drop_full == 0) err("the receive FIFO never overflowed");
    if (tx_drop_big != n_big) err($sformatf("tx_drop_big %0d, %0d frames too large", tx_drop_big, n_big));
    if (tx_underrun != 0) err($sformatf("tx_underrun %0d", tx_underrun));
    if (n_corrupt == 0 || n_big == 0) err("no corrupted or no oversize frame in this run");
    $display("  %0d frames: %0d on the wire, %0d back, %0d dropped full, %0d bad, %0d too large for TX",
        FRAMES, n_wire_sent, n_out, rx_drop_full, rx_drop_bad, tx_drop_big);
    tb_finish;
end

endmodule
