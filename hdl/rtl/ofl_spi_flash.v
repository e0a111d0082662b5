`resetall
`timescale 1ns / 1ps
`default_nettype none

// SPI-flash controller behind the CSR bus (docs/dataplane.md, "The SPI-flash controller"): a byte engine that
// shifts queued bytes out to the configuration flash (SPI mode 0) and keeps the bytes that come back. The flash's
// commands (read, page program, erase, status, JEDEC ID, protection) are composed by the control plane, so one
// batch of register writes can carry a whole command: write enable, page program with its 256 bytes, and so on.
//
// Registers (a 16-byte window; offsets from FLASH_TX):
//   FLASH_TX     wo  [7:0] byte, [8] LAST: raise chip select after it, [9] CAPTURE: keep the byte read meanwhile.
//                    Chip select falls by itself before the first byte after it was high. A write into a full
//                    queue is dropped and sets LOST.
//   FLASH_RX     ro  pops one kept byte: [7:0] byte, [8] VALID (0: nothing was there)
//   FLASH_STATUS ro  [0] BUSY (bytes queued, shifting, or chip select still low), [1] LOST (sticky), [31:16] bytes
//                    kept and not yet read
//   FLASH_CLEAR  wo  empties the kept bytes and clears LOST
// SCK is clk / (2 * DIV). Between two selections chip select stays high for at least one SCK period.
module ofl_spi_flash #(
    parameter DIV = 2,
    parameter DEPTH = 512
) (
    input  wire        clk,
    input  wire        rst,

    input  wire        csr_req,
    input  wire        csr_we,
    input  wire [3:0]  csr_addr,
    input  wire [31:0] csr_wdata,
    output wire        csr_ack,
    output wire [31:0] csr_rdata,

    output wire        flash_sck,
    output wire        flash_cs_n,
    output wire        flash_mosi,
    input  wire        flash_miso
);

localparam DW = $clog2(DIV);
localparam LW = $clog2(DEPTH + 2);
localparam [31:0] DIV_M1_32 = DIV - 1;
localparam [DW-1:0] DIV_LAST = DIV_M1_32[DW-1:0];

`ifndef SYNTHESIS
initial begin
    if (DIV < 2) begin
        $error("ofl_spi_flash: DIV must be at least 2");
        $finish;
    end
    if (DEPTH < 260) begin
        $error("ofl_spi_flash: DEPTH must hold a page program (4 + 256 bytes)");
        $finish;
    end
