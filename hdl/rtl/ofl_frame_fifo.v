`resetall
`timescale 1ns / 1ps
`default_nettype none

// Frame FIFO: words are written at a tentative pointer and become readable only when the frame is
// committed, so a frame can be dropped after it was (partly) stored by rolling the pointer back.
// trim commits only the first trim_words words of the tentative data (the host TX queue drops the
// bytes written past the committed length that way). Read side: first word falls through, the RAM
// read synchronously into the output register (block RAM, no combinational path out of it). ofl_fifo is
// this FIFO with every word committed as it is written.
module ofl_frame_fifo #(
    parameter WIDTH = 64,
    parameter DEPTH = 2048
) (
    input  wire             clk,
    input  wire             rst,

    input  wire [WIDTH-1:0] wr_data,
    input  wire             wr_en,
    input  wire             commit,
    input  wire             rollback,
    input  wire             trim,
    // a 32-bit count keeps the port independent of DEPTH; only the pointer-width low bits matter
    /* verilator lint_off UNUSEDSIGNAL */
    input  wire [31:0]      trim_words,
    /* verilator lint_on UNUSEDSIGNAL */
    // words that can still be written (tentative data counts as used)
    output wire [31:0]      free,

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
        $error("ofl_frame_fifo: DEPTH and WIDTH must be positive");
        $finish;
    end
end
`endif

reg [WIDTH-1:0] mem[0:(1<<AW)-1];
reg [AW:0] wr_tent_reg = 0;
reg [AW:0] wr_commit_reg = 0;
reg [AW:0] rd_ptr_reg = 0;
reg [WIDTH-1:0] out_reg;
reg out_valid_reg = 1'b0;

wire [AW:0] used = wr_tent_reg - rd_ptr_reg;
wire [AW:0] free_w = CAP - used;
wire ram_ne = wr_commit_reg != rd_ptr_reg;
wire load = ram_ne && (!out_valid_reg || m_ready);
wire [AW:0] wr_tent_inc = wr_tent_reg + {{AW{1'b0}}, wr_en};
wire [AW:0] wr_trim = wr_commit_reg + trim_words[AW:0];

assign free = {{(31-AW){1'b0}}, free_w};
assign m_data = out_reg;
assign m_valid = out_valid_reg;
assign empty = !ram_ne && !out_valid_reg;

always @(posedge clk) begin
    if (wr_en) begin
        mem[wr_tent_reg[AW-1:0]] <= wr_data;
    end
    if (load) begin
        out_reg <= mem[rd_ptr_reg[AW-1:0]];
    end
end

always @(posedge clk) begin
    wr_tent_reg <= wr_tent_inc;
    if (rollback) begin
        wr_tent_reg <= wr_commit_reg;
    end else if (trim) begin
        wr_tent_reg <= wr_trim;
        wr_commit_reg <= wr_trim;
    end else if (commit) begin
        wr_commit_reg <= wr_tent_inc;
    end
    if (load) begin
        rd_ptr_reg <= rd_ptr_reg + 1'b1;
        out_valid_reg <= 1'b1;
    end else if (m_ready) begin
        out_valid_reg <= 1'b0;
    end
    if (rst) begin
        wr_tent_reg <= 0;
        wr_commit_reg <= 0;
        rd_ptr_reg <= 0;
        out_valid_reg <= 1'b0;
    end
end

endmodule

`resetall
