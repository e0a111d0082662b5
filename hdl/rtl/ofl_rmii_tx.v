`resetall
`timescale 1ns / 1ps
`default_nettype none

// RMII transmit MAC, 100 Mb/s: a di-bit per 50 MHz reference clock, first bit in txd[0]. Sends
// 7 preamble bytes and the SFD, the frame, zero padding up to 60 bytes, the FCS, then keeps TX_EN
// low for the 12-byte inter-frame gap. It takes a byte every fourth clock once the frame started and
// cannot wait for one: the source must hold a whole frame (the edge's store-and-forward FIFO does).
// If a byte is missing all the same, the frame is ended at once with a wrong FCS, so no receiver
// takes it, the rest of it is read and thrown away, and `underrun` pulses.
module ofl_rmii_tx (
    input  wire       clk,
    input  wire       rst,

    input  wire [7:0] s_axis_tdata,
    input  wire       s_axis_tvalid,
    output wire       s_axis_tready,
    input  wire       s_axis_tlast,

    output wire [1:0] rmii_txd,
    output wire       rmii_tx_en,

    output wire       underrun
);

`include "ofl_crc32.vh"

localparam [2:0] S_IDLE = 3'd0, S_PRE = 3'd1, S_DATA = 3'd2, S_PAD = 3'd3, S_FCS = 3'd4, S_IFG = 3'd5;
localparam [5:0] MIN_BYTES = 6'd60;    // frame without FCS
localparam [5:0] IFG_CLKS = 6'd48;     // 96 bit times

reg [2:0] state_reg = S_IDLE;
reg [1:0] ph_reg = 2'd0;               // di-bit of the current byte on the wire
reg [7:0] sh_reg = 8'd0;
reg [31:0] fcs_reg = 32'd0;
reg [31:0] crc_reg = 32'hFFFFFFFF;
reg [3:0] idx_reg = 4'd0;              // preamble byte, or FCS di-bit
reg [5:0] cnt_reg = 6'd0;              // bytes sent, saturating at 60
reg [5:0] ifg_reg = 6'd0;
reg last_reg = 1'b0;                   // the byte on the wire ends the frame
reg drain_reg = 1'b0;                  // throw the rest of an underrun frame away
reg [1:0] txd_reg = 2'b00;
reg tx_en_reg = 1'b0;
reg underrun_reg = 1'b0;

wire byte_end = ph_reg == 2'd3;
wire sending = state_reg == S_PRE || state_reg == S_DATA || state_reg == S_PAD || state_reg == S_FCS;
wire take_data = state_reg == S_PRE && byte_end && idx_reg == 4'd7 ||
                 state_reg == S_DATA && byte_end && !last_reg;
wire [31:0] crc_next = crc32_dibit(crc_reg, sh_reg[1:0]);
wire [5:0] cnt_inc = cnt_reg == MIN_BYTES ? cnt_reg : cnt_reg + 6'd1;

assign s_axis_tready = take_data || drain_reg;
assign rmii_txd = txd_reg;
assign rmii_tx_en = tx_en_reg;
assign underrun = underrun_reg;

always @(posedge clk) begin
    underrun_reg <= 1'b0;
    tx_en_reg <= sending;
    // RMII wants 00 on TXD while TX_EN is low
    txd_reg <= !sending ? 2'b00 : state_reg == S_FCS ? fcs_reg[1:0] : sh_reg[1:0];
    if (drain_reg && s_axis_tvalid && s_axis_tlast) begin
        drain_reg <= 1'b0;
    end

    case (state_reg)
    S_IDLE: begin
        ph_reg <= 2'd0;
        idx_reg <= 4'd0;
        sh_reg <= 8'h55;
        if (s_axis_tvalid && !drain_reg) begin
            state_reg <= S_PRE;
        end
    end
    S_PRE: begin
        ph_reg <= ph_reg + 2'd1;
        sh_reg <= sh_reg >> 2;
        if (byte_end) begin
            idx_reg <= idx_reg + 4'd1;
            sh_reg <= idx_reg == 4'd6 ? 8'hD5 : 8'h55;
            if (idx_reg == 4'd7) begin
                crc_reg <= 32'hFFFFFFFF;
                cnt_reg <= 6'd1;
                sh_reg <= s_axis_tdata;
                last_reg <= s_axis_tlast;
                state_reg <= S_DATA;
                if (!s_axis_tvalid) begin
                    // nothing to send after all: end in the preamble (no SFD was sent)
                    state_reg <= S_IFG;
                    ifg_reg <= IFG_CLKS;
                    underrun_reg <= 1'b1;
                end
            end
        end
    end
    S_DATA, S_PAD: begin
        ph_reg <= ph_reg + 2'd1;
        sh_reg <= sh_reg >> 2;
        crc_reg <= crc_next;
        if (byte_end) begin
            idx_reg <= 4'd0;
            cnt_reg <= cnt_inc;
            if (state_reg == S_DATA && !last_reg) begin
                sh_reg <= s_axis_tdata;
                last_reg <= s_axis_tlast;
                if (!s_axis_tvalid) begin
                    // the complement of a good FCS is never right
                    state_reg <= S_FCS;
                    fcs_reg <= crc_next;
                    drain_reg <= 1'b1;
                    underrun_reg <= 1'b1;
                end
            end else if (cnt_reg != MIN_BYTES) begin
                state_reg <= S_PAD;
                sh_reg <= 8'h00;
            end else begin
                state_reg <= S_FCS;
                fcs_reg <= ~crc_next;
            end
        end
    end
    S_FCS: begin
        fcs_reg <= fcs_reg >> 2;
        idx_reg <= idx_reg + 4'd1;
        if (idx_reg == 4'd15) begin
            state_reg <= S_IFG;
            // the gap is these cycles, plus one in S_IDLE
            ifg_reg <= IFG_CLKS - 6'd2;
        end
    end
    default: begin
        ifg_reg <= ifg_reg - 6'd1;
        if (ifg_reg == 6'd0) begin
            state_reg <= S_IDLE;
        end
    end
    endcase

    if (rst) begin
        state_reg <= S_IDLE;
        drain_reg <= 1'b0;
        tx_en_reg <= 1'b0;
        underrun_reg <= 1'b0;
    end
end

endmodule

`resetall
