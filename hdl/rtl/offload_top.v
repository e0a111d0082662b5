`resetall
`timescale 1ns / 1ps
`default_nettype none

// Offload data plane (docs/dataplane.md is the contract).
//
//   s_axis_rx0 -> ofl_rx -> RX FIFO (whole frame) --------------.
//                      \-> descriptor -.                        v
//                                      ofl_engine -> decision FIFO -> ofl_dispatch -.
//                      /-> descriptor -'                        ^                    |
//   s_axis_rx1 -> ofl_rx -> RX FIFO ---------------------------'   (same for port 1) v
//                                                                           ofl_xbar --> tx0 / tx1
//   CSR bus -> ofl_csr -> engine tables, ofl_counters, ofl_host_tx -> xbar    `--> ofl_host_rx -> CSR
module offload_top #(
    parameter DATA_W = 64,
    parameter FT_BUCKETS = 1024,
    parameter FT_STASH = 4,
    parameter GROUPS = 16,
    parameter VMACS = 64,
    parameter NEXTHOPS = 256,
    parameter MAX_FRAME = 9600,
    parameter RX_FIFO_DEPTH = 2048,
    parameter HOST_RX_DEPTH = 4096,
    parameter HOST_TX_DEPTH = 2048,
    // cycles a lookup reads the flow table over (1, 2, 4): 4 packs a small table's ways into a quarter
    // of the block RAMs at one lookup per 4 cycles (ofl_engine)
    parameter FT_READ_CYCLES = 1
) (
    input  wire                clk,
    input  wire                rst,

    input  wire [DATA_W-1:0]   s_axis_rx0_tdata,
    input  wire [DATA_W/8-1:0] s_axis_rx0_tkeep,
    input  wire                s_axis_rx0_tvalid,
    output wire                s_axis_rx0_tready,
    input  wire                s_axis_rx0_tlast,

    input  wire [DATA_W-1:0]   s_axis_rx1_tdata,
    input  wire [DATA_W/8-1:0] s_axis_rx1_tkeep,
    input  wire                s_axis_rx1_tvalid,
    output wire                s_axis_rx1_tready,
    input  wire                s_axis_rx1_tlast,

    output wire [DATA_W-1:0]   m_axis_tx0_tdata,
    output wire [DATA_W/8-1:0] m_axis_tx0_tkeep,
    output wire                m_axis_tx0_tvalid,
    input  wire                m_axis_tx0_tready,
    output wire                m_axis_tx0_tlast,

    output wire [DATA_W-1:0]   m_axis_tx1_tdata,
    output wire [DATA_W/8-1:0] m_axis_tx1_tkeep,
    output wire                m_axis_tx1_tvalid,
    input  wire                m_axis_tx1_tready,
    output wire                m_axis_tx1_tlast,

    input  wire                csr_req,
    input  wire                csr_we,
    input  wire [15:0]         csr_addr,
    input  wire [31:0]         csr_wdata,
    output wire                csr_ack,
    output wire [31:0]         csr_rdata,

    // configuration flash (SPI mode 0), driven by the SPI-flash controller at FLASH_TX..FLASH_CLEAR
    output wire                flash_sck,
    output wire                flash_cs_n,
    output wire                flash_mosi,
    input  wire                flash_miso,

    output wire                idle
);

`include "offload_regs.vh"

localparam WB = DATA_W / 8;
localparam KW = DATA_W / 8;
// cycles from a descriptor's acceptance by the engine to its decision being written (ofl_engine: four
// stages of FT_READ_CYCLES cycles each)
localparam LOOKUP_LATENCY = 4 * FT_READ_CYCLES;
// decisions a port may have outstanding (its decision FIFO's depth)
localparam DEC_DEPTH = 16;
`include "ofl_dec.vh"
// an RX FIFO must hold one maximum frame, or that frame could never be received
localparam RXF_MIN = (MAX_FRAME + WB - 1) / WB + 1;
localparam RXF_DEPTH = RX_FIFO_DEPTH > RXF_MIN ? RX_FIFO_DEPTH : RXF_MIN;
// the host TX queue must hold one maximum frame with its 16-byte metadata as the host writes it (in
// 4-byte chunks), or that frame could never be sent; PARAM_HOST_TX_DEPTH reports the actual depth
localparam HTX_MIN = ((16 + MAX_FRAME + 3) / 4 * 4 + WB - 1) / WB;
localparam HTX_DEPTH = HOST_TX_DEPTH > HTX_MIN ? HOST_TX_DEPTH : HTX_MIN;

