`resetall
`timescale 1ns / 1ps
`default_nettype none

// Asynchronous frame FIFO between two unrelated clocks, for a MAC that cannot be stalled.
//
// Write side (s_clk): words of a frame go in at a tentative pointer. A frame becomes readable only
// after its last word arrived without error; a frame whose last word carries s_axis_tuser (bad FCS,
// PHY error, runt), or that does not fit, is rewound away whole and counted. With DROP_WHEN_FULL = 1
// s_axis_tready is always 1, so the writer never waits (MAC receive side); with DROP_WHEN_FULL = 0
// the writer waits while the FIFO is full (MAC transmit side), and only a frame too large to ever
// fit (it fills the whole FIFO by itself) is dropped.
//
// Crossing: both pointers cross as Gray code through two flip-flops, so the other side sees either
// the old or the new value, never a mixture. That holds only if a pointer moves by at most one per
// clock of its own side, which a commit (a jump by a whole frame) would break. So the committed
// pointer is not sent itself: a published pointer follows it one word per s_clk. It never passes
// the committed pointer, so the read side only ever sees words of complete, good frames. A frame
// shows up on the read side at one word per s_clk after its commit; a reader slower per word than
// s_clk (a transmit MAC) therefore never runs dry inside a frame once it has started it.
//
// Read side (m_clk): the RAM is read synchronously into the output register (block RAM with two
// clocks), first word falls through.
//
// Reset: s_rst and m_rst must overlap (both asserted at some common time): each clears its side.
module ofl_async_frame_fifo #(
    parameter DATA_W = 8,
    parameter DEPTH = 2048,           // words, a power of two
    parameter DROP_WHEN_FULL = 1
) (
    input  wire              s_clk,
    input  wire              s_rst,
    input  wire [DATA_W-1:0] s_axis_tdata,
    input  wire              s_axis_tvalid,
    output wire              s_axis_tready,
    input  wire              s_axis_tlast,
    input  wire              s_axis_tuser,    // with tlast: the frame is bad, drop it

    // one-cycle pulses in s_clk, at most one per frame
    output wire              drop_full,       // the frame did not fit
    output wire              drop_bad,        // the frame ended with tuser set

    input  wire              m_clk,
    input  wire              m_rst,
    output wire [DATA_W-1:0] m_axis_tdata,
    output wire              m_axis_tvalid,
    input  wire              m_axis_tready,
    output wire              m_axis_tlast
);

localparam AW = $clog2(DEPTH);

`ifndef SYNTHESIS
initial begin
    if (DEPTH < 2 || (1 << AW) != DEPTH) begin
        $error("ofl_async_frame_fifo: DEPTH must be a power of two, at least 2");
        $finish;
    end
