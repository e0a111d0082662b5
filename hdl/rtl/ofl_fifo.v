`resetall
`timescale 1ns / 1ps
`default_nettype none

// First-word-fall-through FIFO. The RAM is read synchronously straight into the output register, so
// the RAM maps to block RAM, the read data never comes combinationally out of the RAM, and popping
// every cycle needs no bubble. Capacity is DEPTH entries in the RAM plus the output register.
// It is a frame FIFO whose every word is its own frame (committed as it is written): one RAM and one
// read side for both queues.
module ofl_fifo #(
    parameter WIDTH = 8,
    parameter DEPTH = 16
) (
    input  wire             clk,
    input  wire             rst,

    input  wire [WIDTH-1:0] s_data,
    input  wire             s_valid,
    output wire             s_ready,

    output wire [WIDTH-1:0] m_data,
    output wire             m_valid,
    input  wire             m_ready,

    output wire             empty
);

wire [31:0] free;
wire push = s_valid && s_ready;

assign s_ready = free != 32'd0;

ofl_frame_fifo #(.WIDTH(WIDTH), .DEPTH(DEPTH)) u_fifo (
    .clk(clk),
    .rst(rst),
    .wr_data(s_data),
    .wr_en(push),
    .commit(push),
    .rollback(1'b0),
    .trim(1'b0),
    .trim_words(32'd0),
    .free(free),
    .m_data(m_data),
    .m_valid(m_valid),
    .m_ready(m_ready),
    .empty(empty)
);

endmodule

`resetall