`ifndef SYNTHESIS
// parameter checks (simulation and lint; synthesis tools skip them)
initial begin
    if (DATA_W != 8 && DATA_W != 16 && DATA_W != 32 && DATA_W != 64) begin
        $error("offload_top: DATA_W must be 8, 16, 32 or 64");
        $finish;
    end
    // A host RX queue smaller than one maximum frame is legal: such frames are dropped and counted
    // (DROP_HOST_FULL), nothing waits forever. The host TX queue is enlarged to HTX_DEPTH instead.
end
`endif

// ---------------------------------------------------------------- CSR block
wire [47:0] port_mac0, port_mac1;
wire lk_en;
wire [47:0] lk_dmac;
wire [31:0] lk_tpa;
wire [VMACS-1:0] lk_vmac_m;
wire [GROUPS-1:0] lk_grp_m, grp_mode, grp_copy;
wire [5:0] gid_sel;
wire [9:0] gid;
wire [31:0] sync_port, now_ts;
wire [63:0] now;
wire rr_clr;
wire [5:0] rr_clr_grp;
wire tbl_req, tbl_done;
wire [3:0] tbl_op;
wire [31:0] tbl_idx, tbl_w32, tbl_ls_r, tbl_r32;
wire [164:0] tbl_ft_w, tbl_ft_r;
wire [96:0] tbl_nh_w, tbl_nh_r;
wire [5:0] cnt_rd_idx, cnt_clr_idx;
wire [63:0] cnt_rd_val;
wire cnt_rd_req, cnt_rd_ack, cnt_clr;
wire [15:0] hrx_len;
wire hrx_rd_req, hrx_rd_ack;
wire [31:0] hrx_rd_data;
wire htx_wr_req, htx_wr_ack, htx_commit_req, htx_commit_ack;
wire [31:0] htx_wr_data, htx_commit_len, htx_free;