end
`endif

function [AW:0] bin2gray(input [AW:0] b);
    bin2gray = b ^ (b >> 1);
endfunction

function [AW:0] gray2bin(input [AW:0] g);
    integer i;
    begin
        gray2bin[AW] = g[AW];
        for (i = AW - 1; i >= 0; i = i - 1)
            gray2bin[i] = gray2bin[i + 1] ^ g[i];
    end
endfunction

reg [DATA_W:0] mem[0:DEPTH-1];

// ---- write side (s_clk) ----
reg [AW:0] wr_ptr_reg = 0;          // next word goes here (tentative)
reg [AW:0] wr_commit_reg = 0;       // end of the last good frame
reg [AW:0] wr_pub_reg = 0;          // committed words the read side may see
reg [AW:0] wr_pub_gray_reg = 0;
(* async_reg = "true" *) reg [AW:0] rd_gray_s1_reg = 0;
(* async_reg = "true" *) reg [AW:0] rd_gray_s2_reg = 0;
reg [AW:0] rd_ptr_s_reg = 0;        // binary again, a register so the XOR chain stays off the full path
reg dropping_reg = 1'b0;            // the rest of this frame is thrown away
reg drop_full_reg = 1'b0;
reg drop_bad_reg = 1'b0;

wire full = (wr_ptr_reg - rd_ptr_s_reg) == DEPTH[AW:0];
// the frame being written occupies the whole FIFO: it can never be committed
wire frame_fills = (wr_ptr_reg - wr_commit_reg) == DEPTH[AW:0];
wire wr_ready = DROP_WHEN_FULL != 0 || !full || frame_fills || dropping_reg;
wire beat = s_axis_tvalid && wr_ready;

assign s_axis_tready = wr_ready;
assign drop_full = drop_full_reg;
assign drop_bad = drop_bad_reg;

always @(posedge s_clk) begin
    if (beat && !dropping_reg && !full) begin
        mem[wr_ptr_reg[AW-1:0]] <= {s_axis_tlast, s_axis_tdata};
    end
end

always @(posedge s_clk) begin
    drop_full_reg <= 1'b0;
    drop_bad_reg <= 1'b0;
    if (beat) begin
        if (dropping_reg) begin
            dropping_reg <= !s_axis_tlast;
        end else if (full) begin
            // no room for this word: the frame cannot be whole, so none of it stays
            wr_ptr_reg <= wr_commit_reg;
            dropping_reg <= !s_axis_tlast;
            drop_full_reg <= 1'b1;
        end else if (s_axis_tlast && s_axis_tuser) begin
            wr_ptr_reg <= wr_commit_reg;
            drop_bad_reg <= 1'b1;
        end else begin
            wr_ptr_reg <= wr_ptr_reg + 1'b1;
            if (s_axis_tlast) begin
                wr_commit_reg <= wr_ptr_reg + 1'b1;
            end
        end
    end
    if (wr_pub_reg != wr_commit_reg) begin
        wr_pub_reg <= wr_pub_reg + 1'b1;
    end
    wr_pub_gray_reg <= bin2gray(wr_pub_reg);
    rd_gray_s1_reg <= rd_gray_m_reg;
    rd_gray_s2_reg <= rd_gray_s1_reg;
    rd_ptr_s_reg <= gray2bin(rd_gray_s2_reg);
    if (s_rst) begin
        wr_ptr_reg <= 0;
        wr_commit_reg <= 0;
        wr_pub_reg <= 0;
        wr_pub_gray_reg <= 0;
        rd_gray_s1_reg <= 0;
        rd_gray_s2_reg <= 0;
        rd_ptr_s_reg <= 0;
        dropping_reg <= 1'b0;
        drop_full_reg <= 1'b0;
        drop_bad_reg <= 1'b0;
    end
end

// ---- read side (m_clk) ----
reg [AW:0] rd_ptr_reg = 0;
reg [AW:0] rd_gray_m_reg = 0;
(* async_reg = "true" *) reg [AW:0] pub_gray_m1_reg = 0;
(* async_reg = "true" *) reg [AW:0] pub_gray_m2_reg = 0;
reg [AW:0] pub_ptr_m_reg = 0;
reg [DATA_W:0] out_reg;
reg out_valid_reg = 1'b0;

wire ram_ne = rd_ptr_reg != pub_ptr_m_reg;
wire load = ram_ne && (!out_valid_reg || m_axis_tready);

assign m_axis_tdata = out_reg[DATA_W-1:0];
assign m_axis_tlast = out_reg[DATA_W];
assign m_axis_tvalid = out_valid_reg;

always @(posedge m_clk) begin
    if (load) begin
        out_reg <= mem[rd_ptr_reg[AW-1:0]];
    end
end

always @(posedge m_clk) begin
    if (load) begin
        rd_ptr_reg <= rd_ptr_reg + 1'b1;
        out_valid_reg <= 1'b1;
    end else if (m_axis_tready) begin
        out_valid_reg <= 1'b0;
    end
    rd_gray_m_reg <= bin2gray(rd_ptr_reg);
    pub_gray_m1_reg <= wr_pub_gray_reg;
    pub_gray_m2_reg <= pub_gray_m1_reg;
    pub_ptr_m_reg <= gray2bin(pub_gray_m2_reg);
    if (m_rst) begin
        rd_ptr_reg <= 0;
        rd_gray_m_reg <= 0;
        pub_gray_m1_reg <= 0;
        pub_gray_m2_reg <= 0;
        pub_ptr_m_reg <= 0;
        out_valid_reg <= 1'b0;
    end
end

endmodule

`resetall
