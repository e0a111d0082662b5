`timescale 1ns / 1ps
`default_nettype none

// ofl_axil_csr: every AXI4-Lite transaction gets the response docs/dataplane.md promises and causes
// exactly the CSR access it should (one for an OKAY access, none for a refused one), in order, with the
// read data the CSR block returned. The master drives AW, W and AR on their own with random delays (so AW
// comes before W, W before AW, and reads beside writes) and random bready/rready; the CSR block stand-in
// acks after 1..4 cycles, never in its "dead" page (0xFF00..0xFFFF), which must end in SLVERR. AXI
// output stability and the CSR master's contract (inputs held until ack, req low for a cycle after) are
// checked every cycle, and so is fairness: a waiting read lets at most one write go first, and the reverse.
module ofl_axil_csr_tb;

parameter ADDR_W = 16;
parameter DATA_W = 32;
parameter TIMEOUT = 16;
parameter N = 1500;
localparam STRB_W = DATA_W / 8;
localparam WIDE = DATA_W == 64;

`define TB_NAME $sformatf("ofl_axil_csr ADDR_W=%0d DATA_W=%0d TIMEOUT=%0d", ADDR_W, DATA_W, TIMEOUT)
`define TB_WDOG 2000000
`include "tb_common.vh"

localparam [1:0] OKAY = 2'b00, SLVERR = 2'b10, DECERR = 2'b11;

reg rst = 1'b1;
reg [ADDR_W-1:0] awaddr = 0, araddr = 0;
reg [2:0] awprot = 0, arprot = 0;
reg awvalid = 1'b0, wvalid = 1'b0, bready = 1'b0, arvalid = 1'b0, rready = 1'b0;
reg [DATA_W-1:0] wdata = 0;
reg [STRB_W-1:0] wstrb = 0;
wire awready, wready, bvalid, arready, rvalid;
wire [1:0] bresp, rresp;
wire [DATA_W-1:0] rdata;
wire csr_req, csr_we;
wire [15:0] csr_addr;
wire [31:0] csr_wdata;
reg csr_ack = 1'b0;
reg [31:0] csr_rdata = 0;

ofl_axil_csr #(.ADDR_W(ADDR_W), .DATA_W(DATA_W), .TIMEOUT(TIMEOUT)) dut (
    .clk(clk), .rst(rst),
    .s_axil_awaddr(awaddr), .s_axil_awprot(awprot), .s_axil_awvalid(awvalid), .s_axil_awready(awready),
    .s_axil_wdata(wdata), .s_axil_wstrb(wstrb), .s_axil_wvalid(wvalid), .s_axil_wready(wready),
    .s_axil_bresp(bresp), .s_axil_bvalid(bvalid), .s_axil_bready(bready),
    .s_axil_araddr(araddr), .s_axil_arprot(arprot), .s_axil_arvalid(arvalid), .s_axil_arready(arready),
    .s_axil_rdata(rdata), .s_axil_rresp(rresp), .s_axil_rvalid(rvalid), .s_axil_rready(rready),
    .csr_req(csr_req), .csr_we(csr_we), .csr_addr(csr_addr), .csr_wdata(csr_wdata),
    .csr_ack(csr_ack), .csr_rdata(csr_rdata)
);

// ---------------------------------------------------------------- transactions
reg [ADDR_W-1:0] w_addr[0:N-1];
reg [DATA_W-1:0] w_data[0:N-1];
reg [STRB_W-1:0] w_strb[0:N-1];
reg [ADDR_W-1:0] r_addr[0:N-1];
integer aw_i = 0, w_i = 0, b_i = 0, ar_i = 0, r_i = 0;
integer n_okay = 0, n_slverr = 0, n_decerr = 0, n_noop = 0, n_wfirst = 0, n_awfirst = 0, n_both = 0;

function automatic [ADDR_W-1:0] gen_addr();
    reg [ADDR_W-1:0] a;
    integer k;
    begin
        k = rnd(100);
        a = 0;
        if (k < 60) a[15:0] = {rnd(48), 2'b00};                // a few registers, often the same
        else if (k < 85) a[15:0] = $random(seed);              // anywhere in the window
        else if (k < 92) a[15:0] = {8'hFF, 8'd0} | rnd(256);   // the page that never acks
        else a[15:0] = $random(seed);
        if (k >= 92 && ADDR_W > 16) a = a | ({{(ADDR_W - 1){1'b0}}, 1'b1} << (16 + rnd(ADDR_W - 16)));
        if (chance(10)) a[1:0] = rnd(4);                       // ignored: registers are word aligned
        gen_addr = a;
    end
endfunction

function automatic [STRB_W-1:0] gen_strb(input [ADDR_W-1:0] a);
    reg [3:0] s;
    integer k;
    begin
        k = rnd(100);
        s = k < 80 ? 4'hF : k < 88 ? 4'h0 : 4'h1 + rnd(14);
        gen_strb = s;
        if (WIDE) begin
            gen_strb = a[2] ? {s, 4'h0} : {4'h0, s};
            if (chance(8)) gen_strb = gen_strb | (a[2] ? 8'h01 << rnd(4) : 8'h10 << rnd(4));
        end
    end
endfunction

integer t;
initial begin
    for (t = 0; t < N; t = t + 1) begin
        w_addr[t] = gen_addr();
        w_data[t] = {$random(seed), $random(seed)};
        w_strb[t] = gen_strb(w_addr[t]);
        r_addr[t] = gen_addr();
    end
end

function automatic bit in_window(input [ADDR_W-1:0] a);
    in_window = (a >> 16) == 0;
endfunction

function automatic bit dead(input [ADDR_W-1:0] a);
    dead = a[15:8] == 8'hFF;
endfunction

function automatic [3:0] lane_strb(input [ADDR_W-1:0] a, input [STRB_W-1:0] s);
    lane_strb = WIDE && a[2] ? s >> 4 : s;
endfunction

function automatic bit other_strb(input [ADDR_W-1:0] a, input [STRB_W-1:0] s);
    other_strb = WIDE && (a[2] ? (s & 'hF) != 0 : (s >> 4) != 0);
endfunction

// what a write must answer, and whether it reaches the CSR bus
function automatic [1:0] w_expect(input integer i);
    if (!in_window(w_addr[i])) w_expect = DECERR;
    else if (other_strb(w_addr[i], w_strb[i])) w_expect = SLVERR;
    else if (lane_strb(w_addr[i], w_strb[i]) != 4'hF && lane_strb(w_addr[i], w_strb[i]) != 4'h0) w_expect = SLVERR;
    else if (lane_strb(w_addr[i], w_strb[i]) == 4'h0) w_expect = OKAY;
    else if (dead(w_addr[i])) w_expect = SLVERR;
    else w_expect = OKAY;
endfunction

function automatic bit w_accesses(input integer i);
    w_accesses = in_window(w_addr[i]) && !other_strb(w_addr[i], w_strb[i]) && lane_strb(w_addr[i], w_strb[i]) == 4'hF;
endfunction

function automatic [31:0] lane_data(input [ADDR_W-1:0] a, input [DATA_W-1:0] d);
    lane_data = WIDE && a[2] ? d >> 32 : d;
endfunction

// ---------------------------------------------------------------- CSR block stand-in
reg [31:0] mem[0:16383];
integer k0;
initial for (k0 = 0; k0 < 16384; k0 = k0 + 1) mem[k0] = k0 * 32'h9E37_79B9;

// accesses the CSR block completed since the last AXI response: at most one may be outstanding
integer log_n = 0;
reg log_we;
reg [15:0] log_addr;
reg [31:0] log_wdata, log_rdata;

integer csr_wait = -1;      // cycles until ack, -1 when no access is pending
reg ack_last = 1'b0;        // ack was high at the previous edge: req must be low at this one
reg [48:0] held;
integer acc_timeouts = 0;

task automatic csr_step;
    if (ack_last && csr_req) err("csr_req still high the cycle after csr_ack");
    ack_last = csr_ack;
    csr_ack <= 1'b0;
    if (csr_wait >= 0 && !csr_req) begin
        // the master gave up: only allowed where the stand-in never answers
        if (!dead(held[48:33])) err($sformatf("csr_req dropped before ack at 0x%04h", held[48:33]));
        acc_timeouts = acc_timeouts + 1;
        csr_wait = -1;
    end
    if (csr_wait >= 0 && {csr_addr, csr_we, csr_wdata} !== held && !(held[32] == 1'b0 && {csr_addr, csr_we} === held[48:32]))
        err("CSR inputs changed while req was waiting for ack");
    if (csr_req && !csr_ack && !ack_last && csr_wait < 0) begin
        if (csr_addr[1:0] != 2'b00) err($sformatf("unaligned CSR address 0x%04h", csr_addr));
        held = {csr_addr, csr_we, csr_wdata};
        csr_wait = dead(csr_addr) ? 1 << 30 : rnd(4);
    end else if (csr_wait > 0) begin
        csr_wait = csr_wait - 1;
    end
    if (csr_req && csr_wait == 0) begin
        csr_wait = -1;
        csr_ack <= 1'b1;
        if (log_n != 0) err("a second CSR access before the first one's AXI response");
        log_n = log_n + 1;
        log_we = csr_we;
        log_addr = csr_addr;
        log_wdata = csr_wdata;
        log_rdata = mem[csr_addr[15:2]];
        if (csr_we) mem[csr_addr[15:2]] = csr_wdata;
        csr_rdata <= csr_we ? $random(seed) : log_rdata;   // a write's rdata is noise: nobody may use it
    end
endtask

// ---------------------------------------------------------------- AXI master and checks
integer p_v = 50, p_r = 50;
reg b_hold = 1'b0, r_hold = 1'b0;
reg [1:0] b_held;
reg [1:0] r_held_resp;
reg [DATA_W-1:0] r_held;
integer aw_rise = 0, w_rise = 0;   // cycle the current AW / W valid went up
// responses of the other kind given while a read (or a whole write) waited: alternation allows one
integer r_passed = 0, w_passed = 0;

task automatic axi_step;
    reg [1:0] e;
    reg go;
    // slave outputs must hold until taken
    if (b_hold && (bvalid !== 1'b1 || bresp !== b_held)) err("bvalid/bresp changed before bready");
    if (r_hold && (rvalid !== 1'b1 || rresp !== r_held_resp || rdata !== r_held)) err("rvalid/rdata changed before rready");
    b_hold = bvalid && !bready;
    b_held = bresp;
    r_hold = rvalid && !rready;
    r_held_resp = rresp;
    r_held = rdata;

    // which valid the master raised first, for the write being taken
    if (awvalid && awready && wvalid && wready) begin
        if (aw_rise < w_rise) n_awfirst = n_awfirst + 1;
        else if (w_rise < aw_rise) n_wfirst = n_wfirst + 1;
        else n_both = n_both + 1;
    end
    // a waiting read lets at most one write go ahead of it, and the reverse
    if (arvalid && !arready && bvalid && bready) r_passed = r_passed + 1;
    if (!(arvalid && !arready)) r_passed = 0;
    if (awvalid && wvalid && !awready && rvalid && rready) w_passed = w_passed + 1;
    if (!(awvalid && wvalid && !awready)) w_passed = 0;
    if (r_passed > 1) err("a waiting read was passed by two writes");
    if (w_passed > 1) err("a waiting write was passed by two reads");
    if (awvalid && awready) aw_i = aw_i + 1;
    if (wvalid && wready) w_i = w_i + 1;
    if (arvalid && arready) ar_i = ar_i + 1;

    if (bvalid && bready) begin
        if (b_i >= aw_i || b_i >= w_i) err("a write response before its address and data were taken");
        e = w_expect(b_i);
        if (bresp !== e) err($sformatf("write %0d to 0x%0h strb %b: bresp %b, expected %b", b_i, w_addr[b_i], w_strb[b_i], bresp, e));
        if (w_accesses(b_i) && !dead(w_addr[b_i])) begin
            if (log_n != 1) err($sformatf("write %0d made %0d CSR accesses", b_i, log_n));
            else if (!log_we || log_addr !== {w_addr[b_i][15:2], 2'b00} || log_wdata !== lane_data(w_addr[b_i], w_data[b_i]))
                err($sformatf("write %0d: CSR saw we=%b 0x%04h=%h, expected 0x%04h=%h", b_i, log_we, log_addr, log_wdata,
                              {w_addr[b_i][15:2], 2'b00}, lane_data(w_addr[b_i], w_data[b_i])));
        end else if (log_n != 0) begin
            err($sformatf("write %0d (bresp %b) reached the CSR block", b_i, e));
        end
        if (e == OKAY) n_okay = n_okay + 1;
        if (e == SLVERR) n_slverr = n_slverr + 1;
        if (e == DECERR) n_decerr = n_decerr + 1;
        if (e == OKAY && !w_accesses(b_i)) n_noop = n_noop + 1;
        log_n = 0;
        b_i = b_i + 1;
    end
    if (rvalid && rready) begin
        if (r_i >= ar_i) err("a read response before its address was taken");
        e = !in_window(r_addr[r_i]) ? DECERR : dead(r_addr[r_i]) ? SLVERR : OKAY;
        if (rresp !== e) err($sformatf("read %0d of 0x%0h: rresp %b, expected %b", r_i, r_addr[r_i], rresp, e));
        if (e == OKAY) begin
            if (log_n != 1 || log_we || log_addr !== {r_addr[r_i][15:2], 2'b00})
                err($sformatf("read %0d of 0x%0h: %0d CSR accesses (we=%b addr 0x%04h)", r_i, r_addr[r_i], log_n, log_we, log_addr));
            else if (rdata !== {(DATA_W / 32){log_rdata}})
                err($sformatf("read %0d of 0x%0h: rdata %h, CSR returned %h", r_i, r_addr[r_i], rdata, log_rdata));
            n_okay = n_okay + 1;
        end else begin
            if (log_n != 0) err($sformatf("read %0d (rresp %b) reached the CSR block", r_i, e));
            if (e == SLVERR) n_slverr = n_slverr + 1;
            if (e == DECERR) n_decerr = n_decerr + 1;
        end
        log_n = 0;
        r_i = r_i + 1;
    end

    // sources: a valid stays up with its payload until taken; channels run on their own
    if (!(awvalid && !awready)) begin
        go = aw_i < N && aw_i < b_i + 2 && chance(p_v);
        if (go) aw_rise = cycle;
        awvalid <= go;
        awaddr <= w_addr[aw_i % N];
        awprot <= rnd(8);
    end
    if (!(wvalid && !wready)) begin
        go = w_i < N && w_i < b_i + 2 && chance(p_v);
        if (go) w_rise = cycle;
        wvalid <= go;
        wdata <= w_data[w_i % N];
        wstrb <= w_strb[w_i % N];
    end
    if (!(arvalid && !arready)) begin
        arvalid <= ar_i < N && ar_i < r_i + 2 && chance(p_v);
        araddr <= r_addr[ar_i % N];
        arprot <= rnd(8);
    end
    bready <= chance(p_r);
    rready <= chance(p_r);
endtask

task automatic step;
    @(posedge clk);
    if (rst) begin
        csr_ack <= 1'b0;
    end else begin
        csr_step;
        axi_step;
    end
endtask

task automatic phase(input integer v, input integer r, input integer upto);
    p_v = v;
    p_r = r;
    while (b_i < upto || r_i < upto) step;
endtask

initial begin
    repeat (3) step;
    rst <= 1'b0;
    phase(100, 100, N / 5);
    phase(50, 50, 2 * N / 5);
    phase(20, 90, 3 * N / 5);
    phase(90, 20, 4 * N / 5);
    phase(70, 70, N);
    repeat (20) step;
    if (aw_i != N || w_i != N || b_i != N || ar_i != N || r_i != N)
        err($sformatf("handshakes aw %0d w %0d b %0d ar %0d r %0d of %0d", aw_i, w_i, b_i, ar_i, r_i, N));
    if (n_wfirst == 0 || n_awfirst == 0) err($sformatf("orders not both seen: W first %0d, AW first %0d", n_wfirst, n_awfirst));
    if (n_slverr == 0 || n_noop == 0 || (ADDR_W > 16 && n_decerr == 0)) err("some response kind was never exercised");
    $display("  %0d OKAY (%0d no-op writes), %0d SLVERR (%0d timeouts), %0d DECERR; W first %0d, AW first %0d, together %0d",
             n_okay, n_noop, n_slverr, acc_timeouts, n_decerr, n_wfirst, n_awfirst, n_both);
    tb_finish;
end

endmodule
