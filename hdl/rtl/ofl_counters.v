`resetall
`timescale 1ns / 1ps
`default_nettype none

// 64-bit event counters in one block RAM: 16 per port (OFL_CNT_* order) and 2 global. Counter n is
// port n/16 index n%16 for n < 32, global n-32 above. RX_BYTES and TX_BYTES add a byte count when
// their frame counter increments. A clear and an increment in the same cycle leave the increment.
//
// Why a RAM: 34 64-bit counters in flops cost ~2.2k flip-flops and ~4.3k LUT4 on an iCE40 (each its
// own 64-bit adder). Here each counter has only a narrow accumulator in flops; a read-modify-write
// pipeline visits the counters round robin and adds each accumulator into the RAM word:
//   stage 0: RAM read address <= counter k (round robin, or the CSR read's counter)
//   stage 1: word = (pending clear ? 0 : RAM word) + acc[k]; RAM[k] <= word; acc[k] <= this cycle's
//            amount; a CSR read gets word (every event before this cycle, all 64 bits at once)
// A CSR read takes the slot of the round robin at most every other cycle, so every counter is flushed
// at least every 2*N cycles: a frame counter's accumulator needs log2(2N+1) bits, a byte counter's 32
// more. A clear (or reset) zeroes the accumulator and marks the RAM word stale (clr_pend) instead of
// writing the RAM, so it is exact in its cycle like the flops were.
module ofl_counters #(
    parameter N = 34
) (
    input  wire        clk,
    input  wire        rst,

    input  wire [15:0] inc0,
    input  wire [31:0] rx_bytes0,
    input  wire [31:0] tx_bytes0,
    input  wire [15:0] inc1,
    input  wire [31:0] rx_bytes1,
    input  wire [31:0] tx_bytes1,
    input  wire [1:0]  inc_global,

    // read: hold rd_req and rd_idx until rd_ack (one cycle, rd_val valid with it); 0 past the last
    input  wire        rd_req,
    input  wire [5:0]  rd_idx,
    output wire        rd_ack,
    output wire [63:0] rd_val,
    input  wire        clr,
    input  wire [5:0]  clr_idx
);

`include "offload_regs.vh"

// a frame counter gains at most 1 a cycle, a byte counter at most 2^32-1
localparam FW = $clog2(2 * N + 1);
localparam BW = 32 + FW;
localparam [5:0] LAST = N - 1;

`ifndef SYNTHESIS
initial begin
    if (N != 34) begin
        $error("ofl_counters: N must be 34 (16 per port and 2 global)");
        $finish;
    end
end
`endif

// ---------------------------------------------------------------- accumulators
// each counter's own accumulator (FW bits for frames, BW for bytes), zero-extended side by side
wire [N*BW-1:0] acc_flat;
reg [N-1:0] clr_pend;

// stage 1 of the pipeline (the counter being flushed this cycle)
reg s1_valid, s1_rd;
reg [5:0] s1_idx;

genvar g;
generate
    for (g = 0; g < N; g = g + 1) begin : c
        localparam I = g % 16;
        localparam IS_BYTES = g < 32 && (I == `OFL_CNT_RX_BYTES || I == `OFL_CNT_TX_BYTES);
        localparam SRC = I == `OFL_CNT_RX_BYTES ? `OFL_CNT_RX_FRAMES : I == `OFL_CNT_TX_BYTES ? `OFL_CNT_TX_FRAMES : I;
        localparam [5:0] IDX = g;
        wire inc = g < 16 ? inc0[SRC] : g < 32 ? inc1[SRC] : inc_global[g - 32];
        localparam AW = IS_BYTES ? BW : FW;
        wire [AW-1:0] amount;
        if (IS_BYTES) begin : b
            wire [31:0] bytes = g < 16 ? (I == `OFL_CNT_RX_BYTES ? rx_bytes0 : tx_bytes0)
                                       : (I == `OFL_CNT_RX_BYTES ? rx_bytes1 : tx_bytes1);
            assign amount = inc ? {{(AW-32){1'b0}}, bytes} : {AW{1'b0}};
        end else begin : f
            assign amount = {{(AW-1){1'b0}}, inc};
        end
        wire cleared = clr && clr_idx == IDX;
        wire flushed = s1_valid && s1_idx == IDX;
        reg [AW-1:0] acc;
        assign acc_flat[g*BW +: BW] = {{(BW-AW){1'b0}}, acc};
        always @(posedge clk) begin
            // only the counters that change are written (a cheaper cycle in the model)
            if (inc || cleared || flushed) begin
                acc <= (cleared || flushed ? {AW{1'b0}} : acc) + amount;
                if (cleared) begin
                    clr_pend[g] <= 1'b1;
                end else if (flushed) begin
                    clr_pend[g] <= 1'b0;
                end
            end
            if (rst) begin
                acc <= {AW{1'b0}};
                clr_pend[g] <= 1'b1;
            end
        end
    end
endgenerate

// ---------------------------------------------------------------- read-modify-write pipeline
reg [63:0] mem[0:N-1];
reg [63:0] mem_q;
reg [5:0] rr;
reg byp;              // stage 1 reads the word stage 1 wrote a cycle ago (the RAM gives the old one)
reg [63:0] byp_word;

wire rd_ok = rd_idx <= LAST;
// The CSR read goes first unless it had the previous slot, so the round robin gets every other one.
// (That previous slot is also the read being acked now, whose rd_req is still high: not issued twice.)
wire s0_rd = rd_req && rd_ok && !(s1_valid && s1_rd);
wire [5:0] s0_idx = s0_rd ? rd_idx : rr;

wire [63:0] base = clr_pend[s1_idx] ? 64'd0 : byp ? byp_word : mem_q;
wire [BW-1:0] acc_s1 = acc_flat[s1_idx*BW +: BW];
wire [63:0] word = base + {{64-BW{1'b0}}, acc_s1};

always @(posedge clk) begin
    mem_q <= mem[s0_idx];
    if (s1_valid) begin
        mem[s1_idx] <= word;
    end
end

always @(posedge clk) begin
    s1_valid <= 1'b1;
    s1_rd <= s0_rd;
    s1_idx <= s0_idx;
    byp <= s1_valid && s1_idx == s0_idx;
    byp_word <= word;
    if (!s0_rd) begin
        rr <= rr == LAST ? 6'd0 : rr + 6'd1;
    end
    if (rst) begin
        s1_valid <= 1'b0;
        s1_rd <= 1'b0;
        rr <= 6'd0;
        byp <= 1'b0;
    end
end

// an index past the last counter reads 0 at once
assign rd_ack = (s1_valid && s1_rd) || (rd_req && !rd_ok);
assign rd_val = rd_ok ? word : 64'd0;

// the byte counters' own increment bits are implied by the frame counters
wire unused = ^{inc0[`OFL_CNT_RX_BYTES], inc0[`OFL_CNT_TX_BYTES], inc1[`OFL_CNT_RX_BYTES], inc1[`OFL_CNT_TX_BYTES]};

endmodule

`resetall
