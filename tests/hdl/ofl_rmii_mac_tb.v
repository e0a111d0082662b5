`timescale 1ns / 1ps
`default_nettype none

// RMII MAC, transmit and receive, with frames from tests/hdl/rmii_frames.py (FCS by zlib.crc32).
// Part 1: the transmitter sends tx_frames.txt looped back into the receiver. On the wire: 7 bytes
// 0x55, the SFD, then the bytes go to tx_capture.txt (rmii_frames.py compares them with zlib and has
// tshark check every FCS); TX_EN stays low at least 48 clocks (12 bytes) between frames and exactly
// 48 when frames wait; TXD is 00 while TX_EN is low. The receiver must hand back each frame padded to
// 60 bytes, FCS stripped, tuser clear. Three frames have a byte withheld: the MAC must pulse underrun,
// end the frame there with a wrong FCS (the receiver flags it, tshark finds it bad) and throw the rest
// of it away.
// Part 2: the receiver gets rx_stream.txt driven as a PHY would (preambles cut short, 00 before the
// preamble, CRS_DV toggling as the PHY drains, RX_ER, dribble bits, runts, fragments, a false
// carrier) and must give exactly the frames, tuser and frag pulses the file expects.
module ofl_rmii_mac_tb;

parameter DIR = ".";

