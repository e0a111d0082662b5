`resetall
`timescale 1ns / 1ps
`default_nettype none

// First-word-fall-through FIFO. The RAM is read synchronously straight into the output register, so
// the RAM maps to block RAM, the read data never comes combinationally out of the RAM, and popping
// every cycle needs no bubble. Capacity is DEPTH entries in the RAM plus the output register.
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

localparam AW = DEPTH > 2 ? $clog2(DEPTH) : 1;
localparam [AW:0] CAP = DEPTH[AW:0];

`ifndef SYNTHESIS
// parameter checks (simulation and lint; synthesis tools skip them)
initial begin
    if (DEPTH < 1 || WIDTH < 1) begin
        $error("ofl_fifo: DEPTH and WIDTH must be positive");
        $finish;
    end
end
`endif

reg [WIDTH-1:0] mem[0:(1<<AW)-1];
reg [AW:0] wr_ptr_reg = 0;
reg [AW:0] rd_ptr_reg = 0;
reg [WIDTH-1:0] out_reg;
reg out_valid_reg = 1'b0;

wire [AW:0] used = wr_ptr_reg - rd_ptr_reg;
wire ram_ne = wr_ptr_reg != rd_ptr_reg;
wire push = s_valid && s_ready;
wire load = ram_ne && (!out_valid_reg || m_ready);

assign s_ready = used < CAP;
assign m_data = out_reg;
assign m_valid = out_valid_reg;
assign empty = !ram_ne && !out_valid_reg;

always @(posedge clk) begin
    if (push) begin
        mem[wr_ptr_reg[AW-1:0]] <= s_data;
    end
    if (load) begin
        out_reg <= mem[rd_ptr_reg[AW-1:0]];
    end
end

always @(posedge clk) begin
    if (push) begin
        wr_ptr_reg <= wr_ptr_reg + 1'b1;
    end
    if (load) begin
        rd_ptr_reg <= rd_ptr_reg + 1'b1;
        out_valid_reg <= 1'b1;
    end else if (m_ready) begin
        out_valid_reg <= 1'b0;
    end
    if (rst) begin
        wr_ptr_reg <= 0;
        rd_ptr_reg <= 0;
        out_valid_reg <= 1'b0;
    end
end

endmodule

`resetall
