`resetall
`timescale 1ns / 1ps
`default_nettype none

// Host TX queue: the control plane writes a frame 4 bytes at a time (big-endian), metadata first
// (byte 0 = egress port), then commits it with its byte length. Bytes are stored with the metadata
// (DEPTH words of DATA_W, every frame word aligned) so HOST_TX_FREE is simply the free space.
// A commit that is too short, too long, past what was written or names a port > 1 rolls the frame
// back and counts HOST_TX_DROPS; otherwise bytes written past the length are trimmed off.
module ofl_host_tx #(
    parameter DATA_W = 64,
    parameter DEPTH = 2048,
    parameter MAX_FRAME = 9600
) (
    input  wire                clk,
    input  wire                rst,

    // CSR side; requests are held until acked
    input  wire                wr_req,
    input  wire [31:0]         wr_data,
    output wire                wr_ack,
    input  wire                commit_req,
    input  wire [31:0]         commit_len,
    output wire                commit_ack,
    output wire [31:0]         free_bytes,

    output wire [DATA_W-1:0]   m_axis_tdata,
    output wire [DATA_W/8-1:0] m_axis_tkeep,
    output wire                m_axis_tvalid,
    input  wire                m_axis_tready,
    output wire                m_axis_tlast,
    output wire [1:0]          m_axis_tdest,

    output wire                cnt_frame,
    output wire                cnt_drop,

    output wire                busy
);

localparam WB = DATA_W / 8;
localparam LWB = $clog2(WB);
localparam LEN_DEPTH = DEPTH * WB / 16 > 2 ? DEPTH * WB / 16 : 2;
localparam META_WORDS_I = 16 / WB;
localparam WB_M1_I = WB - 1;
localparam [15:0] META_WORDS = META_WORDS_I[15:0];
localparam [15:0] WB_M1 = WB_M1_I[15:0];
localparam [31:0] MAX_LEN = 16 + MAX_FRAME;
localparam [WB-1:0] KEEP_ALL = {WB{1'b1}};

// ---------------------------------------------------------------- write side
wire [31:0] fifo_free;
wire [DATA_W-1:0] fifo_wdata;
wire fifo_we;
wire fifo_commit_unused = 1'b0;
reg trim;
reg rollback;
reg [31:0] trim_words;

reg [15:0] nwr_reg = 16'd0;      // 4-byte writes accepted for the frame being written
reg [7:0] port_reg = 8'd0;       // metadata byte 0
reg [DATA_W-1:0] acc_reg = {DATA_W{1'b0}};  // DATA_W >= 32: chunks gathered into a word
reg [2:0] acc_cnt_reg = 3'd0;
reg [31:0] hold_reg = 32'd0;     // DATA_W < 32: a written chunk still being split into words
reg [2:0] hold_cnt_reg = 3'd0;

wire [31:0] pending_bytes = WB >= 4 ? {27'd0, acc_cnt_reg, 2'b00} : {29'd0, hold_cnt_reg} << LWB;
wire [31:0] free_all = (fifo_free << LWB) - pending_bytes;
assign free_bytes = free_all;

// the chunk in lane order: the byte in bits 31..24 goes first
wire [31:0] chunk = {wr_data[7:0], wr_data[15:8], wr_data[23:16], wr_data[31:24]};
wire room = free_all >= 32'd4;
wire hold_busy = WB < 4 && hold_cnt_reg != 3'd0;
assign wr_ack = wr_req && !hold_busy;
assign commit_ack = commit_req && !hold_busy;
wire do_wr = wr_ack && room;
wire do_commit = commit_ack;

// commit checks
wire [31:0] written = {14'd0, nwr_reg, 2'b00};
wire len_ok = commit_len >= 32'd30 && commit_len <= MAX_LEN && commit_len <= written && port_reg <= 8'd1;
wire [31:0] commit_words = (commit_len >> LWB) + {31'd0, (commit_len & {16'd0, WB_M1}) != 32'd0};

always @* begin
    trim = do_commit && len_ok;
    rollback = do_commit && !len_ok;
    trim_words = commit_words;
end

generate
    if (WB >= 4) begin : wide
        // continuous assignments (not always @*): they hold a value from time 0 even before any
        // input changes, which event-driven simulators need here to keep X out of the FIFO pointers
        function [DATA_W-1:0] place;
            input [DATA_W-1:0] acc;
            input [2:0] n;
            input [31:0] ch;
            integer c;
            begin
                place = acc;
                for (c = 0; c < WB / 4; c = c + 1) begin
                    if (n == c[2:0]) begin
                        place[32*c +: 32] = ch;
                    end
                end
            end
        endfunction
        wire word_full = {29'd0, acc_cnt_reg} == WB / 4 - 1;
        assign fifo_wdata = do_wr ? place(acc_reg, acc_cnt_reg, chunk) : acc_reg;
        assign fifo_we = do_wr ? word_full : (do_commit && acc_cnt_reg != 3'd0);
        always @(posedge clk) begin
            if (do_wr) begin
                acc_reg <= fifo_wdata;
                acc_cnt_reg <= fifo_we ? 3'd0 : acc_cnt_reg + 3'd1;
            end
            if (do_commit || rst) begin
                acc_cnt_reg <= 3'd0;
            end
        end
        wire unused_hold = ^{hold_reg, hold_cnt_reg};
    end else begin : narrow
        assign fifo_wdata = hold_reg[DATA_W-1:0];
        assign fifo_we = hold_cnt_reg != 3'd0;
        always @(posedge clk) begin
            if (do_wr) begin
                hold_reg <= chunk;
                hold_cnt_reg <= 3'd4 >> LWB;
            end else if (hold_cnt_reg != 3'd0) begin
                hold_reg <= hold_reg >> DATA_W;
                hold_cnt_reg <= hold_cnt_reg - 3'd1;
            end
            if (rst) begin
                hold_cnt_reg <= 3'd0;
            end
        end
        wire unused_acc = ^{acc_reg, acc_cnt_reg};
    end
endgenerate

wire [DATA_W-1:0] fifo_q;
wire fifo_valid;
wire fifo_pop;
wire fifo_empty;

ofl_frame_fifo #(.WIDTH(DATA_W), .DEPTH(DEPTH)) data_fifo (
    .clk(clk), .rst(rst),
    .wr_data(fifo_wdata), .wr_en(fifo_we), .commit(fifo_commit_unused), .rollback(rollback),
    .trim(trim), .trim_words(trim_words), .free(fifo_free),
    .m_data(fifo_q), .m_valid(fifo_valid), .m_ready(fifo_pop),
    .empty(fifo_empty)
);

wire [16:0] len_q;
wire len_valid;
wire len_pop;
wire len_s_ready_unused;
wire len_empty;
wire [15:0] frame_len = commit_len[15:0] - 16'd16;

ofl_fifo #(.WIDTH(17), .DEPTH(LEN_DEPTH)) len_fifo (
    .clk(clk), .rst(rst),
    .s_data({port_reg[0], frame_len}), .s_valid(do_commit && len_ok), .s_ready(len_s_ready_unused),
    .m_data(len_q), .m_valid(len_valid), .m_ready(len_pop),
    .empty(len_empty)
);

always @(posedge clk) begin
    if (do_wr) begin
        if (nwr_reg == 16'd0) begin
            port_reg <= wr_data[31:24];
        end
        if (nwr_reg != 16'hffff) begin
            nwr_reg <= nwr_reg + 16'd1;
        end
    end
    if (do_commit) begin
        nwr_reg <= 16'd0;
        port_reg <= 8'd0;
    end
    if (rst) begin
        nwr_reg <= 16'd0;
        port_reg <= 8'd0;
    end
end

// ---------------------------------------------------------------- read side: skip metadata, send
reg [15:0] ridx_reg = 16'd0;
wire [15:0] flen = len_q[15:0];
wire [15:0] fwords = (flen >> LWB) + {15'd0, (flen & WB_M1) != 16'd0};
wire skipping = ridx_reg < META_WORDS;
wire [15:0] last_idx = META_WORDS + fwords - 16'd1;
reg [WB-1:0] last_keep;
integer b;
always @* begin
    for (b = 0; b < WB; b = b + 1) begin
        last_keep[b] = (flen & WB_M1) == 16'd0 || (flen & WB_M1) > b[15:0];
    end
end

assign m_axis_tdata = fifo_q;
assign m_axis_tvalid = len_valid && fifo_valid && !skipping;
assign m_axis_tlast = ridx_reg == last_idx;
assign m_axis_tkeep = m_axis_tlast ? last_keep : KEEP_ALL;
assign m_axis_tdest = {1'b0, len_q[16]};
wire send = m_axis_tvalid && m_axis_tready;
assign fifo_pop = len_valid && fifo_valid && (skipping || m_axis_tready);
assign len_pop = send && m_axis_tlast;
assign cnt_frame = len_pop;
assign cnt_drop = do_commit && !len_ok;

always @(posedge clk) begin
    if (fifo_pop) begin
        ridx_reg <= len_pop ? 16'd0 : ridx_reg + 16'd1;
    end
    if (rst) begin
        ridx_reg <= 16'd0;
    end
end

assign busy = len_valid || !len_empty || (WB < 4 && hold_cnt_reg != 3'd0);

wire unused = ^{len_s_ready_unused, fifo_empty, commit_len[31:16]};

endmodule

`resetall
