`resetall
`timescale 1ns / 1ps
`default_nettype none

// Host RX queue: frames to the control plane (metadata + frame), DEPTH words of DATA_W, read over
// the CSR bus 4 bytes at a time, big-endian (the frame's first byte in bits 31..24).
// Room is reserved by the dispatchers before they send (a frame that does not fit is dropped
// there, never waited for), so the write side is always ready. Every frame starts word aligned; a
// length FIFO, written at tlast, holds the frame boundaries.
module ofl_host_rx #(
    parameter DATA_W = 64,
    parameter DEPTH = 4096
) (
    input  wire                clk,
    input  wire                rst,

    input  wire [DATA_W-1:0]   s_axis_tdata,
    input  wire [DATA_W/8-1:0] s_axis_tkeep,
    input  wire                s_axis_tvalid,
    input  wire                s_axis_tlast,

    // reservations; when both ask in the same cycle, port 0 is served first
    input  wire                req0,
    input  wire [15:0]         words0,
    output wire                grant0,
    input  wire                req1,
    input  wire [15:0]         words1,
    output wire                grant1,

    // CSR side
    output wire [15:0]         rx_len,
    input  wire                rd_req,
    output wire                rd_ack,
    output wire [31:0]         rd_data,

    output wire                busy
);

localparam WB = DATA_W / 8;
localparam LEN_DEPTH = DEPTH * WB / 16 > 2 ? DEPTH * WB / 16 : 2;   // a frame is at least 16 bytes
localparam [31:0] DEPTH_C = DEPTH;
localparam [15:0] WB16 = WB[15:0];

`ifndef SYNTHESIS
// parameter checks (simulation and lint; synthesis tools skip them)
initial begin
    if (DEPTH < 16) begin
        $error("ofl_host_rx: DEPTH too small");
        $finish;
    end
