`timescale 1ns / 1ps
`default_nettype none

// ofl_dispatch: the RX FIFO holds every frame whole (none for an oversize drop). For each decision,
// in order: forward = the frame from the FIFO with the decision's values written over it (MACs, TTL,
// IPv4 checksum, NAT address and port on the side its flags say, the TCP or UDP checksum; computed
// here byte by byte from docs/dataplane.md's offsets) to the next hop's port; ARP reply (built here
// from the request's fields in the decision, per docs/dataplane.md) out the ingress port, the
// request's FIFO data popped alongside unless it is also copied to the host; host = reservation of
// metadata + frame words, then 16 bytes of big-endian metadata (TIME = `now` in the grant cycle) +
// the frame, or, refused, the data drained and cnt_host_full; FIN event = metadata only, after the
// forward; drop = data drained. Only the head decision's FIFO words are popped, all of them; the
// next decision's first word follows the previous last word with no bubble; outputs hold while
// stalled.
module ofl_dispatch_tb;

parameter DATA_W = 64;
parameter PORT = 0;
localparam WB = DATA_W / 8;
localparam MW = 16 / WB;

`define TB_NAME $sformatf("ofl_dispatch DATA_W=%0d PORT=%0d", DATA_W, PORT)
`include "tb_common.vh"
`include "ofl_dec.vh"

reg rst = 1'b1;
reg [DEC_W-1:0] dec_data = 0;
reg dec_valid = 1'b0, rxf_valid = 1'b0, m_tready = 1'b0, host_grant = 1'b0;
reg [DATA_W-1:0] rxf_data = 0;
reg [63:0] now = 0;
wire dec_ready, rxf_ready, m_tvalid, m_tlast, host_req, cnt_punt, cnt_host_full, busy;
wire [DATA_W-1:0] m_tdata;
wire [WB-1:0] m_tkeep;
wire [1:0] m_tdest;
wire [15:0] host_words;

ofl_dispatch #(.DATA_W(DATA_W), .PORT(PORT)) dut (
    .clk(clk), .rst(rst),
    .dec_data(dec_data), .dec_valid(dec_valid), .dec_ready(dec_ready),
    .rxf_data(rxf_data), .rxf_valid(rxf_valid), .rxf_ready(rxf_ready),
    .m_axis_tdata(m_tdata), .m_axis_tkeep(m_tkeep), .m_axis_tvalid(m_tvalid), .m_axis_tready(m_tready),
    .m_axis_tlast(m_tlast), .m_axis_tdest(m_tdest),
    .host_req(host_req), .host_words(host_words), .host_grant(host_grant),
    .now(now),
    .cnt_punt(cnt_punt), .cnt_host_full(cnt_host_full),
    .busy(busy)
);

// decisions (ring of DN), their frames, and the RX FIFO words (tagged with their decision)
localparam DN = 64, ML = 400, RN = 8192, EN = 1024;   // EN: a whole packet at DATA_W = 8
reg [DEC_W-1:0] d_dec[0:DN-1];
reg [7:0] fr[0:DN-1][0:ML-1];
integer d_len[0:DN-1], d_words[0:DN-1];
integer d_in = 0, d_head = 0;
reg [DATA_W-1:0] rq[0:RN-1];
integer rq_tag[0:RN-1];
integer rq_in = 0, rq_out = 0;
// expected words of the head decision
reg [DATA_W-1:0] e_data[0:EN-1];
reg [WB-1:0] e_keep[0:EN-1];
reg e_last[0:EN-1], e_rxf[0:EN-1];
reg [1:0] e_dest[0:EN-1];
integer e_in = 0, e_out = 0;
// the head decision's progress
integer popped = 0;
reg need_req = 1'b0, req_done = 1'b0, discard_ok = 1'b0, started = 1'b0;
reg [7:0] pk[0:ML + 15];
integer p_dec = 30, p_rxf = 80, p_ready = 80, p_grant = 70;
integer n_kind[0:4];

function automatic integer nwords(input integer n);
    nwords = (n + WB - 1) / WB;
endfunction

// pk[0..n-1] as words; words from index rxf_from on come from the RX FIFO
task automatic expect_packet(input integer n, input [1:0] dest, input integer rxf_from);
    integer nw;
    nw = nwords(n);
    for (int w = 0; w < nw; w++) begin
        for (int i = 0; i < WB; i++) e_data[e_in % EN][8*i +: 8] = w * WB + i < n ? pk[w * WB + i] : 8'd0;
        e_keep[e_in % EN] = w == nw - 1 ? {WB{1'b1}} >> (nw * WB - n) : {WB{1'b1}};
        e_last[e_in % EN] = w == nw - 1;
        e_rxf[e_in % EN] = w >= rxf_from;
        e_dest[e_in % EN] = dest;
        e_in++;
    end
endtask

task automatic new_decision;
    integer id, kind, len, vlan, l3;
    reg [DEC_W-1:0] d;
    id = d_in % DN;
    kind = rnd(5);    // 0 drop, 1 forward, 2 forward + FIN event, 3 ARP reply (+ copy), 4 host
    n_kind[kind]++;
    vlan = (kind >= 1 && kind <= 3) && chance(30);
    l3 = vlan ? 18 : 14;
    len = kind == 3 ? l3 + 28 + rnd(60) : chance(40) ? 14 + rnd(51) : 65 + rnd(ML - 65);
    d = 0;
    for (int i = 0; i < len; i++) fr[id][i] = $random(seed);
    // the union's bits at random: the dispatcher must read them as FWD / ARP say (flags included)
    for (int i = 0; i < DEC_LEN; i += 32) d[i +: 32] = $random(seed);
    d[DEC_LEN +: 16] = len;
    d[DEC_HAS_DATA] = !(kind == 0 && chance(30));   // a dropped oversize frame left no data
    d[DEC_FWD] = kind == 1 || kind == 2;
    d[DEC_FWD_PORT] = rnd(2);
    d[DEC_ARP] = kind == 3;
    d[DEC_HOST] = kind == 4 || (kind == 3 && chance(50));
    d[DEC_EVENT] = kind == 2;
    d[DEC_REASON +: 4] = 1 + rnd(9);
    d[DEC_AUX +: 32] = $random(seed);
    d[DEC_VLAN] = vlan;
    d_dec[id] = d;
    d_len[id] = len;
    d_words[id] = d[DEC_HAS_DATA] ? nwords(len) : 0;
    // the RX FIFO holds the whole frame, as received (junk past the end)
    for (int w = 0; w < d_words[id]; w++) begin
        for (int i = 0; i < WB; i++)
            rq[rq_in % RN][8*i +: 8] = w * WB + i < len ? fr[id][w * WB + i] : $random(seed);
        rq_tag[rq_in % RN] = d_in;
        rq_in++;
    end
    d_in++;
endtask

// pk[at..at+n-1] := the n low bytes of v, most significant first
task automatic put_be(input integer at, input integer n, input [63:0] v);
    for (int i = 0; i < n; i++) pk[at + i] = v[8 * (n - 1 - i) +: 8];
endtask

// the head decision's first packet (forward or ARP reply); host and event packets wait for a grant
task automatic start_decision;
    reg [DEC_W-1:0] d;
    integer id, len, l3;
    id = d_head % DN;
    d = d_dec[id];
    len = d_len[id];
    l3 = d[DEC_VLAN] ? 18 : 14;
    popped = 0;
    req_done = 1'b0;
    need_req = d[DEC_HOST] || d[DEC_EVENT];
    discard_ok = !d[DEC_FWD] && !d[DEC_ARP] && !d[DEC_HOST];
    if (d[DEC_ARP] && !d[DEC_HOST]) discard_ok = 1'b1;
    if (d[DEC_FWD]) begin
        for (int i = 0; i < ML + 16; i++) pk[i] = i < len ? fr[id][i] : 8'd0;
        put_be(0, 6, d[DEC_DMAC +: 48]);
        put_be(6, 6, d[DEC_SMAC +: 48]);
        put_be(l3 + 8, 1, d[DEC_TTL +: 8]);
        put_be(l3 + 10, 2, d[DEC_HC +: 16]);
        if (d[DEC_NAT_SRC]) put_be(l3 + 12, 4, d[DEC_NATIP +: 32]);
        if (d[DEC_NAT_DST]) put_be(l3 + 16, 4, d[DEC_NATIP +: 32]);
        if (d[DEC_NAT_PORT] && d[DEC_NAT_SRC]) put_be(l3 + 20, 2, d[DEC_NATPORT +: 16]);
        if (d[DEC_NAT_PORT] && d[DEC_NAT_DST]) put_be(l3 + 22, 2, d[DEC_NATPORT +: 16]);
        if (d[DEC_L4CS_UDP]) put_be(l3 + 26, 2, d[DEC_L4CS +: 16]);
        if (d[DEC_L4CS_TCP]) put_be(l3 + 36, 2, d[DEC_L4CS +: 16]);
        expect_packet(len, {1'b0, d[DEC_FWD_PORT]}, 0);
    end else if (d[DEC_ARP]) begin
        for (int i = 0; i < 64; i++) pk[i] = 0;
        put_be(0, 6, d[DEC_SHA +: 48]);               // dst = SHA
        put_be(6, 6, d[DEC_VMAC +: 48]);              // src = vMAC
        if (d[DEC_VLAN]) put_be(12, 4, {16'h8100, d[DEC_TCI +: 16]});
        put_be(l3 - 2, 6, 48'h0806_0001_0800);
        put_be(l3 + 4, 4, 32'h0604_0002);
        put_be(l3 + 8, 6, d[DEC_VMAC +: 48]);         // SHA = vMAC
        put_be(l3 + 14, 4, d[DEC_TPA +: 32]);         // SPA = VIP (the request's TPA)
        put_be(l3 + 18, 6, d[DEC_SHA +: 48]);         // THA = request's SHA
        put_be(l3 + 24, 4, d[DEC_SPA +: 32]);         // TPA = request's SPA
        expect_packet(d[DEC_VLAN] ? 64 : 60, PORT, 1 << 20);
    end
    started = 1'b1;
endtask

task automatic step;
    reg [DEC_W-1:0] d;
    integer id, n;
    @(posedge clk);
    if (!rst) begin
        id = d_head % DN;
        d = d_dec[id];
        if (dec_valid && !started) start_decision;
        // output word: the expected one, present whenever it can be, held while stalled
        if (m_tvalid === 1'b1) begin
            if (e_out == e_in) err("tvalid with no word expected");
            else if (m_tdest !== e_dest[e_out % EN] || m_tlast !== e_last[e_out % EN] || m_tkeep !== e_keep[e_out % EN]
                     || ((m_tdata ^ e_data[e_out % EN]) & keep_mask(e_keep[e_out % EN])) != 0)
                err($sformatf("decision %0d word %0d: dest %0d last %b keep %b data %h, expected %0d %b %b %h",
                              d_head, e_out, m_tdest, m_tlast, m_tkeep, m_tdata, e_dest[e_out % EN],
                              e_last[e_out % EN], e_keep[e_out % EN], e_data[e_out % EN]));
        end else if (m_tvalid !== 1'b0) begin
            err("tvalid is X");
        end else if (e_out != e_in && dec_valid && (!e_rxf[e_out % EN] || rxf_valid)) begin
            err($sformatf("bubble: decision %0d word %0d ready to go, tvalid=0", d_head, e_out));
        end
        // RX FIFO pops: the head decision's words only, with the word they send or drained
        if (rxf_ready) begin
            if (!rxf_valid) err("rxf_ready without rxf_valid");
            else if (rq_tag[rq_out % RN] != d_head)
                err($sformatf("popped a FIFO word of decision %0d while on %0d", rq_tag[rq_out % RN], d_head));
            else if (!(m_tvalid && m_tready && e_rxf[e_out % EN]) && !discard_ok)
                err($sformatf("decision %0d: FIFO word dropped instead of sent", d_head));
        end else if (m_tvalid && m_tready && e_out != e_in && e_rxf[e_out % EN]) begin
            err("FIFO word sent but not popped");
        end
        // host reservation: right after the decision's first packet, once
        n = MW + (d[DEC_HOST] ? nwords(d_len[id]) : 0);
        if (host_req !== (dec_valid && need_req && !req_done && e_out == e_in))
            err($sformatf("decision %0d: host_req=%b (needs %b, done %b, %0d words left)", d_head, host_req,
                          need_req, req_done, e_in - e_out));
        else if (host_req && host_words !== n)
            err($sformatf("host_words=%0d, expected %0d", host_words, n));
        if (cnt_punt !== (host_req && host_grant) || cnt_host_full !== (host_req && !host_grant))
            err($sformatf("cnt_punt=%b cnt_host_full=%b for req %b grant %b", cnt_punt, cnt_host_full, host_req, host_grant));
        if (m_tvalid && m_tready && e_out != e_in) e_out++;
        if (rxf_ready && rxf_valid) begin
            rq_out++;
            popped++;
        end
        if (host_req) begin
            req_done = 1'b1;
            if (host_grant) begin
                // metadata, big-endian, then the frame (host) or nothing (event)
                {pk[0], pk[1], pk[2], pk[3]} = {4'd0, d[DEC_REASON +: 4], 7'd0, PORT[0],
                                                d[DEC_HOST] ? d[DEC_LEN +: 16] : 16'd0};
                {pk[4], pk[5], pk[6], pk[7]} = d[DEC_AUX +: 32];
                for (int i = 0; i < 8; i++) pk[8 + i] = now[63 - 8*i -: 8];
                if (d[DEC_HOST]) for (int i = 0; i < d_len[id]; i++) pk[16 + i] = fr[id][i];
                expect_packet(16 + (d[DEC_HOST] ? d_len[id] : 0), 2'd2, d[DEC_HOST] ? MW : 1 << 20);
            end else begin
                discard_ok = 1'b1;
            end
        end
        if (dec_ready) begin
            if (!dec_valid) err("dec_ready without dec_valid");
            if (e_out != e_in) err($sformatf("decision %0d popped with %0d words unsent", d_head, e_in - e_out));
            if (need_req && !req_done) err($sformatf("decision %0d popped without its host request", d_head));
            if (popped != d_words[id])
                err($sformatf("decision %0d popped after %0d of its %0d FIFO words", d_head, popped, d_words[id]));
            e_out = e_in;
            d_head++;
            started = 1'b0;
        end
    end
    // inputs: the decision FIFO and the RX FIFO are FWFT; a FIFO word may show up late
    if (!rst && d_in - d_head < 8 && chance(p_dec)) new_decision;
    dec_valid <= d_in != d_head;
    dec_data <= d_dec[d_head % DN];
    if (!(rxf_valid && !rxf_ready) || rst) rxf_valid <= rq_in != rq_out && chance(p_rxf);
    rxf_data <= rq[rq_out % RN];
    m_tready <= chance(p_ready);
    host_grant <= chance(p_grant);
    now <= {$random(seed), $random(seed)};
endtask

function automatic [DATA_W-1:0] keep_mask(input [WB-1:0] k);
    for (int i = 0; i < WB; i++) keep_mask[8*i +: 8] = k[i] ? 8'hff : 8'h00;
endfunction

initial begin
    for (int k = 0; k < 5; k++) n_kind[k] = 0;
    repeat (3) step;
    rst <= 1'b0;
    repeat (4000) step;
    // everything at full rate: back-to-back decisions
    p_dec = 100;
    p_rxf = 100;
    p_ready = 100;
    repeat (3000) step;
    p_ready = 30;
    p_rxf = 40;
    p_grant = 30;
    repeat (3000) step;
    p_dec = 0;
    p_rxf = 100;
    p_ready = 100;
    repeat (20000) if (d_head != d_in) step;
    repeat (10) step;
    if (d_head != d_in || rq_out != rq_in) err("decisions or FIFO words left over");
    $display("  %0d decisions: drop %0d, forward %0d, forward+FIN %0d, ARP %0d, host %0d", d_head,
             n_kind[0], n_kind[1], n_kind[2], n_kind[3], n_kind[4]);
    tb_finish;
end

endmodule
