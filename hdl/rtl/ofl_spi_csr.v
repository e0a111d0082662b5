`resetall
`timescale 1ns / 1ps
`default_nettype none

// SPI slave (mode 0) in front of the CSR bus: what a host reaches through an FTDI FT2232H/FT232H in MPSSE mode
// (docs/dataplane.md, "The USB transport and the SPI bridge"). It carries the command framing every remote
// transport shares (request: magic, version, sequence, commands of op/count/address/data; response: magic,
// version, status, sequence, accesses run, words read), so a batch of register accesses is one SPI transaction
// out and one back.
//
// SPI transactions (chip select low .. high), first byte an opcode:
//   0x01 + request bytes   the request is stored (REQ_WORDS words at most); when chip select rises it is checked
//                          whole, and only if it is well formed and in sequence does it run on the CSR bus.
//   0x02 + n bytes         the host reads: one marker byte, then the response (16-byte header and the words read).
//                          Marker 0xA5: the response follows. 0x3C: still running, read again. 0x96: nothing to
//                          answer (no request since reset). Every byte after a non-0xA5 marker repeats it.
// Any other opcode is ignored (its bytes are dropped), as is a request sent while one still runs.
//
// The pins are sampled with the core clock (two flip-flops each), so SCK must be at most clk / 8: a half
// period of 4 clocks covers the synchronizer and the one-clock edge detection with a clock to spare.
//
// Sequence numbers: a request must carry the one after the last that ran, except sequence 0, which starts a link
// (a host that opened the cable cannot know where the previous one stopped); hosts skip 0 when they wrap.
//
// Checking before running is what makes the bridge answer as the TCP server does: a malformed, too large or
// out-of-sequence request runs nothing and does not move the expected sequence number. A register access that
// gets no ack within TIMEOUT cycles stops the batch with status "no acknowledgement" and says how many ran.
module ofl_spi_csr #(
    parameter REQ_WORDS = 512,
    parameter RESP_WORDS = 256,
    parameter TIMEOUT = 64
) (
    input  wire        clk,
    input  wire        rst,

    input  wire        spi_sck,
    input  wire        spi_cs_n,
    input  wire        spi_mosi,
    output wire        spi_miso,
    // MISO is driven only while this slave is selected (a board wrapper makes it tri-state otherwise)
    output wire        spi_miso_oe,

    output wire        csr_req,
    output wire        csr_we,
    output wire [15:0] csr_addr,
    output wire [31:0] csr_wdata,
    input  wire        csr_ack,
    input  wire [31:0] csr_rdata,

    // a request is being checked or run (for a status LED or a test)
    output wire        busy
);

localparam QW = $clog2(REQ_WORDS);
localparam SW = $clog2(RESP_WORDS);
localparam TW = $clog2(TIMEOUT + 1);
localparam [31:0] TIMEOUT_M1 = TIMEOUT - 1;
localparam [TW-1:0] TIMEOUT_LAST = TIMEOUT_M1[TW-1:0];
localparam [31:0] RESP_WORDS_32 = RESP_WORDS;
localparam [31:0] REQ_WORDS_32 = REQ_WORDS;

localparam [7:0] OPC_REQUEST = 8'h01;
localparam [7:0] OPC_RESPONSE = 8'h02;
localparam [7:0] MARK_READY = 8'hA5;
localparam [7:0] MARK_BUSY = 8'h3C;
localparam [7:0] MARK_NONE = 8'h96;

localparam [7:0] ST_OK = 8'd0;
localparam [7:0] ST_MALFORMED = 8'd1;
localparam [7:0] ST_VERSION = 8'd2;
localparam [7:0] ST_SEQ_GAP = 8'd3;
localparam [7:0] ST_NO_ACK = 8'd4;
localparam [7:0] ST_TOO_LARGE = 8'd5;

`ifndef SYNTHESIS
initial begin
    if (REQ_WORDS < 8 || (1 << QW) != REQ_WORDS) begin
        $error("ofl_spi_csr: REQ_WORDS must be a power of two, at least 8");
        $finish;
    end
    if (RESP_WORDS < 2 || (1 << SW) != RESP_WORDS) begin
        $error("ofl_spi_csr: RESP_WORDS must be a power of two, at least 2");
        $finish;
    end
    if (TIMEOUT < 8) begin
        $error("ofl_spi_csr: TIMEOUT must be at least 8 cycles (the CSR block may take 4)");
        $finish;
    end