end
`endif

// ---------------------------------------------------------------- CSR side
reg ack_reg = 1'b0;
reg [31:0] rdata_reg = 32'd0;
reg lost_reg = 1'b0;

wire [9:0] tx_data;
wire tx_valid;
reg tx_pop;
wire tx_ready;
wire tx_empty;
reg rx_push;
reg [7:0] rx_byte;
wire rx_ready;
wire [7:0] rx_data;
wire rx_valid;
wire rx_empty;
reg [LW-1:0] rx_level_reg = {LW{1'b0}};
reg clearing_reg = 1'b0;                // FLASH_CLEAR: popping kept bytes until none is left

wire access = csr_req && !ack_reg;
wire wr_tx = access && csr_we && csr_addr[3:2] == 2'd0;
wire rd_rx = access && !csr_we && csr_addr[3:2] == 2'd1;
wire wr_clear = access && csr_we && csr_addr[3:2] == 2'd3;
wire rx_pop = rd_rx && rx_valid;
wire rx_flush_pop = clearing_reg && rx_valid;

assign csr_ack = ack_reg;
assign csr_rdata = rdata_reg;

ofl_fifo #(.WIDTH(10), .DEPTH(DEPTH)) u_tx (
    .clk(clk), .rst(rst),
    .s_data(csr_wdata[9:0]), .s_valid(wr_tx), .s_ready(tx_ready),
    .m_data(tx_data), .m_valid(tx_valid), .m_ready(tx_pop),
    .empty(tx_empty)
);

ofl_fifo #(.WIDTH(8), .DEPTH(DEPTH)) u_rx (
    .clk(clk), .rst(rst),
    .s_data(rx_byte), .s_valid(rx_push), .s_ready(rx_ready),
    .m_data(rx_data), .m_valid(rx_valid), .m_ready(rx_pop || rx_flush_pop),
    .empty(rx_empty)
);

// ---------------------------------------------------------------- byte engine
localparam [1:0] EN_IDLE = 2'd0;
localparam [1:0] EN_SHIFT = 2'd1;
localparam [1:0] EN_HOLD = 2'd2;    // chip select high for one SCK period before it may fall again

reg [1:0] en_reg = EN_IDLE;
reg cs_reg = 1'b0;                  // 1: chip select asserted (pin low)
reg sck_reg = 1'b0;
reg [DW-1:0] div_reg = {DW{1'b0}};
reg [2:0] bit_reg = 3'd0;
reg [7:0] out_reg = 8'd0;
reg [7:0] in_reg = 8'd0;
reg last_reg = 1'b0;
reg capture_reg = 1'b0;
reg [1:0] hold_reg = 2'd0;

assign flash_sck = sck_reg;
assign flash_cs_n = !cs_reg;
assign flash_mosi = out_reg[7];

wire busy = !tx_empty || en_reg != EN_IDLE || cs_reg;

always @* begin
    tx_pop = 1'b0;
    if (en_reg == EN_IDLE && tx_valid)
        tx_pop = 1'b1;
end

always @(posedge clk) begin
    rx_push <= 1'b0;
    case (en_reg)
        EN_IDLE: begin
            if (tx_valid) begin
                // the byte's first bit is on MOSI with chip select low, half a period before the first rising edge
                out_reg <= tx_data[7:0];
                last_reg <= tx_data[8];
                capture_reg <= tx_data[9];
                cs_reg <= 1'b1;
                bit_reg <= 3'd0;
                div_reg <= {DW{1'b0}};
                en_reg <= EN_SHIFT;
            end
        end
        EN_SHIFT: begin
            div_reg <= div_reg + 1'b1;
            if (div_reg == DIV_LAST) begin
                div_reg <= {DW{1'b0}};
                sck_reg <= !sck_reg;
                if (!sck_reg) begin
                    // rising edge: the flash's bit is sampled
                    in_reg <= {in_reg[6:0], flash_miso};
                end else begin
                    // falling edge: the next bit goes out, or the byte is done
                    out_reg <= {out_reg[6:0], 1'b0};
                    bit_reg <= bit_reg + 1'b1;
                    if (bit_reg == 3'd7) begin
                        rx_byte <= in_reg;
                        rx_push <= capture_reg;
                        if (last_reg) begin
                            cs_reg <= 1'b0;
                            hold_reg <= 2'd0;
                            en_reg <= EN_HOLD;
                        end else begin
                            en_reg <= EN_IDLE;
                        end
                    end
                end
            end
        end
        EN_HOLD: begin
            div_reg <= div_reg + 1'b1;
            if (div_reg == DIV_LAST) begin
                div_reg <= {DW{1'b0}};
                hold_reg <= hold_reg + 1'b1;
                if (hold_reg == 2'd1)
                    en_reg <= EN_IDLE;
            end
        end
        default: en_reg <= EN_IDLE;
    endcase
    if (rst) begin
        en_reg <= EN_IDLE;
        cs_reg <= 1'b0;
        sck_reg <= 1'b0;
        rx_push <= 1'b0;
    end
end

// kept-byte count: pushes in from the engine, pops out by reads and by a clear
always @(posedge clk) begin
    case ({rx_push && rx_ready, rx_pop || rx_flush_pop})
        2'b10: rx_level_reg <= rx_level_reg + 1'b1;
        2'b01: rx_level_reg <= rx_level_reg - 1'b1;
        default: rx_level_reg <= rx_level_reg;
    endcase
    if (rst)
        rx_level_reg <= {LW{1'b0}};
end

always @(posedge clk) begin
    ack_reg <= access;
    if (access) begin
        case (csr_addr[3:2])
            2'd1: rdata_reg <= {23'd0, rx_valid, rx_valid ? rx_data : 8'd0};
            2'd2: rdata_reg <= {{(16 - LW){1'b0}}, rx_level_reg, 14'd0, lost_reg, busy};
            default: rdata_reg <= 32'd0;
        endcase
    end
    // a byte queued into a full queue, or kept into a full one, is lost
    if ((wr_tx && !tx_ready) || (rx_push && !rx_ready))
        lost_reg <= 1'b1;
    if (wr_clear) begin
        lost_reg <= 1'b0;
        clearing_reg <= 1'b1;
    end else if (clearing_reg && !rx_valid) begin
        clearing_reg <= 1'b0;
    end
    if (rst) begin
        ack_reg <= 1'b0;
        lost_reg <= 1'b0;
        clearing_reg <= 1'b0;
    end
end

wire unused = ^{csr_wdata[31:10], csr_addr[1:0], rx_empty};

endmodule

`resetall
