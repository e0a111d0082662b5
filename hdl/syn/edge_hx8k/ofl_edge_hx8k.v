`resetall
`timescale 1ns / 1ps
`default_nettype none

// The MAC edge on an iCE40 HX8K (ct256, the HX8K breakout board) with an RMII PHY module such as a
// LAN8720 board (it sends the 50 MHz reference clock and has no RX_ER pin). The core does not fit an
// HX8K yet, so in its place the core clock domain sends every good frame straight back out (an echo),
// which keeps both FIFOs, both MAC halves and the clock crossings in the build. The LEDs show the low
// bits of the receive drop counters.
// Clocks: rmii_ref_clk 50 MHz from the PHY; the core clock is 60 MHz from the PLL on the 12 MHz
// oscillator. Each domain holds its reset a few cycles after configuration (the core's until the PLL
// locks); both start asserted, so they overlap as the FIFOs need.
module ofl_edge_hx8k (
    input  wire       clk_12m,
    input  wire       rmii_ref_clk,
    input  wire [1:0] rmii_rxd,
    input  wire       rmii_crs_dv,
    output wire [1:0] rmii_txd,
    output wire       rmii_tx_en,
    output wire [7:0] led
);

wire core_clk;
wire pll_lock;

// 12 MHz * (DIVF + 1) / 2^DIVQ = 60 MHz (icepll -i 12 -o 60)
SB_PLL40_CORE #(
    .FEEDBACK_PATH("SIMPLE"),
    .DIVR(4'b0000),
    .DIVF(7'b1001111),
    .DIVQ(3'b100),
    .FILTER_RANGE(3'b001)
) u_pll (
    .REFERENCECLK(clk_12m),
    .PLLOUTGLOBAL(core_clk),
    .LOCK(pll_lock),
    .RESETB(1'b1),
    .BYPASS(1'b0)
);

reg [3:0] rmii_por_reg = 4'd0;
reg [3:0] core_por_reg = 4'd0;
wire rmii_rst = !rmii_por_reg[3];
wire core_rst = !core_por_reg[3];

always @(posedge rmii_ref_clk) begin
    if (rmii_rst) begin
        rmii_por_reg <= rmii_por_reg + 4'd1;
    end
end

always @(posedge core_clk) begin
    if (!pll_lock) begin
        core_por_reg <= 4'd0;
    end else if (core_rst) begin
        core_por_reg <= core_por_reg + 4'd1;
    end
end

wire [7:0] rx_tdata;
wire rx_tkeep, rx_tvalid, rx_tready, rx_tlast;
wire [3:0] rx_drop_full, rx_drop_bad, tx_drop_big, tx_underrun;

ofl_mac_edge #(.DATA_W(8), .RX_DEPTH(2048), .TX_DEPTH(2048), .CNT_W(4)) u_edge (
    .rmii_clk(rmii_ref_clk), .rmii_rst(rmii_rst),
    .rmii_rxd(rmii_rxd), .rmii_crs_dv(rmii_crs_dv), .rmii_rx_er(1'b0),
    .rmii_txd(rmii_txd), .rmii_tx_en(rmii_tx_en),
    .core_clk(core_clk), .core_rst(core_rst),
    .m_axis_rx_tdata(rx_tdata), .m_axis_rx_tkeep(rx_tkeep), .m_axis_rx_tvalid(rx_tvalid),
    .m_axis_rx_tready(rx_tready), .m_axis_rx_tlast(rx_tlast),
    .s_axis_tx_tdata(rx_tdata), .s_axis_tx_tkeep(rx_tkeep), .s_axis_tx_tvalid(rx_tvalid),
    .s_axis_tx_tready(rx_tready), .s_axis_tx_tlast(rx_tlast),
    .rx_drop_full(rx_drop_full), .rx_drop_bad(rx_drop_bad), .tx_drop_big(tx_drop_big),
    .tx_underrun(tx_underrun)
);

assign led = {rx_drop_full ^ tx_drop_big, rx_drop_bad ^ tx_underrun};

endmodule

`resetall
