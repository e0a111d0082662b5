`resetall
`timescale 1ns / 1ps
`default_nettype none

// Event counter whose value is read in another clock domain. It counts one-cycle pulses in s_clk
// and keeps the count in Gray code there, so it changes by one bit per count; the read side takes it
// through two flip-flops and sees the old or the new count, never a mixture. It wraps at 2^WIDTH.
// Reset: s_rst and m_rst must overlap.
module ofl_cdc_count #(
    parameter WIDTH = 16
) (
    input  wire             s_clk,
    input  wire             s_rst,
    input  wire             s_pulse,

    input  wire             m_clk,
    input  wire             m_rst,
    output wire [WIDTH-1:0] m_count
);

reg [WIDTH-1:0] cnt_reg = 0;
reg [WIDTH-1:0] gray_reg = 0;
(* async_reg = "true" *) reg [WIDTH-1:0] m1_reg = 0;
(* async_reg = "true" *) reg [WIDTH-1:0] m2_reg = 0;
reg [WIDTH-1:0] bin_reg = 0;

wire [WIDTH-1:0] cnt_next = cnt_reg + {{(WIDTH-1){1'b0}}, s_pulse};

function [WIDTH-1:0] gray2bin(input [WIDTH-1:0] g);
    integer i;
    begin
        gray2bin[WIDTH-1] = g[WIDTH-1];
        for (i = WIDTH - 2; i >= 0; i = i - 1)
            gray2bin[i] = gray2bin[i + 1] ^ g[i];
    end
endfunction

assign m_count = bin_reg;

always @(posedge s_clk) begin
    cnt_reg <= cnt_next;
    gray_reg <= cnt_next ^ (cnt_next >> 1);
    if (s_rst) begin
        cnt_reg <= 0;
        gray_reg <= 0;
    end
end

always @(posedge m_clk) begin
    m1_reg <= gray_reg;
    m2_reg <= m1_reg;
    // registered so the XOR chain of the conversion does not reach the reader's logic
    bin_reg <= gray2bin(m2_reg);
    if (m_rst) begin
        m1_reg <= 0;
        m2_reg <= 0;
        bin_reg <= 0;
    end
end

endmodule

`resetall