end
`endif

// ---------------------------------------------------------------- pins into the core clock
reg [2:0] sck_sync_reg = 3'b000;
reg [1:0] cs_sync_reg = 2'b11;
reg [1:0] mosi_sync_reg = 2'b00;
reg selected_reg = 1'b0;

always @(posedge clk) begin
    sck_sync_reg <= {sck_sync_reg[1:0], spi_sck};
    cs_sync_reg <= {cs_sync_reg[0], spi_cs_n};
    mosi_sync_reg <= {mosi_sync_reg[0], spi_mosi};
    selected_reg <= !cs_sync_reg[1];
    if (rst) begin
        sck_sync_reg <= 3'b000;
        cs_sync_reg <= 2'b11;
        selected_reg <= 1'b0;
    end
end

wire selected = !cs_sync_reg[1];
wire sel_start = selected && !selected_reg;
wire sel_end = !selected && selected_reg;
wire sck_rise = selected && sck_sync_reg[1] && !sck_sync_reg[2];
wire sck_fall = selected && !sck_sync_reg[1] && sck_sync_reg[2];

// ---------------------------------------------------------------- memories (simple dual port, registered read)
reg [31:0] req_mem[0:REQ_WORDS-1];
reg [31:0] resp_mem[0:RESP_WORDS-1];
reg req_we;
reg [QW-1:0] req_waddr;
reg [31:0] req_wdata;
reg [QW-1:0] req_raddr;
reg [31:0] req_q;
reg resp_we;
reg [SW-1:0] resp_waddr;
reg [31:0] resp_wdata;
reg [SW-1:0] resp_raddr;
reg [31:0] resp_q;

always @(posedge clk) begin
    if (req_we)
        req_mem[req_waddr] <= req_wdata;
    req_q <= req_mem[req_raddr];
    if (resp_we)
        resp_mem[resp_waddr] <= resp_wdata;
    resp_q <= resp_mem[resp_raddr];
end

// ---------------------------------------------------------------- SPI shift side
reg [2:0] bit_reg = 3'd0;
reg [7:0] rx_sr_reg = 8'd0;
reg [7:0] tx_sr_reg = 8'd0;
reg first_reg = 1'b1;                 // the next byte completed is the opcode
reg [7:0] opcode_reg = 8'd0;
reg [1:0] lane_reg = 2'd0;            // bytes of the current request word already taken
reg [23:0] word_sr_reg = 24'd0;
reg [QW:0] words_in_reg = {(QW + 1){1'b0}};
reg overflow_reg = 1'b0;              // more words than REQ_WORDS
reg take_reg = 1'b0;                  // this request transaction is stored (the bridge was idle when it began)
reg [31:0] out_idx_reg = 32'd0;       // response transaction: index of the byte to send next (0 = marker)
reg [7:0] mark_reg = MARK_NONE;       // the marker this read transaction answers with

// executor state seen by the shift side
reg busy_reg = 1'b0;
reg have_resp_reg = 1'b0;
reg [7:0] status_reg = ST_OK;
reg [31:0] seq_reg = 32'd0;
reg [31:0] completed_reg = 32'd0;
reg [SW:0] reads_reg = {(SW + 1){1'b0}};

wire [7:0] rx_byte = {rx_sr_reg[6:0], mosi_sync_reg[1]};
wire [31:0] words_out = (status_reg == ST_OK) ? {{(31 - SW){1'b0}}, reads_reg} : 32'd0;

// header byte k (0..15) is sent at out_idx k + 1, so the word is chosen from out_idx - 1
reg [31:0] hdr_word_m1;
wire [31:0] hdr_idx = out_idx_reg - 32'd1;
always @* begin
    case (hdr_idx[3:2])
        2'd0: hdr_word_m1 = {16'h4F52, 8'd1, status_reg};
        2'd1: hdr_word_m1 = seq_reg;
        2'd2: hdr_word_m1 = completed_reg;
        default: hdr_word_m1 = words_out;
    endcase
end

// the byte a response transaction sends at out_idx_reg (resp_q holds its word: see the read address below)
reg [7:0] tx_byte;
wire [31:0] data_idx = out_idx_reg - 32'd17;
always @* begin
    tx_byte = mark_reg;
    if (mark_reg == MARK_READY && out_idx_reg != 32'd0) begin
        if (out_idx_reg < 32'd17) begin
            // header bytes 1..16 are header bytes 0..15: index - 1
            case (out_idx_reg[1:0])
                2'd1: tx_byte = hdr_word_m1[31:24];
                2'd2: tx_byte = hdr_word_m1[23:16];
                2'd3: tx_byte = hdr_word_m1[15:8];
                default: tx_byte = hdr_word_m1[7:0];
            endcase
        end else begin
            case (data_idx[1:0])
                2'd0: tx_byte = resp_q[31:24];
                2'd1: tx_byte = resp_q[23:16];
                2'd2: tx_byte = resp_q[15:8];
                default: tx_byte = resp_q[7:0];
            endcase
        end
    end
end

wire req_done_pulse = sel_end && first_reg == 1'b0 && opcode_reg == OPC_REQUEST && take_reg;

always @(posedge clk) begin
    req_we <= 1'b0;
    if (sel_start) begin
        bit_reg <= 3'd0;
        first_reg <= 1'b1;
        lane_reg <= 2'd0;
        words_in_reg <= {(QW + 1){1'b0}};
        overflow_reg <= 1'b0;
        out_idx_reg <= 32'd0;
        tx_sr_reg <= 8'd0;
        take_reg <= !busy_reg;
    end
    if (sck_rise) begin
        rx_sr_reg <= rx_byte;
        bit_reg <= bit_reg + 1'b1;
        if (bit_reg == 3'd7) begin
            if (first_reg) begin
                first_reg <= 1'b0;
                opcode_reg <= rx_byte;
                out_idx_reg <= 32'd0;
                mark_reg <= busy_reg ? MARK_BUSY : have_resp_reg ? MARK_READY : MARK_NONE;
            end else if (opcode_reg == OPC_REQUEST) begin
                lane_reg <= lane_reg + 1'b1;
                word_sr_reg <= {word_sr_reg[15:0], rx_byte};
                if (lane_reg == 2'd3) begin
                    if (words_in_reg == REQ_WORDS_32[QW:0]) begin
                        overflow_reg <= 1'b1;
                    end else begin
                        req_we <= take_reg;
                        req_waddr <= words_in_reg[QW-1:0];
                        req_wdata <= {word_sr_reg, rx_byte};
                        words_in_reg <= words_in_reg + 1'b1;
                    end
                end
            end else if (opcode_reg == OPC_RESPONSE) begin
                out_idx_reg <= out_idx_reg + 32'd1;
            end
        end
    end
    if (sck_fall && bit_reg == 3'd0 && !first_reg) begin
        // the falling edge after a byte's eighth rising edge puts the next byte's first bit out
        tx_sr_reg <= opcode_reg == OPC_RESPONSE ? tx_byte : 8'd0;
    end else if (sck_fall) begin
        tx_sr_reg <= {tx_sr_reg[6:0], 1'b0};
    end
    if (rst) begin
        bit_reg <= 3'd0;
        first_reg <= 1'b1;
        opcode_reg <= 8'd0;
        take_reg <= 1'b0;
        mark_reg <= MARK_NONE;
    end
end

// the response word holding the byte at out_idx; the RAM's registered read has it by the falling edge
always @* begin
    resp_raddr = data_idx[SW+1:2];
end

assign spi_miso = tx_sr_reg[7];
assign spi_miso_oe = selected;

// ---------------------------------------------------------------- executor
localparam [3:0] EX_IDLE = 4'd0;
localparam [3:0] EX_ISSUE = 4'd1;   // a request word's read address is set
localparam [3:0] EX_WORD = 4'd2;    // the word is in req_q
localparam [3:0] EX_CSR = 4'd3;     // csr_req held until ack or timeout
localparam [3:0] EX_GAP = 4'd4;     // req low for one cycle between accesses
localparam [3:0] EX_DONE = 4'd5;
localparam [3:0] EX_WAIT = 4'd6;    // the RAM's registered read: one cycle

localparam [2:0] F_HDR0 = 3'd0;
localparam [2:0] F_HDR1 = 3'd1;
localparam [2:0] F_HDR2 = 3'd2;
localparam [2:0] F_CMD0 = 3'd3;
localparam [2:0] F_CMD1 = 3'd4;
localparam [2:0] F_DATA = 3'd5;
localparam [2:0] F_END = 3'd6;

reg [3:0] ex_reg = EX_IDLE;
reg live_reg = 1'b0;                  // 0: checking pass (nothing touches the bus), 1: running pass
reg [2:0] field_reg = F_HDR0;
reg [QW:0] rd_idx_reg = {(QW + 1){1'b0}};
reg [QW:0] nwords_reg = {(QW + 1){1'b0}};
reg bad_magic_reg = 1'b0;
reg bad_version_reg = 1'b0;
reg bad_len_reg = 1'b0;
reg too_long_reg = 1'b0;
reg [15:0] cmds_reg = 16'd0;
reg [7:0] op_reg = 8'd0;
reg [15:0] left_reg = 16'd0;
reg [15:0] addr_reg = 16'd0;
reg [TW-1:0] timer_reg = {TW{1'b0}};
reg req_reg = 1'b0;
reg we_reg = 1'b0;
reg [31:0] wdata_reg = 32'd0;
reg [31:0] new_seq_reg = 32'd0;
reg [31:0] last_seq_reg = 32'd0;
reg have_last_reg = 1'b0;
reg [SW:0] rcount_reg = {(SW + 1){1'b0}};   // reads so far in this pass
reg [31:0] done_reg = 32'd0;                // accesses run so far

assign csr_req = req_reg;
assign csr_we = we_reg;
assign csr_addr = {addr_reg[15:2], 2'b00};
assign csr_wdata = wdata_reg;
assign busy = busy_reg;

wire op_write = op_reg == 8'd1 || op_reg == 8'd3;
wire op_step = op_reg == 8'd1 || op_reg == 8'd2;
wire [7:0] w_op = req_q[31:24];
wire [SW+16:0] reads_after = {{16{1'b0}}, rcount_reg} + {{(SW + 1){1'b0}}, req_q[15:0]};
wire [SW+16:0] reads_after_cmd = {{16{1'b0}}, rcount_reg} + {{(SW + 1){1'b0}}, left_reg};

// finish: the response header takes the pass's outcome
task finish;
    input [7:0] status;
    begin
        status_reg <= status;
        seq_reg <= new_seq_reg;
        completed_reg <= done_reg;
        reads_reg <= rcount_reg;
        if (status == ST_OK || status == ST_NO_ACK) begin
            last_seq_reg <= new_seq_reg;
            have_last_reg <= 1'b1;
        end
        ex_reg <= EX_DONE;
    end
endtask

always @(posedge clk) begin
    resp_we <= 1'b0;
    case (ex_reg)
        EX_IDLE: begin
            if (req_done_pulse) begin
                busy_reg <= 1'b1;
                live_reg <= 1'b0;
                field_reg <= F_HDR0;
                rd_idx_reg <= {(QW + 1){1'b0}};
                nwords_reg <= words_in_reg;
                bad_len_reg <= lane_reg != 2'd0;
                too_long_reg <= overflow_reg;
                rcount_reg <= {(SW + 1){1'b0}};
                done_reg <= 32'd0;
                new_seq_reg <= 32'd0;
                ex_reg <= EX_ISSUE;
            end
        end
        EX_ISSUE: begin
            if (rd_idx_reg == nwords_reg) begin
                // the stored words are all read: the request must end exactly here
                if (field_reg == F_HDR0 || field_reg == F_HDR1 || field_reg == F_HDR2) begin
                    finish(ST_MALFORMED);
                end else if (too_long_reg) begin
                    finish(ST_TOO_LARGE);
                end else if (field_reg != F_END || bad_len_reg) begin
                    finish(ST_MALFORMED);
                end else if (!live_reg) begin
                    // checked whole: run it
                    live_reg <= 1'b1;
                    field_reg <= F_HDR0;
                    rd_idx_reg <= {(QW + 1){1'b0}};
                    rcount_reg <= {(SW + 1){1'b0}};
                end else begin
                    finish(ST_OK);
                end
            end else if (field_reg == F_END) begin
                finish(too_long_reg ? ST_TOO_LARGE : ST_MALFORMED);
            end else begin
                req_raddr <= rd_idx_reg[QW-1:0];
                ex_reg <= EX_WAIT;
            end
        end
        EX_WAIT: ex_reg <= EX_WORD;
        EX_WORD: begin
            rd_idx_reg <= rd_idx_reg + 1'b1;
            ex_reg <= EX_ISSUE;
            case (field_reg)
                F_HDR0: begin
                    bad_magic_reg <= req_q[31:16] != 16'h4F43;
                    bad_version_reg <= req_q[15:8] != 8'd1;
                    field_reg <= F_HDR1;
                end
                F_HDR1: begin
                    new_seq_reg <= req_q;
                    field_reg <= F_HDR2;
                end
                F_HDR2: begin
                    cmds_reg <= req_q[31:16];
                    field_reg <= req_q[31:16] == 16'd0 ? F_END : F_CMD0;
                    if (bad_magic_reg)
                        finish(ST_MALFORMED);
                    else if (bad_version_reg)
                        finish(ST_VERSION);
                    else if (too_long_reg)
                        finish(ST_TOO_LARGE);
                    else if (!live_reg && have_last_reg && new_seq_reg != 32'd0 && new_seq_reg != last_seq_reg + 32'd1)
                        finish(ST_SEQ_GAP);
                end
                F_CMD0: begin
                    op_reg <= w_op;
                    left_reg <= req_q[15:0];
                    field_reg <= F_CMD1;
                    if (w_op < 8'd1 || w_op > 8'd4 || req_q[23:16] != 8'd0 || req_q[15:0] == 16'd0)
                        finish(ST_MALFORMED);
                    else if ((w_op == 8'd2 || w_op == 8'd4) && reads_after > {{16{1'b0}}, RESP_WORDS_32[SW:0]})
                        finish(ST_TOO_LARGE);
                end
                F_CMD1: begin
                    // the CSR window is 64 KiB: an address above it is not a register of this device
                    addr_reg <= req_q[15:0];
                    if (req_q[31:16] != 16'd0) begin
                        finish(ST_MALFORMED);
                    end else if (op_write) begin
                        field_reg <= F_DATA;
                    end else if (!live_reg) begin
                        rcount_reg <= reads_after_cmd[SW:0];
                        cmds_reg <= cmds_reg - 1'b1;
                        field_reg <= cmds_reg == 16'd1 ? F_END : F_CMD0;
                    end else begin
                        // reads run now, one after another, with no request word needed
                        we_reg <= 1'b0;
                        req_reg <= 1'b1;
                        timer_reg <= {TW{1'b0}};
                        ex_reg <= EX_CSR;
                    end
                end
                F_DATA: begin
                    if (!live_reg) begin
                        left_reg <= left_reg - 1'b1;
                        if (left_reg == 16'd1) begin
                            cmds_reg <= cmds_reg - 1'b1;
                            field_reg <= cmds_reg == 16'd1 ? F_END : F_CMD0;
                        end
                    end else begin
                        we_reg <= 1'b1;
                        wdata_reg <= req_q;
                        req_reg <= 1'b1;
                        timer_reg <= {TW{1'b0}};
                        ex_reg <= EX_CSR;
                    end
                end
                default: finish(ST_MALFORMED);
            endcase
        end
        EX_CSR: begin
            if (csr_ack) begin
                req_reg <= 1'b0;
                done_reg <= done_reg + 32'd1;
                if (!we_reg) begin
                    resp_we <= 1'b1;
                    resp_waddr <= rcount_reg[SW-1:0];
                    resp_wdata <= csr_rdata;
                    rcount_reg <= rcount_reg + 1'b1;
                end
                ex_reg <= EX_GAP;
            end else if (timer_reg == TIMEOUT_LAST) begin
                req_reg <= 1'b0;
                finish(ST_NO_ACK);
            end else begin
                timer_reg <= timer_reg + 1'b1;
            end
        end
        EX_GAP: begin
            // one access done: the next address, and the next access or the next request word
            if (op_step)
                addr_reg <= addr_reg + 16'd4;
            left_reg <= left_reg - 1'b1;
            ex_reg <= EX_ISSUE;
            if (left_reg == 16'd1) begin
                cmds_reg <= cmds_reg - 1'b1;
                field_reg <= cmds_reg == 16'd1 ? F_END : F_CMD0;
            end else if (!op_write) begin
                req_reg <= 1'b1;
                timer_reg <= {TW{1'b0}};
                ex_reg <= EX_CSR;
            end
        end
        EX_DONE: begin
            busy_reg <= 1'b0;
            have_resp_reg <= 1'b1;
            ex_reg <= EX_IDLE;
        end
        default: ex_reg <= EX_IDLE;
    endcase
    if (rst) begin
        ex_reg <= EX_IDLE;
        busy_reg <= 1'b0;
        have_resp_reg <= 1'b0;
        have_last_reg <= 1'b0;
        req_reg <= 1'b0;
        we_reg <= 1'b0;
        status_reg <= ST_OK;
    end
end

// a register read's data lives in resp_mem; the request's overflow count and the response word at an index past
// the reads are never sent (the host reads exactly 16 + 4 * words bytes)
wire unused = ^{words_in_reg[QW], reads_after_cmd[SW+16:SW+1], data_idx[31:SW+2], hdr_idx[31:4], hdr_idx[1:0],
                rx_sr_reg[7]};

endmodule

`resetall
