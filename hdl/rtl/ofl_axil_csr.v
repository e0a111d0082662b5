`resetall
`timescale 1ns / 1ps
`default_nettype none

// AXI4-Lite register slave in front of the CSR bus (docs/dataplane.md, "The PCIe transport"): what a
// vendor PCIe bridge (XDMA/QDMA AXI-Lite master, Corundum's BAR) drives when the host maps BAR 0.
//
// One access at a time. AW and W are taken in the same cycle once both are valid (the AXI spec lets a
// slave wait for both), so AW before W and W before AW need no buffering; a read waiting beside a write
// alternates with it, so neither channel starves the other. Every ready and response output is a
// register, so a bridge's timing path ends here.
//
// Responses:
//   OKAY    the CSR block acked (unmapped CSR addresses are acked too: reads 0, writes ignored), or a
//           write with no strobe set in the addressed register (a no-op by the AXI rules).
//   DECERR  the address lies above the 64 KiB CSR window (a larger BAR): the CSR bus is not touched.
//   SLVERR  the CSR block did not ack within TIMEOUT cycles (its contract says 4), or a write whose
//           strobes cover only part of the addressed register, or reach into the other 32-bit lane of a
//           64-bit bus. Registers have side effects (FIFO ports, commit, counter clear), so a partial
//           write is refused rather than merged by a read-modify-write; the CSR bus is not touched.
// With DATA_W = 64 an access touches one register, the one addr[2] selects; read data is returned in
// both lanes. Bits 1..0 of the address are ignored: registers are 32-bit and word aligned.
module ofl_axil_csr #(
    parameter ADDR_W = 16,
    parameter DATA_W = 32,
    parameter STRB_W = DATA_W / 8,
    parameter TIMEOUT = 64
) (
    input  wire                clk,
    input  wire                rst,

    input  wire [ADDR_W-1:0]   s_axil_awaddr,
    input  wire [2:0]          s_axil_awprot,
    input  wire                s_axil_awvalid,
    output wire                s_axil_awready,
    input  wire [DATA_W-1:0]   s_axil_wdata,
    input  wire [STRB_W-1:0]   s_axil_wstrb,
    input  wire                s_axil_wvalid,
    output wire                s_axil_wready,
    output wire [1:0]          s_axil_bresp,
    output wire                s_axil_bvalid,
    input  wire                s_axil_bready,
    input  wire [ADDR_W-1:0]   s_axil_araddr,
    input  wire [2:0]          s_axil_arprot,
    input  wire                s_axil_arvalid,
    output wire                s_axil_arready,
    output wire [DATA_W-1:0]   s_axil_rdata,
    output wire [1:0]          s_axil_rresp,
    output wire                s_axil_rvalid,
    input  wire                s_axil_rready,

    output wire                csr_req,
    output wire                csr_we,
    output wire [15:0]         csr_addr,
    output wire [31:0]         csr_wdata,
    input  wire                csr_ack,
    input  wire [31:0]         csr_rdata
);

localparam [1:0] RESP_OKAY = 2'b00;
localparam [1:0] RESP_SLVERR = 2'b10;
localparam [1:0] RESP_DECERR = 2'b11;

localparam TW = $clog2(TIMEOUT + 1);
localparam [31:0] TIMEOUT_M1 = TIMEOUT - 1;
localparam [TW-1:0] TIMEOUT_LAST = TIMEOUT_M1[TW-1:0];

localparam [2:0] ST_IDLE = 3'd0;
localparam [2:0] ST_ACCEPT = 3'd1;  // a ready is high: the handshake happens in this cycle
localparam [2:0] ST_CSR = 3'd2;     // csr_req held until csr_ack or the timeout
localparam [2:0] ST_BRESP = 3'd3;
localparam [2:0] ST_RRESP = 3'd4;

`ifndef SYNTHESIS
initial begin
    if (DATA_W != 32 && DATA_W != 64) begin
        $error("ofl_axil_csr: DATA_W must be 32 or 64");
        $finish;
    end
    if (STRB_W * 8 != DATA_W) begin
        $error("ofl_axil_csr: STRB_W must be DATA_W / 8");
        $finish;
    end
    if (ADDR_W < 16 || ADDR_W > 64) begin
        $error("ofl_axil_csr: ADDR_W must be 16..64 (the CSR window is 64 KiB)");
        $finish;
    end
    if (TIMEOUT < 8) begin
        $error("ofl_axil_csr: TIMEOUT must be at least 8 cycles (the CSR block may take 4)");
        $finish;
    end
