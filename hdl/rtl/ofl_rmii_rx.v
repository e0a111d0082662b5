`resetall
`timescale 1ns / 1ps
`default_nettype none

// RMII receive MAC, 100 Mb/s: a di-bit per 50 MHz reference clock, first bit in rxd[0]. Finds the
// SFD after the preamble, checks the FCS and strips it, and hands out the frame from the destination
// MAC on; it cannot be stalled (no tready), it offers a byte at most every fourth clock.
//
// The last byte of a frame carries tuser when the frame is bad: FCS wrong, RX_ER seen during the
// frame, or shorter than 64 bytes with its FCS (a collision fragment). Bits past the last whole
// byte (dribble) are ignored, the FCS decides. A frame too short to leave even one byte after its FCS
// (at most 4 bytes) gives no output at all, only a `frag` pulse.
//
// End of frame: when the PHY's elastic buffer still holds bits after the carrier has gone, CRS_DV
// toggles, low on the first and high on the second di-bit of each nibble (RMII 1.2). So a di-bit
// belongs to the frame when CRS_DV is high with it or with the next one; two low in a row end it.
// The inputs are registered first (in the I/O cells) and then looked at one di-bit ahead.
module ofl_rmii_rx (
    input  wire       clk,
    input  wire       rst,

    input  wire [1:0] rmii_rxd,
    input  wire       rmii_crs_dv,
    input  wire       rmii_rx_er,

    output wire [7:0] m_axis_tdata,
    output wire       m_axis_tvalid,
    output wire       m_axis_tlast,
    output wire       m_axis_tuser,

    output wire       frag
);

`include "ofl_crc32.vh"

localparam [1:0] S_IDLE = 2'd0, S_PRE = 2'd1, S_DATA = 2'd2, S_WAIT = 2'd3;
localparam [31:0] CRC_GOOD = 32'hDEBB20E3;

// the newest input (1) and the di-bit being decided (2)
reg [1:0] rxd1_reg = 2'b00, rxd2_reg = 2'b00;
reg dv1_reg = 1'b0, dv2_reg = 1'b0, er1_reg = 1'b0, er2_reg = 1'b0;

reg [1:0] state_reg = S_IDLE;
reg seen_pre_reg = 1'b0;
reg [1:0] ph_reg = 2'd0;               // di-bits of the current byte already in
reg [5:0] sh_reg = 6'd0;
reg [39:0] dl_reg = 40'd0;             // the last five bytes, oldest on top: the FCS and the byte before it
reg [6:0] cnt_reg = 7'd0;              // bytes, saturating at 127
reg [31:0] crc_reg = 32'hFFFFFFFF;
reg [31:0] crc_byte_reg = 32'd0;       // the CRC at the last whole byte (dribble bits left out)
reg err_reg = 1'b0;

reg [7:0] out_data_reg = 8'd0;
reg out_valid_reg = 1'b0, out_last_reg = 1'b0, out_user_reg = 1'b0;
reg frag_reg = 1'b0;

wire in_frame = dv2_reg || dv1_reg;
wire [7:0] byte_in = {rxd2_reg, sh_reg};

assign m_axis_tdata = out_data_reg;
assign m_axis_tvalid = out_valid_reg;
assign m_axis_tlast = out_last_reg;
assign m_axis_tuser = out_user_reg;
assign frag = frag_reg;

always @(posedge clk) begin
    rxd1_reg <= rmii_rxd;
    dv1_reg <= rmii_crs_dv;
    er1_reg <= rmii_rx_er;
    rxd2_reg <= rxd1_reg;
    dv2_reg <= dv1_reg;
    er2_reg <= er1_reg;

    out_valid_reg <= 1'b0;
    out_last_reg <= 1'b0;
    out_user_reg <= 1'b0;
    frag_reg <= 1'b0;

    case (state_reg)
    S_IDLE: begin
        seen_pre_reg <= 1'b0;
        if (dv2_reg) begin
            state_reg <= S_PRE;
            seen_pre_reg <= rxd2_reg == 2'b01;
        end
    end
    S_PRE: begin
        // CRS_DV may rise with zeros before the preamble; the SFD is the first 11 after a 01
        if (!in_frame) begin
            state_reg <= S_IDLE;
        end else if (rxd2_reg == 2'b01) begin
            seen_pre_reg <= 1'b1;
        end else if (rxd2_reg == 2'b11 && seen_pre_reg) begin
            state_reg <= S_DATA;
            ph_reg <= 2'd0;
            cnt_reg <= 7'd0;
            crc_reg <= 32'hFFFFFFFF;
            err_reg <= 1'b0;
        end else if (rxd2_reg != 2'b00) begin
            // neither preamble nor SFD: not a frame we can find the start of
            state_reg <= S_WAIT;
        end
    end
    S_DATA: begin
        if (!in_frame) begin
            state_reg <= S_IDLE;
            if (cnt_reg >= 7'd5) begin
                out_valid_reg <= 1'b1;
                out_last_reg <= 1'b1;
                out_data_reg <= dl_reg[39:32];
                out_user_reg <= err_reg || crc_byte_reg != CRC_GOOD || cnt_reg < 7'd64;
            end else begin
                frag_reg <= 1'b1;
            end
        end else begin
            ph_reg <= ph_reg + 2'd1;
            sh_reg <= byte_in[7:2];
            crc_reg <= crc32_dibit(crc_reg, rxd2_reg);
            if (er2_reg) begin
                err_reg <= 1'b1;
            end
            if (ph_reg == 2'd3) begin
                crc_byte_reg <= crc32_dibit(crc_reg, rxd2_reg);
                dl_reg <= {dl_reg[31:0], byte_in};
                if (cnt_reg != 7'd127) begin
                    cnt_reg <= cnt_reg + 7'd1;
                end
                if (cnt_reg >= 7'd5) begin
                    out_valid_reg <= 1'b1;
                    out_data_reg <= dl_reg[39:32];
                end
            end
        end
    end
    default: begin
        if (!in_frame) begin
            state_reg <= S_IDLE;
        end
    end
    endcase

    if (rst) begin
        dv1_reg <= 1'b0;
        dv2_reg <= 1'b0;
        state_reg <= S_IDLE;
        out_valid_reg <= 1'b0;
        frag_reg <= 1'b0;
    end
end

endmodule

`resetall
