`resetall
`timescale 1ns / 1ps
`default_nettype none

// MAC-facing edge of one port: an RMII MAC on the PHY's 50 MHz reference clock, and byte streams on
// the core clock, with an asynchronous frame FIFO each way.
//   receive:  ofl_rmii_rx -> ofl_async_frame_fifo (drops whole frames, never stalls the MAC)
//             -> ofl_axis_upsize -> m_axis_rx
//   transmit: s_axis_tx -> ofl_axis_downsize -> ofl_async_frame_fifo (store and forward, stalls the core)
//             -> ofl_rmii_tx
// Frames on both core streams are DATA_W wide, without FCS, with offload_top's lane order and tkeep
// rules. The FIFOs stay a byte wide: at 100 Mb/s a byte per core clock is far more than the wire needs.
// The counters are on the core clock, wrap at 2^CNT_W, and clear with core_rst:
//   rx_drop_full  frames the receive FIFO had no room for
//   rx_drop_bad   frames received bad: FCS wrong, RX_ER, runt (under 64 bytes), fragment
//   tx_drop_big   frames larger than the transmit FIFO (TX_DEPTH bytes), which can never be sent
//   tx_underrun   frames the transmitter ran dry in (none while core_clk is at least 12.5 MHz)
// Reset: core_rst and rmii_rst must overlap.
module ofl_mac_edge #(
    parameter DATA_W = 8,               // core stream width: 8, 16, 32 or 64
    parameter RX_DEPTH = 2048,          // bytes, a power of two
    parameter TX_DEPTH = 2048,          // bytes, a power of two, at least the largest frame sent
    parameter CNT_W = 32
) (
    input  wire             rmii_clk,
    input  wire             rmii_rst,
    input  wire [1:0]       rmii_rxd,
    input  wire             rmii_crs_dv,
    input  wire             rmii_rx_er,
    output wire [1:0]       rmii_txd,
    output wire             rmii_tx_en,

    input  wire             core_clk,
    input  wire             core_rst,

    output wire [DATA_W-1:0]   m_axis_rx_tdata,
    output wire [DATA_W/8-1:0] m_axis_rx_tkeep,
    output wire             m_axis_rx_tvalid,
    input  wire             m_axis_rx_tready,
    output wire             m_axis_rx_tlast,

    input  wire [DATA_W-1:0]   s_axis_tx_tdata,
    input  wire [DATA_W/8-1:0] s_axis_tx_tkeep,
    input  wire             s_axis_tx_tvalid,
    output wire             s_axis_tx_tready,
    input  wire             s_axis_tx_tlast,

    output wire [CNT_W-1:0] rx_drop_full,
    output wire [CNT_W-1:0] rx_drop_bad,
    output wire [CNT_W-1:0] tx_drop_big,
    output wire [CNT_W-1:0] tx_underrun
);

wire [7:0] mac_rx_tdata;
wire mac_rx_tvalid, mac_rx_tlast, mac_rx_tuser, mac_rx_frag;
wire rx_fifo_ready;
wire rx_pulse_full, rx_pulse_bad;
wire [7:0] rx_byte_tdata;
wire rx_byte_tvalid, rx_byte_tready, rx_byte_tlast;

ofl_rmii_rx u_rx (
    .clk(rmii_clk), .rst(rmii_rst),
    .rmii_rxd(rmii_rxd), .rmii_crs_dv(rmii_crs_dv), .rmii_rx_er(rmii_rx_er),
    .m_axis_tdata(mac_rx_tdata), .m_axis_tvalid(mac_rx_tvalid), .m_axis_tlast(mac_rx_tlast),
    .m_axis_tuser(mac_rx_tuser),
    .frag(mac_rx_frag)
);

ofl_async_frame_fifo #(.DATA_W(8), .DEPTH(RX_DEPTH), .DROP_WHEN_FULL(1)) u_rx_fifo (
    .s_clk(rmii_clk), .s_rst(rmii_rst),
    .s_axis_tdata(mac_rx_tdata), .s_axis_tvalid(mac_rx_tvalid), .s_axis_tready(rx_fifo_ready),
    .s_axis_tlast(mac_rx_tlast), .s_axis_tuser(mac_rx_tuser),
    .drop_full(rx_pulse_full), .drop_bad(rx_pulse_bad),
    .m_clk(core_clk), .m_rst(core_rst),
    .m_axis_tdata(rx_byte_tdata), .m_axis_tvalid(rx_byte_tvalid), .m_axis_tready(rx_byte_tready),
    .m_axis_tlast(rx_byte_tlast)
);

ofl_axis_upsize #(.DATA_W(DATA_W)) u_rx_up (
    .clk(core_clk), .rst(core_rst),
    .s_axis_tdata(rx_byte_tdata), .s_axis_tvalid(rx_byte_tvalid), .s_axis_tready(rx_byte_tready),
    .s_axis_tlast(rx_byte_tlast),
    .m_axis_tdata(m_axis_rx_tdata), .m_axis_tkeep(m_axis_rx_tkeep), .m_axis_tvalid(m_axis_rx_tvalid),
    .m_axis_tready(m_axis_rx_tready), .m_axis_tlast(m_axis_rx_tlast)
);

ofl_cdc_count #(.WIDTH(CNT_W)) u_cnt_rx_full (
    .s_clk(rmii_clk), .s_rst(rmii_rst), .s_pulse(rx_pulse_full),
    .m_clk(core_clk), .m_rst(core_rst), .m_count(rx_drop_full)
);

// a fragment ends a frame the FIFO never saw, so the two never pulse together
ofl_cdc_count #(.WIDTH(CNT_W)) u_cnt_rx_bad (
    .s_clk(rmii_clk), .s_rst(rmii_rst), .s_pulse(rx_pulse_bad || mac_rx_frag),
    .m_clk(core_clk), .m_rst(core_rst), .m_count(rx_drop_bad)
);

wire [7:0] mac_tx_tdata;
wire mac_tx_tvalid, mac_tx_tready, mac_tx_tlast;
wire tx_pulse_big, tx_pulse_bad_unused, tx_pulse_underrun;
reg [CNT_W-1:0] tx_drop_big_reg = 0;
wire [7:0] tx_byte_tdata;
wire tx_byte_tvalid, tx_byte_tready, tx_byte_tlast;

ofl_axis_downsize #(.DATA_W(DATA_W)) u_tx_down (
    .clk(core_clk), .rst(core_rst),
    .s_axis_tdata(s_axis_tx_tdata), .s_axis_tkeep(s_axis_tx_tkeep), .s_axis_tvalid(s_axis_tx_tvalid),
    .s_axis_tready(s_axis_tx_tready), .s_axis_tlast(s_axis_tx_tlast),
    .m_axis_tdata(tx_byte_tdata), .m_axis_tvalid(tx_byte_tvalid), .m_axis_tready(tx_byte_tready),
    .m_axis_tlast(tx_byte_tlast)
);

ofl_async_frame_fifo #(.DATA_W(8), .DEPTH(TX_DEPTH), .DROP_WHEN_FULL(0)) u_tx_fifo (
    .s_clk(core_clk), .s_rst(core_rst),
    .s_axis_tdata(tx_byte_tdata), .s_axis_tvalid(tx_byte_tvalid), .s_axis_tready(tx_byte_tready),
    .s_axis_tlast(tx_byte_tlast), .s_axis_tuser(1'b0),
    .drop_full(tx_pulse_big), .drop_bad(tx_pulse_bad_unused),
    .m_clk(rmii_clk), .m_rst(rmii_rst),
    .m_axis_tdata(mac_tx_tdata), .m_axis_tvalid(mac_tx_tvalid), .m_axis_tready(mac_tx_tready),
    .m_axis_tlast(mac_tx_tlast)
);

ofl_rmii_tx u_tx (
    .clk(rmii_clk), .rst(rmii_rst),
    .s_axis_tdata(mac_tx_tdata), .s_axis_tvalid(mac_tx_tvalid), .s_axis_tready(mac_tx_tready),
    .s_axis_tlast(mac_tx_tlast),
    .rmii_txd(rmii_txd), .rmii_tx_en(rmii_tx_en),
    .underrun(tx_pulse_underrun)
);

ofl_cdc_count #(.WIDTH(CNT_W)) u_cnt_tx_underrun (
    .s_clk(rmii_clk), .s_rst(rmii_rst), .s_pulse(tx_pulse_underrun),
    .m_clk(core_clk), .m_rst(core_rst), .m_count(tx_underrun)
);

always @(posedge core_clk) begin
    if (tx_pulse_big) begin
        tx_drop_big_reg <= tx_drop_big_reg + 1'b1;
    end
    if (core_rst) begin
        tx_drop_big_reg <= 0;
    end
end

assign tx_drop_big = tx_drop_big_reg;

// the receive FIFO is always ready; tuser is never set on the transmit side, so its FIFO never drops a
// frame as bad
wire unused = ^{rx_fifo_ready, tx_pulse_bad_unused};

endmodule

`resetall