// The SPI-flash controller answers its own 16-byte window of the CSR bus; the CSR block never sees those accesses.
localparam [15:0] FLASH_BASE = `OFL_REG_FLASH_TX;
wire flash_sel = csr_addr[15:4] == FLASH_BASE[15:4];
wire main_ack, flash_ack;
wire [31:0] main_rdata, flash_rdata;
assign csr_ack = main_ack || flash_ack;
assign csr_rdata = flash_sel ? flash_rdata : main_rdata;

ofl_spi_flash u_flash (
    .clk(clk), .rst(rst),
    .csr_req(csr_req && flash_sel), .csr_we(csr_we), .csr_addr(csr_addr[3:0]), .csr_wdata(csr_wdata),
    .csr_ack(flash_ack), .csr_rdata(flash_rdata),
    .flash_sck(flash_sck), .flash_cs_n(flash_cs_n), .flash_mosi(flash_mosi), .flash_miso(flash_miso)
);

ofl_csr #(
    .DATA_W(DATA_W), .FT_BUCKETS(FT_BUCKETS), .FT_STASH(FT_STASH), .GROUPS(GROUPS), .VMACS(VMACS),
    .NEXTHOPS(NEXTHOPS), .MAX_FRAME(MAX_FRAME), .HOST_RX_DEPTH(HOST_RX_DEPTH),
    .HOST_TX_DEPTH(HTX_DEPTH), .LOOKUP_LATENCY(LOOKUP_LATENCY)
) u_csr (
    .clk(clk), .rst(rst),
    .csr_req(csr_req && !flash_sel), .csr_we(csr_we), .csr_addr(csr_addr), .csr_wdata(csr_wdata),
    .csr_ack(main_ack), .csr_rdata(main_rdata),
    .port_mac0(port_mac0), .port_mac1(port_mac1),
    .lk_en(lk_en), .lk_dmac(lk_dmac), .lk_tpa(lk_tpa), .lk_vmac_m(lk_vmac_m), .lk_grp_m(lk_grp_m),
    .grp_mode(grp_mode), .grp_copy(grp_copy), .gid_sel(gid_sel), .gid_out(gid),
    .sync_port(sync_port), .now_ts(now_ts), .now(now), .rr_clr(rr_clr), .rr_clr_grp(rr_clr_grp),
    .tbl_req(tbl_req), .tbl_op(tbl_op), .tbl_idx(tbl_idx), .tbl_ft_w(tbl_ft_w), .tbl_nh_w(tbl_nh_w),
    .tbl_w32(tbl_w32), .tbl_done(tbl_done), .tbl_ft_r(tbl_ft_r), .tbl_ls_r(tbl_ls_r),
    .tbl_nh_r(tbl_nh_r), .tbl_r32(tbl_r32),
    .cnt_rd_req(cnt_rd_req), .cnt_rd_idx(cnt_rd_idx), .cnt_rd_ack(cnt_rd_ack), .cnt_rd_val(cnt_rd_val),
    .cnt_clr(cnt_clr), .cnt_clr_idx(cnt_clr_idx),
    .hrx_len(hrx_len), .hrx_rd_req(hrx_rd_req), .hrx_rd_ack(hrx_rd_ack), .hrx_rd_data(hrx_rd_data),
    .htx_wr_req(htx_wr_req), .htx_wr_data(htx_wr_data), .htx_wr_ack(htx_wr_ack),
    .htx_commit_req(htx_commit_req), .htx_commit_len(htx_commit_len), .htx_commit_ack(htx_commit_ack),
    .htx_free(htx_free)
);

// ---------------------------------------------------------------- ingress ports
wire [DATA_W-1:0] rx_data[0:1];
wire [KW-1:0] rx_keep[0:1];
wire [1:0] rx_valid = {s_axis_rx1_tvalid, s_axis_rx0_tvalid};
wire [1:0] rx_last = {s_axis_rx1_tlast, s_axis_rx0_tlast};
wire [1:0] rx_ready;
assign rx_data[0] = s_axis_rx0_tdata;
assign rx_data[1] = s_axis_rx1_tdata;
assign rx_keep[0] = s_axis_rx0_tkeep;
assign rx_keep[1] = s_axis_rx1_tkeep;
assign s_axis_rx0_tready = rx_ready[0];
assign s_axis_rx1_tready = rx_ready[1];

wire [511:0] desc_hdr[0:1];
wire [15:0] desc_len[0:1];
wire [19:0] desc_cs14[0:1], desc_cs18[0:1];
wire [1:0] desc_ovs, desc_valid, desc_ready;
wire [1:0] dec_pop;
wire [1:0] rx_cnt_frame;
wire [31:0] rx_cnt_bytes[0:1];
wire [1:0] rx_busy;

wire [DATA_W-1:0] rxf_data[0:1];
wire [1:0] rxf_valid, rxf_ready, rxf_empty;

wire [DEC_W-1:0] eng_dec;
wire [1:0] eng_dec_valid;
wire [DEC_W-1:0] dec_data[0:1];
wire [1:0] dec_valid, dec_empty, dec_s_ready;

genvar p;
generate
    for (p = 0; p < 2; p = p + 1) begin : port
        wire [DATA_W-1:0] wr_data;
        wire wr_en, commit, rollback;
        wire [31:0] free;

        ofl_rx #(.DATA_W(DATA_W), .MAX_FRAME(MAX_FRAME), .CREDITS(DEC_DEPTH)) u_rx (
            .clk(clk), .rst(rst),
            .s_axis_tdata(rx_data[p]), .s_axis_tkeep(rx_keep[p]), .s_axis_tvalid(rx_valid[p]),
            .s_axis_tready(rx_ready[p]), .s_axis_tlast(rx_last[p]),
            .fifo_wr_data(wr_data), .fifo_wr_en(wr_en), .fifo_commit(commit), .fifo_rollback(rollback),
            .fifo_free(free),
            .m_desc_hdr(desc_hdr[p]), .m_desc_len(desc_len[p]), .m_desc_cs14(desc_cs14[p]),
            .m_desc_cs18(desc_cs18[p]), .m_desc_ovs(desc_ovs[p]),
            .m_desc_valid(desc_valid[p]), .m_desc_ready(desc_ready[p]),
            .credit_return(dec_pop[p]),
            .cnt_frame(rx_cnt_frame[p]), .cnt_bytes(rx_cnt_bytes[p]),
            .busy(rx_busy[p])
        );

        ofl_frame_fifo #(.WIDTH(DATA_W), .DEPTH(RXF_DEPTH)) u_rx_fifo (
            .clk(clk), .rst(rst),
            .wr_data(wr_data), .wr_en(wr_en), .commit(commit), .rollback(rollback),
            .trim(1'b0), .trim_words(32'd0), .free(free),
            .m_data(rxf_data[p]), .m_valid(rxf_valid[p]), .m_ready(rxf_ready[p]),
            .empty(rxf_empty[p])
        );

        // never full: the port's credits stop it before
        ofl_fifo #(.WIDTH(DEC_W), .DEPTH(DEC_DEPTH)) u_dec_fifo (
            .clk(clk), .rst(rst),
            .s_data(eng_dec), .s_valid(eng_dec_valid[p]), .s_ready(dec_s_ready[p]),
            .m_data(dec_data[p]), .m_valid(dec_valid[p]), .m_ready(dec_pop[p]),
            .empty(dec_empty[p])
        );
    end
endgenerate

// ---------------------------------------------------------------- lookup engine
wire [15:0] eng_cnt_vec;
wire eng_cnt_port;
wire eng_busy;

ofl_engine #(
    .FT_BUCKETS(FT_BUCKETS), .FT_STASH(FT_STASH), .GROUPS(GROUPS), .VMACS(VMACS), .NEXTHOPS(NEXTHOPS),
    .FT_READ_CYCLES(FT_READ_CYCLES)
) u_engine (
    .clk(clk), .rst(rst),
    .s_desc0_hdr(desc_hdr[0]), .s_desc0_len(desc_len[0]), .s_desc0_cs({desc_cs18[0], desc_cs14[0]}),
    .s_desc0_ovs(desc_ovs[0]),
    .s_desc0_valid(desc_valid[0]), .s_desc0_ready(desc_ready[0]),
    .s_desc1_hdr(desc_hdr[1]), .s_desc1_len(desc_len[1]), .s_desc1_cs({desc_cs18[1], desc_cs14[1]}),
    .s_desc1_ovs(desc_ovs[1]),
    .s_desc1_valid(desc_valid[1]), .s_desc1_ready(desc_ready[1]),
    .m_dec_data(eng_dec), .m_dec_valid0(eng_dec_valid[0]), .m_dec_valid1(eng_dec_valid[1]),
    .port_mac0(port_mac0), .port_mac1(port_mac1),
    .lk_en(lk_en), .lk_dmac(lk_dmac), .lk_tpa(lk_tpa), .lk_vmac_m(lk_vmac_m), .lk_grp_m(lk_grp_m),
    .grp_mode(grp_mode), .grp_copy(grp_copy), .gid_sel(gid_sel), .gid_in(gid),
    .sync_port(sync_port), .now_ts(now_ts), .rr_clr(rr_clr), .rr_clr_grp(rr_clr_grp),
    .tbl_req(tbl_req), .tbl_op(tbl_op), .tbl_idx(tbl_idx), .tbl_ft_w(tbl_ft_w), .tbl_nh_w(tbl_nh_w),
    .tbl_w32(tbl_w32), .tbl_done(tbl_done), .tbl_ft_r(tbl_ft_r), .tbl_ls_r(tbl_ls_r),
    .tbl_nh_r(tbl_nh_r), .tbl_r32(tbl_r32),
    .cnt_vec(eng_cnt_vec), .cnt_port(eng_cnt_port),
    .busy(eng_busy)
);

// ---------------------------------------------------------------- dispatchers
wire [3*DATA_W-1:0] xs_data;
wire [3*KW-1:0] xs_keep;
wire [2:0] xs_valid, xs_ready, xs_last;
wire [5:0] xs_dest;
wire [1:0] host_req, host_grant;
wire [15:0] host_words[0:1];
wire [1:0] cnt_punt, cnt_host_full, disp_busy;

generate
    for (p = 0; p < 2; p = p + 1) begin : disp
        ofl_dispatch #(.DATA_W(DATA_W), .PORT(p)) u_dispatch (
            .clk(clk), .rst(rst),
            .dec_data(dec_data[p]), .dec_valid(dec_valid[p]), .dec_ready(dec_pop[p]),
            .rxf_data(rxf_data[p]), .rxf_valid(rxf_valid[p]), .rxf_ready(rxf_ready[p]),
            .m_axis_tdata(xs_data[p*DATA_W +: DATA_W]), .m_axis_tkeep(xs_keep[p*KW +: KW]),
            .m_axis_tvalid(xs_valid[p]), .m_axis_tready(xs_ready[p]), .m_axis_tlast(xs_last[p]),
            .m_axis_tdest(xs_dest[2*p +: 2]),
            .host_req(host_req[p]), .host_words(host_words[p]), .host_grant(host_grant[p]),
            .now(now),
            .cnt_punt(cnt_punt[p]), .cnt_host_full(cnt_host_full[p]),
            .busy(disp_busy[p])
        );
    end
endgenerate

// ---------------------------------------------------------------- host TX
wire htx_cnt_frame, htx_cnt_drop, htx_busy;

ofl_host_tx #(.DATA_W(DATA_W), .DEPTH(HTX_DEPTH), .MAX_FRAME(MAX_FRAME)) u_host_tx (
    .clk(clk), .rst(rst),
    .wr_req(htx_wr_req), .wr_data(htx_wr_data), .wr_ack(htx_wr_ack),
    .commit_req(htx_commit_req), .commit_len(htx_commit_len), .commit_ack(htx_commit_ack),
    .free_bytes(htx_free),
    .m_axis_tdata(xs_data[2*DATA_W +: DATA_W]), .m_axis_tkeep(xs_keep[2*KW +: KW]),
    .m_axis_tvalid(xs_valid[2]), .m_axis_tready(xs_ready[2]), .m_axis_tlast(xs_last[2]),
    .m_axis_tdest(xs_dest[5:4]),
    .cnt_frame(htx_cnt_frame), .cnt_drop(htx_cnt_drop),
    .busy(htx_busy)
);

// ---------------------------------------------------------------- crossbar, egress, host RX
wire [3*DATA_W-1:0] xm_data;
wire [3*KW-1:0] xm_keep;
wire [2:0] xm_valid, xm_last;
wire [2:0] xm_ready;
wire xbar_busy;

ofl_xbar #(.DATA_W(DATA_W)) u_xbar (
    .clk(clk), .rst(rst),
    .s_axis_tdata(xs_data), .s_axis_tkeep(xs_keep), .s_axis_tvalid(xs_valid), .s_axis_tready(xs_ready),
    .s_axis_tlast(xs_last), .s_axis_tdest(xs_dest),
    .m_axis_tdata(xm_data), .m_axis_tkeep(xm_keep), .m_axis_tvalid(xm_valid), .m_axis_tready(xm_ready),
    .m_axis_tlast(xm_last),
    .busy(xbar_busy)
);

wire [DATA_W-1:0] tx_data[0:1];
wire [KW-1:0] tx_keep[0:1];
wire [1:0] tx_valid, tx_last, tx_busy;
wire [1:0] tx_ready = {m_axis_tx1_tready, m_axis_tx0_tready};

generate
    for (p = 0; p < 2; p = p + 1) begin : egress
        ofl_axis_skid #(.DATA_W(DATA_W)) u_skid (
            .clk(clk), .rst(rst),
            .s_axis_tdata(xm_data[p*DATA_W +: DATA_W]), .s_axis_tkeep(xm_keep[p*KW +: KW]),
            .s_axis_tvalid(xm_valid[p]), .s_axis_tready(xm_ready[p]), .s_axis_tlast(xm_last[p]),
            .m_axis_tdata(tx_data[p]), .m_axis_tkeep(tx_keep[p]), .m_axis_tvalid(tx_valid[p]),
            .m_axis_tready(tx_ready[p]), .m_axis_tlast(tx_last[p]),
            .busy(tx_busy[p])
        );
    end
endgenerate

assign m_axis_tx0_tdata = tx_data[0];
assign m_axis_tx0_tkeep = tx_keep[0];
assign m_axis_tx0_tvalid = tx_valid[0];
assign m_axis_tx0_tlast = tx_last[0];
assign m_axis_tx1_tdata = tx_data[1];
assign m_axis_tx1_tkeep = tx_keep[1];
assign m_axis_tx1_tvalid = tx_valid[1];
assign m_axis_tx1_tlast = tx_last[1];

// the host RX queue never pushes back: dispatchers reserved the room
assign xm_ready[2] = 1'b1;
wire hrx_busy;

ofl_host_rx #(.DATA_W(DATA_W), .DEPTH(HOST_RX_DEPTH)) u_host_rx (
    .clk(clk), .rst(rst),
    .s_axis_tdata(xm_data[2*DATA_W +: DATA_W]), .s_axis_tkeep(xm_keep[2*KW +: KW]),
    .s_axis_tvalid(xm_valid[2]), .s_axis_tlast(xm_last[2]),
    .req0(host_req[0]), .words0(host_words[0]), .grant0(host_grant[0]),
    .req1(host_req[1]), .words1(host_words[1]), .grant1(host_grant[1]),
    .rx_len(hrx_len), .rd_req(hrx_rd_req), .rd_ack(hrx_rd_ack), .rd_data(hrx_rd_data),
    .busy(hrx_busy)
);

// ---------------------------------------------------------------- counters
// TX_FRAMES / TX_BYTES count when a frame's last word leaves the port
reg [31:0] tx_bytes_reg[0:1];
reg [3:0] tx_nkeep[0:1];
wire [1:0] tx_end;
wire [31:0] tx_bytes_now[0:1];
integer b, q;
always @* begin
    for (q = 0; q < 2; q = q + 1) begin
        tx_nkeep[q] = 4'd0;
        for (b = 0; b < KW; b = b + 1) begin
            tx_nkeep[q] = tx_nkeep[q] + {3'd0, tx_keep[q][b]};
        end
    end
end
generate
    for (p = 0; p < 2; p = p + 1) begin : txcnt
        assign tx_end[p] = tx_valid[p] && tx_ready[p] && tx_last[p];
        assign tx_bytes_now[p] = tx_bytes_reg[p] + {28'd0, tx_nkeep[p]};
        always @(posedge clk) begin
            if (tx_valid[p] && tx_ready[p]) begin
                tx_bytes_reg[p] <= tx_last[p] ? 32'd0 : tx_bytes_now[p];
            end
            if (rst) begin
                tx_bytes_reg[p] <= 32'd0;
            end
        end
    end
endgenerate

reg [15:0] inc[0:1];
always @* begin
    for (q = 0; q < 2; q = q + 1) begin
        inc[q] = (eng_cnt_port == q[0]) ? eng_cnt_vec : 16'd0;
        inc[q][`OFL_CNT_RX_FRAMES] = rx_cnt_frame[q];
        inc[q][`OFL_CNT_TX_FRAMES] = tx_end[q];
        inc[q][`OFL_CNT_DROP_HOST_FULL] = cnt_host_full[q];
        inc[q][`OFL_CNT_PUNT] = cnt_punt[q];
    end
end

ofl_counters u_counters (
    .clk(clk), .rst(rst),
    .inc0(inc[0]), .rx_bytes0(rx_cnt_bytes[0]), .tx_bytes0(tx_bytes_now[0]),
    .inc1(inc[1]), .rx_bytes1(rx_cnt_bytes[1]), .tx_bytes1(tx_bytes_now[1]),
    .inc_global({htx_cnt_drop, htx_cnt_frame}),
    .rd_req(cnt_rd_req), .rd_idx(cnt_rd_idx), .rd_ack(cnt_rd_ack), .rd_val(cnt_rd_val),
    .clr(cnt_clr), .clr_idx(cnt_clr_idx)
);

assign idle = !(|rx_busy) && (&rxf_empty) && !eng_busy && (&dec_empty) && !(|disp_busy) &&
              !xbar_busy && !(|tx_busy) && !htx_busy && !hrx_busy;

wire unused = ^{dec_s_ready};

endmodule

`resetall