end
`endif

// ---------------------------------------------------------------- reservations
reg [31:0] alloc_reg = 32'd0;     // words reserved or stored
wire [31:0] free = DEPTH_C - alloc_reg;
wire [31:0] w0 = {16'd0, words0};
wire [31:0] w1 = {16'd0, words1};
assign grant0 = req0 && w0 <= free;
wire [31:0] free1 = grant0 ? free - w0 : free;
assign grant1 = req1 && w1 <= free1;

// ---------------------------------------------------------------- write side
wire [DATA_W-1:0] q_data;
wire q_valid;
wire q_pop;
wire q_ready_unused;
wire q_empty;

ofl_fifo #(.WIDTH(DATA_W), .DEPTH(DEPTH)) data_fifo (
    .clk(clk), .rst(rst),
    .s_data(s_axis_tdata), .s_valid(s_axis_tvalid), .s_ready(q_ready_unused),
    .m_data(q_data), .m_valid(q_valid), .m_ready(q_pop),
    .empty(q_empty)
);

reg [15:0] wbytes_reg = 16'd0;
reg [3:0] nkeep;
integer k;
always @* begin
    nkeep = 4'd0;
    for (k = 0; k < WB; k = k + 1) begin
        nkeep = nkeep + {3'd0, s_axis_tkeep[k]};
    end
end
wire [15:0] wbytes_now = wbytes_reg + {12'd0, nkeep};

wire [15:0] len_q;
wire len_valid;
wire len_pop;
wire len_ready_unused;
wire len_empty;

ofl_fifo #(.WIDTH(16), .DEPTH(LEN_DEPTH)) len_fifo (
    .clk(clk), .rst(rst),
    .s_data(wbytes_now), .s_valid(s_axis_tvalid && s_axis_tlast), .s_ready(len_ready_unused),
    .m_data(len_q), .m_valid(len_valid), .m_ready(len_pop),
    .empty(len_empty)
);

always @(posedge clk) begin
    if (s_axis_tvalid) begin
        wbytes_reg <= s_axis_tlast ? 16'd0 : wbytes_now;
    end
    alloc_reg <= alloc_reg + (grant0 ? w0 : 32'd0) + (grant1 ? w1 : 32'd0) - {31'd0, q_pop};
    if (rst) begin
        wbytes_reg <= 16'd0;
        alloc_reg <= 32'd0;
    end
end

// ---------------------------------------------------------------- read side: 4-byte chunks
reg started_reg = 1'b0;       // left_reg holds the head frame's remaining bytes
reg [15:0] left_reg = 16'd0;
reg [31:0] acc_reg = 32'd0;   // chunk, big-endian, zero past the frame's end
reg [2:0] acc_n_reg = 3'd0;
reg chunk_reg = 1'b0;
reg [2:0] off_reg = 3'd0;     // byte offset in the head word (DATA_W = 64)

reg [31:0] acc_next;
reg [2:0] acc_n_next;
reg [15:0] take;
reg pop_word;
reg chunk_done;
integer b;
wire filling = started_reg && !chunk_reg && left_reg != 16'd0 && q_valid;

generate
    if (WB >= 4) begin : wide
        // every result is used only while filling; skipping the byte gather otherwise keeps an
        // idle host queue nearly free in simulation
        always @* begin
            take = 16'd4;
            acc_next = 32'd0;
            acc_n_next = 3'd4;
            pop_word = 1'b0;
            chunk_done = 1'b1;
            if (filling) begin
                take = left_reg < 16'd4 ? left_reg : 16'd4;
                for (b = 0; b < 4; b = b + 1) begin
                    if (b < take) begin
                        acc_next[31-8*b -: 8] = q_data[8*(b + {29'd0, off_reg}) +: 8];
                    end
                end
                pop_word = {13'd0, off_reg} + 16'd4 >= WB16 || left_reg == take;
            end
        end
    end else begin : narrow
        always @* begin
            take = WB16;
            acc_next = acc_reg;
            acc_n_next = acc_n_reg;
            pop_word = 1'b1;
            chunk_done = 1'b0;
            if (filling) begin
                take = left_reg < WB16 ? left_reg : WB16;
                for (b = 0; b < WB; b = b + 1) begin
                    if (b < take) begin
                        acc_next[31-8*(b + {29'd0, acc_n_reg}) -: 8] = q_data[8*b +: 8];
                    end
                end
                acc_n_next = acc_n_reg + take[2:0];
                chunk_done = acc_n_next == 3'd4 || left_reg == take;
            end
        end
    end
endgenerate

assign q_pop = filling && pop_word;
wire frame_empty = !len_valid;
assign rd_ack = rd_req && (chunk_reg || frame_empty);
assign rd_data = frame_empty ? 32'd0 : acc_reg;
wire consume = rd_req && chunk_reg && !frame_empty;
assign len_pop = consume && left_reg == 16'd0;
assign rx_len = len_valid ? len_q : 16'd0;

always @(posedge clk) begin
    if (!started_reg && len_valid) begin
        started_reg <= 1'b1;
        left_reg <= len_q;
    end
    if (filling) begin
        acc_reg <= acc_next;
        acc_n_reg <= acc_n_next;
        left_reg <= left_reg - take;
        chunk_reg <= chunk_done;
        if (WB > 4) begin
            off_reg <= pop_word ? 3'd0 : off_reg + 3'd4;
        end
    end
    if (consume) begin
        chunk_reg <= 1'b0;
        acc_reg <= 32'd0;
        acc_n_reg <= 3'd0;
        if (left_reg == 16'd0) begin
            started_reg <= 1'b0;
        end
    end
    if (rst) begin
        started_reg <= 1'b0;
        left_reg <= 16'd0;
        acc_reg <= 32'd0;
        acc_n_reg <= 3'd0;
        chunk_reg <= 1'b0;
        off_reg <= 3'd0;
    end
end

assign busy = wbytes_reg != 16'd0;

wire unused = ^{q_ready_unused, len_ready_unused, q_empty, len_empty, acc_n_reg};

endmodule

`resetall