`define TB_NAME "ofl_rmii_mac"
`define TB_WDOG 400000
`include "tb_common.vh"

reg rst = 1'b1;
reg [7:0] s_tdata = 0;
reg s_tvalid = 1'b0, s_tlast = 1'b0;
wire s_tready, underrun;
wire [1:0] txd;
wire tx_en;

reg loop = 1'b1;
reg [1:0] p_rxd = 2'b00;
reg p_dv = 1'b0, p_er = 1'b0;
wire [1:0] rxd = loop ? txd : p_rxd;
wire crs_dv = loop ? tx_en : p_dv;
wire rx_er = loop ? 1'b0 : p_er;
wire [7:0] m_tdata;
wire m_tvalid, m_tlast, m_tuser, frag;

ofl_rmii_tx u_tx (
    .clk(clk), .rst(rst),
    .s_axis_tdata(s_tdata), .s_axis_tvalid(s_tvalid), .s_axis_tready(s_tready), .s_axis_tlast(s_tlast),
    .rmii_txd(txd), .rmii_tx_en(tx_en), .underrun(underrun)
);

ofl_rmii_rx u_rx (
    .clk(clk), .rst(rst),
    .rmii_rxd(rxd), .rmii_crs_dv(crs_dv), .rmii_rx_er(rx_er),
    .m_axis_tdata(m_tdata), .m_axis_tvalid(m_tvalid), .m_axis_tlast(m_tlast), .m_axis_tuser(m_tuser),
    .frag(frag)
);

// frames the receiver must give, in order: bytes, and 0 good / 1 tuser / 2 only a frag pulse
localparam NB = 1 << 18;
reg [7:0] eb[0:NB-1];
integer ebn = 0;
integer es[0:1023], el[0:1023], ek[0:1023];
integer eh = 0, et = 0;
integer rx_pos = 0;
integer n_good = 0, n_bad = 0, n_frag = 0;

task automatic expect_frame(input integer kind, input integer n);
    es[et] = ebn - n;
    el[et] = n;
    ek[et] = kind;
    et = et + 1;
endtask

// ---- receiver output ----
always @(posedge clk) begin
    if (!rst && frag === 1'b1) begin
        if (eh >= et || ek[eh] != 2 || rx_pos != 0) err("frag pulse not expected");
        else begin
            eh = eh + 1;
            n_frag = n_frag + 1;
        end
    end
    if (!rst && m_tvalid === 1'b1) begin
        if (eh >= et || ek[eh] == 2) err("receiver gives a byte no frame expects");
        else begin
            if (m_tdata !== eb[es[eh] + rx_pos])
                err($sformatf("rx frame %0d byte %0d: %h, expected %h", eh, rx_pos, m_tdata, eb[es[eh] + rx_pos]));
            if (m_tlast !== (rx_pos == el[eh] - 1))
                err($sformatf("rx frame %0d byte %0d of %0d: tlast %b", eh, rx_pos, el[eh], m_tlast));
            rx_pos = rx_pos + 1;
            if (m_tlast === 1'b1) begin
                if (m_tuser !== (ek[eh] == 1)) err($sformatf("rx frame %0d: tuser %b", eh, m_tuser));
                if (m_tuser) n_bad = n_bad + 1; else n_good = n_good + 1;
                eh = eh + 1;
                rx_pos = 0;
            end
        end
    end else if (!rst && m_tvalid !== 1'b0) begin
        err("m_tvalid is X");
    end
end

// ---- transmitter wire monitor ----
integer cap;
integer low_run = 1000, n_wire = 0, n_min_gap = 0, wire_dibits = 0;
reg [7:0] wire_bytes[0:4095];
reg [7:0] wb = 0;
reg hole_now = 1'b0;            // the bench is withholding a byte on purpose
integer n_underrun = 0;
reg frame_waiting = 1'b0;       // a frame was ready while the gap ran: the gap must be the minimum
always @(posedge clk) begin
    if (!rst) begin
        if (tx_en === 1'b1) begin
            if (wire_dibits == 0) begin
                if (low_run < 48) err($sformatf("inter-frame gap of %0d clocks", low_run));
                if (low_run == 48) n_min_gap = n_min_gap + 1;
                else if (frame_waiting && n_wire > 0)
                    err($sformatf("gap of %0d clocks with a frame waiting", low_run));
            end
            wb = {txd, wb[7:2]};
            wire_dibits = wire_dibits + 1;
            if (wire_dibits % 4 == 0) wire_bytes[wire_dibits / 4 - 1] = wb;
            low_run = 0;
        end else begin
            if (txd !== 2'b00) err("TXD not 00 while TX_EN is low");
            if (wire_dibits > 0) begin
                if (wire_dibits % 4 != 0) err("frame on the wire is not whole bytes");
                for (int i = 0; i < 8; i++)
                    if (wire_bytes[i] !== (i == 7 ? 8'hD5 : 8'h55))
                        err($sformatf("wire frame %0d: preamble byte %0d is %h", n_wire, i, wire_bytes[i]));
                $fwrite(cap, "%0d", wire_dibits / 4 - 8);
                for (int i = 8; i < wire_dibits / 4; i++) $fwrite(cap, " %02h", wire_bytes[i]);
                $fwrite(cap, "\n");
                n_wire = n_wire + 1;
                wire_dibits = 0;
            end
            low_run = low_run + 1;
        end
        if (underrun === 1'b1) begin
            if (!hole_now) err("transmitter underrun");
            n_underrun = n_underrun + 1;
        end
    end
end

// ---- part 1: transmit, looped back ----
task automatic send_tx_frames;
    integer f, gap, hole, n, i, k, nexp, prev_hole;
    reg [7:0] fb[0:2047];
    f = $fopen({DIR, "/tx_frames.txt"}, "r");
    if (f == 0) err("no tx_frames.txt");
    prev_hole = 0;
    while ($fscanf(f, "%d %d %d", gap, hole, n) == 3) begin
        for (i = 0; i < n; i++) k = $fscanf(f, "%h", fb[i]);
        // the receiver gives the frame back padded to 60 bytes; an underrun frame only up to its hole,
        // marked bad (its FCS is wrong)
        nexp = hole > 0 ? hole : n < 60 ? 60 : n;
        for (i = 0; i < nexp; i++) begin
            eb[ebn] = i < n ? fb[i] : 8'h00;
            ebn = ebn + 1;
        end
        expect_frame(hole > 0 ? 1 : 0, nexp);
        repeat (gap) @(posedge clk);
        // after an underrun the rest of that frame is read away first: the next one was not waiting
        frame_waiting = gap == 0 && prev_hole == 0;
        prev_hole = hole;
        for (i = 0; i < n; i++) begin
            if (hole > 0 && i == hole) begin
                // the MAC wants a byte every 4 clocks: 12 without one is an underrun for sure
                s_tvalid <= 1'b0;
                hole_now = 1'b1;
                repeat (12) @(posedge clk);
            end
            s_tvalid <= 1'b1;
            s_tdata <= fb[i];
            s_tlast <= i == n - 1;
            @(posedge clk);
            while (s_tready !== 1'b1) @(posedge clk);
        end
        s_tvalid <= 1'b0;
        hole_now = 1'b0;
    end
    $fclose(f);
endtask

// ---- part 2: the PHY's side of the receiver ----
task automatic dibit(input [1:0] d, input dv, input er);
    p_rxd <= d;
    p_dv <= dv;
    p_er <= er;
    @(posedge clk);
endtask

task automatic drive_rx_stream;
    integer f, flags, erbyte, pre, gap, exp, n, i, j, k, toggle_from;
    reg [7:0] fb[0:2047];
    f = $fopen({DIR, "/rx_stream.txt"}, "r");
    if (f == 0) err("no rx_stream.txt");
    while ($fscanf(f, "%d %d %d %d %d %d", flags, erbyte, pre, gap, exp, n) == 6) begin
        for (i = 0; i < n; i++) k = $fscanf(f, "%h", fb[i]);
        if (exp != 3) begin
            for (i = 0; i < n - 4; i++) begin
                eb[ebn] = fb[i];
                ebn = ebn + 1;
            end
            expect_frame(exp, exp == 2 ? 0 : n - 4);
        end
        if (flags & 8) repeat (3) dibit(2'b00, 1'b1, 1'b0);
        if (flags & 16) begin
            for (i = 0; i < n * 4; i++) dibit(2'b10, 1'b1, 1'b0);
        end else begin
            for (i = 0; i < pre * 4; i++) dibit(2'b01, 1'b1, 1'b0);
            for (i = 0; i < 3; i++) dibit(2'b01, 1'b1, 1'b0);
            dibit(2'b11, 1'b1, 1'b0);
            // with F_TOGGLE the carrier goes 3 bytes before the end: CRS_DV low on each nibble's first di-bit
            toggle_from = (flags & 1) ? n - 3 : n;
            for (i = 0; i < n; i++)
                for (j = 0; j < 4; j++)
                    dibit(fb[i][2*j +: 2], !(i >= toggle_from && j % 2 == 0),
                        (flags & 2) != 0 && i == erbyte && j == 1);
            if (flags & 4) dibit(2'b10, 1'b1, 1'b0);
        end
        for (i = 0; i < gap; i++) dibit(rnd(4), 1'b0, 1'b0);
    end
    $fclose(f);
endtask

initial begin
    cap = $fopen({DIR, "/tx_capture.txt"}, "w");
    repeat (3) @(posedge clk);
    rst <= 1'b0;
    send_tx_frames;
    while (eh < et) @(posedge clk);
    repeat (100) @(posedge clk);
    $fclose(cap);
    if (n_min_gap == 0) err("no two frames were sent with the minimum gap");
    if (n_underrun != 3) err($sformatf("%0d underrun pulses for 3 underruns", n_underrun));
    $display("  transmit: %0d frames on the wire, %0d after the minimum gap, %0d underruns, all back through the receiver",
        n_wire, n_min_gap, n_underrun);
    loop <= 1'b0;
    @(posedge clk);
    n_good = 0;
    drive_rx_stream;
    repeat (100) @(posedge clk);
    if (eh != et) err($sformatf("receiver gave %0d of %0d expected frames", eh, et));
    $display("  receive: %0d good, %0d with tuser, %0d fragments", n_good, n_bad, n_frag);
    tb_finish;
end

endmodule
