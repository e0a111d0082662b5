`resetall
`timescale 1ns / 1ps
`default_nettype none

// Synthesis wrapper: offload_top with a small parameter set, so the synthesis checks run in
// seconds while every table still infers as a memory. (A parameter-less top also sidesteps a
// Yosys 0.23 assertion when a parameterised top is re-derived with -chparam.)
module offload_syn_small (
    input  wire        clk,
    input  wire        rst,
    input  wire [31:0] s_axis_rx0_tdata,
    input  wire [3:0]  s_axis_rx0_tkeep,
    input  wire        s_axis_rx0_tvalid,
    output wire        s_axis_rx0_tready,
    input  wire        s_axis_rx0_tlast,
    input  wire [31:0] s_axis_rx1_tdata,
    input  wire [3:0]  s_axis_rx1_tkeep,
    input  wire        s_axis_rx1_tvalid,
    output wire        s_axis_rx1_tready,
    input  wire        s_axis_rx1_tlast,
    output wire [31:0] m_axis_tx0_tdata,
    output wire [3:0]  m_axis_tx0_tkeep,
    output wire        m_axis_tx0_tvalid,
    input  wire        m_axis_tx0_tready,
    output wire        m_axis_tx0_tlast,
    output wire [31:0] m_axis_tx1_tdata,
    output wire [3:0]  m_axis_tx1_tkeep,
    output wire        m_axis_tx1_tvalid,
    input  wire        m_axis_tx1_tready,
    output wire        m_axis_tx1_tlast,
    input  wire        csr_req,
    input  wire        csr_we,
    input  wire [15:0] csr_addr,
    input  wire [31:0] csr_wdata,
    output wire        csr_ack,
    output wire [31:0] csr_rdata,
    output wire        flash_sck,
    output wire        flash_cs_n,
    output wire        flash_mosi,
    input  wire        flash_miso,
    output wire        idle
);

offload_top #(
    .DATA_W(32), .FT_BUCKETS(16), .FT_STASH(2), .GROUPS(2), .VMACS(4), .NEXTHOPS(16),
    .MAX_FRAME(1518), .RX_FIFO_DEPTH(512), .HOST_RX_DEPTH(512), .HOST_TX_DEPTH(512), .FT_READ_CYCLES(4)
) u_top (
    .clk(clk), .rst(rst),
    .s_axis_rx0_tdata(s_axis_rx0_tdata), .s_axis_rx0_tkeep(s_axis_rx0_tkeep),
    .s_axis_rx0_tvalid(s_axis_rx0_tvalid), .s_axis_rx0_tready(s_axis_rx0_tready),
    .s_axis_rx0_tlast(s_axis_rx0_tlast),
    .s_axis_rx1_tdata(s_axis_rx1_tdata), .s_axis_rx1_tkeep(s_axis_rx1_tkeep),
    .s_axis_rx1_tvalid(s_axis_rx1_tvalid), .s_axis_rx1_tready(s_axis_rx1_tready),
    .s_axis_rx1_tlast(s_axis_rx1_tlast),
    .m_axis_tx0_tdata(m_axis_tx0_tdata), .m_axis_tx0_tkeep(m_axis_tx0_tkeep),
    .m_axis_tx0_tvalid(m_axis_tx0_tvalid), .m_axis_tx0_tready(m_axis_tx0_tready),
    .m_axis_tx0_tlast(m_axis_tx0_tlast),
    .m_axis_tx1_tdata(m_axis_tx1_tdata), .m_axis_tx1_tkeep(m_axis_tx1_tkeep),
    .m_axis_tx1_tvalid(m_axis_tx1_tvalid), .m_axis_tx1_tready(m_axis_tx1_tready),
    .m_axis_tx1_tlast(m_axis_tx1_tlast),
    .csr_req(csr_req), .csr_we(csr_we), .csr_addr(csr_addr), .csr_wdata(csr_wdata),
    .csr_ack(csr_ack), .csr_rdata(csr_rdata),
    .flash_sck(flash_sck), .flash_cs_n(flash_cs_n), .flash_mosi(flash_mosi), .flash_miso(flash_miso),
    .idle(idle)
);

endmodule

`resetall