end
`endif

reg [2:0] state_reg = ST_IDLE, state_next;
reg awready_reg = 1'b0, awready_next;
reg wready_reg = 1'b0, wready_next;
reg arready_reg = 1'b0, arready_next;
reg bvalid_reg = 1'b0, bvalid_next;
reg rvalid_reg = 1'b0, rvalid_next;
reg req_reg = 1'b0, req_next;
// after a write, a waiting read goes first (and the reverse), so both channels make progress
reg rd_turn_reg = 1'b0, rd_turn_next;
reg [TW-1:0] timer_reg = {TW{1'b0}}, timer_next;

// datapath: no reset needed, every field is written before it is used
reg we_reg, we_next;
reg [ADDR_W-1:0] addr_reg, addr_next;
reg [DATA_W-1:0] wdata_reg, wdata_next;
reg [STRB_W-1:0] wstrb_reg, wstrb_next;
reg [1:0] resp_reg, resp_next;
reg [31:0] rdata_reg, rdata_next;

assign s_axil_awready = awready_reg;
assign s_axil_wready = wready_reg;
assign s_axil_bresp = resp_reg;
assign s_axil_bvalid = bvalid_reg;
assign s_axil_arready = arready_reg;
assign s_axil_rdata = {(DATA_W / 32){rdata_reg}};
assign s_axil_rresp = resp_reg;
assign s_axil_rvalid = rvalid_reg;

assign csr_req = req_reg;
assign csr_we = we_reg;
assign csr_addr = {addr_reg[15:2], 2'b00};

// the addressed 32-bit register within the bus word, and whether any strobe lies outside it
wire [31:0] lane_wdata;
wire [3:0] lane_strb;
wire other_strb;
wire out_of_window;
generate
    if (DATA_W == 64) begin : g_lanes
        assign lane_wdata = addr_reg[2] ? wdata_reg[63:32] : wdata_reg[31:0];
        assign lane_strb = addr_reg[2] ? wstrb_reg[7:4] : wstrb_reg[3:0];
        assign other_strb = addr_reg[2] ? |wstrb_reg[3:0] : |wstrb_reg[7:4];
    end else begin : g_lane
        assign lane_wdata = wdata_reg[31:0];
        assign lane_strb = wstrb_reg[3:0];
        assign other_strb = 1'b0;
    end
    if (ADDR_W > 16) begin : g_window
        assign out_of_window = |addr_reg[ADDR_W-1:16];
    end else begin : g_no_window
        assign out_of_window = 1'b0;
    end
endgenerate

assign csr_wdata = lane_wdata;

wire want_wr = s_axil_awvalid && s_axil_wvalid;
wire want_rd = s_axil_arvalid;

always @* begin
    state_next = state_reg;
    awready_next = 1'b0;
    wready_next = 1'b0;
    arready_next = 1'b0;
    bvalid_next = bvalid_reg;
    rvalid_next = rvalid_reg;
    req_next = req_reg;
    rd_turn_next = rd_turn_reg;
    timer_next = timer_reg;
    we_next = we_reg;
    addr_next = addr_reg;
    wdata_next = wdata_reg;
    wstrb_next = wstrb_reg;
    resp_next = resp_reg;
    rdata_next = rdata_reg;

    case (state_reg)
        ST_IDLE: begin
            // valid may not drop before its handshake, so a ready raised now meets it next cycle
            if (want_wr && (!want_rd || !rd_turn_reg)) begin
                awready_next = 1'b1;
                wready_next = 1'b1;
                state_next = ST_ACCEPT;
            end else if (want_rd) begin
                arready_next = 1'b1;
                state_next = ST_ACCEPT;
            end
        end
        ST_ACCEPT: begin
            timer_next = {TW{1'b0}};
            rdata_next = 32'd0;
            resp_next = RESP_OKAY;
            if (awready_reg) begin
                we_next = 1'b1;
                addr_next = s_axil_awaddr;
                wdata_next = s_axil_wdata;
                wstrb_next = s_axil_wstrb;
                rd_turn_next = 1'b1;
            end else begin
                we_next = 1'b0;
                addr_next = s_axil_araddr;
                rd_turn_next = 1'b0;
            end
            state_next = ST_CSR;
        end
        ST_CSR: begin
            if (!req_reg) begin
                // first cycle: decide whether the access reaches the CSR bus at all
                if (out_of_window) begin
                    resp_next = RESP_DECERR;
                    state_next = we_reg ? ST_BRESP : ST_RRESP;
                end else if (we_reg && (other_strb || (lane_strb != 4'hF && lane_strb != 4'h0))) begin
                    resp_next = RESP_SLVERR;
                    state_next = ST_BRESP;
                end else if (we_reg && lane_strb == 4'h0) begin
                    state_next = ST_BRESP;
                end else begin
                    req_next = 1'b1;
                end
            end else if (csr_ack) begin
                req_next = 1'b0;
                rdata_next = we_reg ? 32'd0 : csr_rdata;
                state_next = we_reg ? ST_BRESP : ST_RRESP;
            end else if (timer_reg == TIMEOUT_LAST) begin
                // the CSR contract acks within 4 cycles: silence this long means it is wedged
                req_next = 1'b0;
                resp_next = RESP_SLVERR;
                rdata_next = 32'hFFFF_FFFF;
                state_next = we_reg ? ST_BRESP : ST_RRESP;
            end else begin
                timer_next = timer_reg + 1'b1;
            end
            if (state_next == ST_BRESP) begin
                bvalid_next = 1'b1;
            end
            if (state_next == ST_RRESP) begin
                rvalid_next = 1'b1;
            end
        end
        ST_BRESP: begin
            if (s_axil_bready) begin
                bvalid_next = 1'b0;
                state_next = ST_IDLE;
            end
        end
        ST_RRESP: begin
            if (s_axil_rready) begin
                rvalid_next = 1'b0;
                state_next = ST_IDLE;
            end
        end
        default: state_next = ST_IDLE;
    endcase
end

always @(posedge clk) begin
    state_reg <= state_next;
    awready_reg <= awready_next;
    wready_reg <= wready_next;
    arready_reg <= arready_next;
    bvalid_reg <= bvalid_next;
    rvalid_reg <= rvalid_next;
    req_reg <= req_next;
    rd_turn_reg <= rd_turn_next;
    timer_reg <= timer_next;

    we_reg <= we_next;
    addr_reg <= addr_next;
    wdata_reg <= wdata_next;
    wstrb_reg <= wstrb_next;
    resp_reg <= resp_next;
    rdata_reg <= rdata_next;

    if (rst) begin
        state_reg <= ST_IDLE;
        awready_reg <= 1'b0;
        wready_reg <= 1'b0;
        arready_reg <= 1'b0;
        bvalid_reg <= 1'b0;
        rvalid_reg <= 1'b0;
        req_reg <= 1'b0;
        rd_turn_reg <= 1'b0;
        timer_reg <= {TW{1'b0}};
    end
end

// AXI protection bits name privilege and security; the CSR bus has one level of access
wire unused = ^{s_axil_awprot, s_axil_arprot};

endmodule

`resetall
