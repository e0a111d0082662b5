`resetall
`timescale 1ns / 1ps
`default_nettype none

// CSR block: address decode, the plain registers (ID, PARAM_*, TIME, TS_SHIFT, SYNC_PORT,
// watchdog, port MACs, groups, vMAC filter), the flow / next-hop staging registers, and the
// accesses that other blocks complete: table commands (ofl_engine), counters (ofl_counters),
// host queues (ofl_host_rx / ofl_host_tx). Plain accesses are acked the cycle after req, table
// accesses and counter LO reads three cycles after, host queue accesses as soon as the queue can answer.
module ofl_csr #(
    parameter DATA_W = 64,
    parameter FT_BUCKETS = 1024,
    parameter FT_STASH = 4,
    parameter GROUPS = 16,
    parameter VMACS = 64,
    parameter NEXTHOPS = 256,
    parameter MAX_FRAME = 9600,
    parameter HOST_RX_DEPTH = 4096,
    parameter HOST_TX_DEPTH = 2048,
    parameter LOOKUP_LATENCY = 4
) (
    input  wire                 clk,
    input  wire                 rst,

    input  wire                 csr_req,
    input  wire                 csr_we,
    input  wire [15:0]          csr_addr,
    input  wire [31:0]          csr_wdata,
    output wire                 csr_ack,
    output wire [31:0]          csr_rdata,

    output wire [47:0]          port_mac0,
    output wire [47:0]          port_mac1,
    // vMAC filter and group VIP lookups for the engine's accept (lk_en): per entry match bits,
    // registered on the edge where lk_en is 1 (the engine's stage A)
    input  wire                 lk_en,
    input  wire [47:0]          lk_dmac,
    input  wire [31:0]          lk_tpa,
    output reg  [VMACS-1:0]     lk_vmac_m,
    output reg  [GROUPS-1:0]    lk_grp_m,
    output wire [GROUPS-1:0]    grp_mode,
    output wire [GROUPS-1:0]    grp_copy,
    input  wire [5:0]           gid_sel,
    output wire [9:0]           gid_out,
    output wire [31:0]          sync_port,
    output wire [31:0]          now_ts,
    output wire [63:0]          now,
    output wire                 rr_clr,
    output wire [5:0]           rr_clr_grp,

    output wire                 tbl_req,
    output wire [3:0]           tbl_op,
    output reg  [31:0]          tbl_idx,
    output wire [164:0]         tbl_ft_w,
    output wire [96:0]          tbl_nh_w,
    output wire [31:0]          tbl_w32,
    input  wire                 tbl_done,
    input  wire [164:0]         tbl_ft_r,
    input  wire [31:0]          tbl_ls_r,
    input  wire [96:0]          tbl_nh_r,
    input  wire [31:0]          tbl_r32,

    output wire                 cnt_rd_req,
    output wire [5:0]           cnt_rd_idx,
    input  wire                 cnt_rd_ack,
    input  wire [63:0]          cnt_rd_val,
    output wire                 cnt_clr,
    output wire [5:0]           cnt_clr_idx,

    input  wire [15:0]          hrx_len,
    output wire                 hrx_rd_req,
    input  wire                 hrx_rd_ack,
    input  wire [31:0]          hrx_rd_data,

    output wire                 htx_wr_req,
    output wire [31:0]          htx_wr_data,
    input  wire                 htx_wr_ack,
    output wire                 htx_commit_req,
    output wire [31:0]          htx_commit_len,
    input  wire                 htx_commit_ack,
    input  wire [31:0]          htx_free
);

`include "offload_regs.vh"

localparam [3:0] OP_FT_WRITE = 4'd1;
localparam [3:0] OP_FT_READ = 4'd2;
localparam [3:0] OP_FT_INV = 4'd3;
localparam [3:0] OP_NH_WRITE = 4'd4;
localparam [3:0] OP_NH_READ = 4'd5;
localparam [3:0] OP_SLOT_WRITE = 4'd6;
localparam [3:0] OP_SLOT_READ = 4'd7;
localparam [3:0] OP_CNT_WRITE = 4'd8;
localparam [3:0] OP_CNT_READ = 4'd9;

localparam GW = GROUPS > 1 ? $clog2(GROUPS) : 1;
localparam VW = VMACS > 1 ? $clog2(VMACS) : 1;

localparam [2:0] W_TABLE = 3'd0;
localparam [2:0] W_HRX = 3'd1;
localparam [2:0] W_HTX_DATA = 3'd2;
localparam [2:0] W_HTX_COMMIT = 3'd3;
// a counter's LO read: the counters live in block RAM behind a read-modify-write pipeline (ofl_counters)
localparam [2:0] W_CNT = 3'd4;

localparam [31:0] P_DATA_W = DATA_W;
localparam [31:0] P_FT_BUCKETS = FT_BUCKETS;
localparam [31:0] P_FT_STASH = FT_STASH;
localparam [31:0] P_GROUPS = GROUPS;
localparam [31:0] P_VMACS = VMACS;
localparam [31:0] P_NEXTHOPS = NEXTHOPS;
localparam [31:0] P_MAX_FRAME = MAX_FRAME;
localparam [31:0] P_HOST_RX_DEPTH = HOST_RX_DEPTH;
localparam [31:0] P_HOST_TX_DEPTH = HOST_TX_DEPTH;
localparam [31:0] P_LOOKUP_LATENCY = LOOKUP_LATENCY;

// ---------------------------------------------------------------- registers
reg [31:0] scratch_reg = 32'd0;
reg [31:0] ts_shift_reg = `OFL_REG_TS_SHIFT_RESET;
reg [31:0] sync_port_reg = `OFL_REG_SYNC_PORT_RESET;
reg [31:0] wd_timeout_reg = 32'd0;
reg [31:0] wd_cnt_reg = 32'd0;
reg wd_expired_reg = 1'b0;
reg [31:0] wd_expiries_reg = 32'd0;
reg [63:0] time_reg = 64'd0;
reg [31:0] time_hi_reg = 32'd0;
reg [31:0] cnt_hi_reg = 32'd0;
reg [47:0] port_mac0_reg = 48'd0;
reg [47:0] port_mac1_reg = 48'd0;
reg [47:0] vmac_reg[0:VMACS-1];
reg [VMACS-1:0] vmac_valid_reg = {VMACS{1'b0}};
reg [31:0] vip_reg[0:GROUPS-1];
reg [GROUPS-1:0] en_reg = {GROUPS{1'b0}};
reg [GROUPS-1:0] mode_reg = {GROUPS{1'b0}};
reg [GROUPS-1:0] copy_reg = {GROUPS{1'b0}};
reg [9:0] gid_reg[0:GROUPS-1];
reg rr_clr_reg = 1'b0;
reg [5:0] rr_clr_grp_reg = 6'd0;

// flow / next-hop staging, table addresses
reg [31:0] ft_index_reg = 32'd0;
reg [31:0] ft_sip_reg = 32'd0;
reg [31:0] ft_dip_reg = 32'd0;
reg [31:0] ft_ports_reg = 32'd0;
reg [7:0] ft_proto_reg = 8'd0;
reg ft_inport_reg = 1'b0;
reg ft_valid_reg = 1'b0;
reg [7:0] ft_nh_reg = 8'd0;
reg ft_ttl_reg = 1'b0;
reg [1:0] ft_nat_reg = 2'd0;
reg [31:0] ft_natip_reg = 32'd0;
reg [15:0] ft_natport_reg = 16'd0;
reg [31:0] ft_ls_reg = 32'd0;
reg [31:0] nh_index_reg = 32'd0;
reg [47:0] nh_dmac_reg = 48'd0;
reg [47:0] nh_smac_reg = 48'd0;
reg nh_port_reg = 1'b0;
reg [31:0] slot_addr_reg = 32'd0;
reg [31:0] arpcnt_addr_reg = 32'd0;

integer i;
initial begin
    for (i = 0; i < VMACS; i = i + 1) begin
        vmac_reg[i] = 48'd0;
    end
    for (i = 0; i < GROUPS; i = i + 1) begin
        vip_reg[i] = 32'd0;
        gid_reg[i] = 10'd0;
    end
end

// the compares run only in the cycle of a lookup
always @(posedge clk) begin
    if (lk_en) begin
        for (i = 0; i < VMACS; i = i + 1) begin
            lk_vmac_m[i] <= vmac_valid_reg[i] && vmac_reg[i] == lk_dmac;
        end
        for (i = 0; i < GROUPS; i = i + 1) begin
            lk_grp_m[i] <= en_reg[i] && vip_reg[i] == lk_tpa;
        end
    end
end
assign gid_out = gid_reg[gid_sel[GW-1:0]];

assign port_mac0 = port_mac0_reg;
assign port_mac1 = port_mac1_reg;
assign grp_mode = mode_reg;
assign grp_copy = copy_reg;
assign sync_port = sync_port_reg;
assign now = time_reg;
wire [63:0] ts_full = time_reg >> ts_shift_reg[5:0];
assign now_ts = ts_full[31:0];
assign rr_clr = rr_clr_reg;
assign rr_clr_grp = rr_clr_grp_reg;

// ---------------------------------------------------------------- decode
wire [15:0] a = csr_addr;
wire is_group = a[15:10] == 6'b000001;                      // 0x0400..0x07FF
wire [5:0] grp_n = a[9:4];
wire [GW-1:0] gi = grp_n[GW-1:0];
wire grp_ok = is_group && {26'd0, grp_n} < GROUPS && (a[3:0] == 4'h0 || a[3:0] == 4'h4);
wire is_vmac = a[15:11] == 5'b00001;                        // 0x0800..0x0FFF
wire [7:0] vmac_n = a[10:3];
wire [VW-1:0] vi = vmac_n[VW-1:0];
wire vmac_ok = is_vmac && {24'd0, vmac_n} < VMACS && a[1:0] == 2'd0;
wire is_cnt_port = a[15:9] == 7'b0001000;                   // 0x1000..0x11FF
wire is_cnt_glob = a[15:6] == 10'b0001001000;               // 0x1200..0x123F
wire cnt_ok = a[1:0] == 2'd0 && ((is_cnt_port && a[7] == 1'b0) || (is_cnt_glob && a[5:4] == 2'd0));
wire cnt_hi = a[2];
assign cnt_rd_idx = is_cnt_port ? {1'b0, a[8], a[6:3]} : {4'b1000, a[4:3]};

// accesses that complete elsewhere
reg long_op;
reg [2:0] long_kind;
reg [3:0] op_sel;
always @* begin
    long_op = 1'b0;
    long_kind = W_TABLE;
    op_sel = 4'd0;
    if (csr_req) case (a)
        `OFL_REG_FT_CMD: if (csr_we) begin
            case (csr_wdata)
                `OFL_FT_CMD_WRITE: op_sel = OP_FT_WRITE;
                `OFL_FT_CMD_READ: op_sel = OP_FT_READ;
                `OFL_FT_CMD_INVALIDATE: op_sel = OP_FT_INV;
                default: ;
            endcase
        end
        `OFL_REG_NH_CMD: if (csr_we) begin
            case (csr_wdata)
                `OFL_NH_CMD_WRITE: op_sel = OP_NH_WRITE;
                `OFL_NH_CMD_READ: op_sel = OP_NH_READ;
                default: ;
            endcase
        end
        `OFL_REG_SLOT_DATA: op_sel = csr_we ? OP_SLOT_WRITE : OP_SLOT_READ;
        `OFL_REG_ARPCNT_DATA: op_sel = csr_we ? OP_CNT_WRITE : OP_CNT_READ;
        `OFL_REG_HOST_RX_DATA: if (!csr_we) begin
            long_op = 1'b1;
            long_kind = W_HRX;
        end
        `OFL_REG_HOST_TX_DATA: if (csr_we) begin
            long_op = 1'b1;
            long_kind = W_HTX_DATA;
        end
        `OFL_REG_HOST_TX_COMMIT: if (csr_we) begin
            long_op = 1'b1;
            long_kind = W_HTX_COMMIT;
        end
        default: ;
    endcase
    if (csr_req && cnt_ok && !cnt_hi && !csr_we) begin
        long_op = 1'b1;
        long_kind = W_CNT;
    end
    if (op_sel != 4'd0) begin
        long_op = 1'b1;
    end
end

// plain reads (computed only while a request is present; group, vMAC and counter addresses lie
// outside every named register, so they are decoded first and apart from the case)
reg [31:0] rd;
always @* begin
    rd = 32'd0;
    if (!csr_req) begin
        rd = 32'd0;
    end else if (grp_ok) begin
        rd = a[2] ? {6'd0, gid_reg[gi], 13'd0, copy_reg[gi], mode_reg[gi], en_reg[gi]} : vip_reg[gi];
    end else if (vmac_ok) begin
        rd = a[2] ? {vmac_valid_reg[vi], 15'd0, vmac_reg[vi][47:32]} : vmac_reg[vi][31:0];
    end else if (cnt_ok) begin
        rd = cnt_hi_reg;
    end else begin
    case (a)
        `OFL_REG_ID: rd = `OFL_ID_VALUE;
        `OFL_REG_VERSION: rd = `OFL_VERSION_VALUE;
        `OFL_REG_SCRATCH: rd = scratch_reg;
        `OFL_REG_PARAM_DATA_W: rd = P_DATA_W;
        `OFL_REG_PARAM_FT_BUCKETS: rd = P_FT_BUCKETS;
        `OFL_REG_PARAM_FT_WAYS: rd = 32'd4;
        `OFL_REG_PARAM_FT_STASH: rd = P_FT_STASH;
        `OFL_REG_PARAM_GROUPS: rd = P_GROUPS;
        `OFL_REG_PARAM_SLOTS: rd = 32'd256;
        `OFL_REG_PARAM_VMACS: rd = P_VMACS;
        `OFL_REG_PARAM_NEXTHOPS: rd = P_NEXTHOPS;
        `OFL_REG_PARAM_MAX_FRAME: rd = P_MAX_FRAME;
        `OFL_REG_PARAM_HOST_RX_DEPTH: rd = P_HOST_RX_DEPTH;
        `OFL_REG_PARAM_LOOKUP_LATENCY: rd = P_LOOKUP_LATENCY;
        `OFL_REG_PARAM_HOST_TX_DEPTH: rd = P_HOST_TX_DEPTH;
        `OFL_REG_TIME_LO: rd = time_reg[31:0];
        `OFL_REG_TIME_HI: rd = time_hi_reg;
        `OFL_REG_TS_SHIFT: rd = ts_shift_reg;
        `OFL_REG_SYNC_PORT: rd = sync_port_reg;
        `OFL_REG_WDOG_TIMEOUT: rd = wd_timeout_reg;
        `OFL_REG_WDOG_STATUS: rd = {31'd0, wd_expired_reg};
        `OFL_REG_WDOG_EXPIRIES: rd = wd_expiries_reg;
        `OFL_REG_PORT_MAC_LO: rd = port_mac0_reg[31:0];
        `OFL_REG_PORT_MAC_HI: rd = {16'd0, port_mac0_reg[47:32]};
        `OFL_REG_PORT_MAC_LO + `OFL_REG_PORT_MAC_LO_STRIDE: rd = port_mac1_reg[31:0];
        `OFL_REG_PORT_MAC_HI + `OFL_REG_PORT_MAC_HI_STRIDE: rd = {16'd0, port_mac1_reg[47:32]};
        `OFL_REG_HOST_RX_LEN: rd = {16'd0, hrx_len};
        `OFL_REG_HOST_TX_FREE: rd = htx_free;
        `OFL_REG_FT_INDEX: rd = ft_index_reg;
        `OFL_REG_FT_SRC_IP: rd = ft_sip_reg;
        `OFL_REG_FT_DST_IP: rd = ft_dip_reg;
        `OFL_REG_FT_PORTS: rd = ft_ports_reg;
        `OFL_REG_FT_META: rd = {ft_valid_reg, 6'd0, ft_inport_reg, 16'd0, ft_proto_reg};
        `OFL_REG_FT_ACTION: rd = {21'd0, ft_nat_reg, ft_ttl_reg, ft_nh_reg};
        `OFL_REG_FT_NAT_IP: rd = ft_natip_reg;
        `OFL_REG_FT_NAT_PORT: rd = {16'd0, ft_natport_reg};
        `OFL_REG_FT_LAST_SEEN: rd = ft_ls_reg;
        `OFL_REG_NH_INDEX: rd = nh_index_reg;
        `OFL_REG_NH_DMAC_LO: rd = nh_dmac_reg[31:0];
        `OFL_REG_NH_DMAC_HI: rd = {16'd0, nh_dmac_reg[47:32]};
        `OFL_REG_NH_SMAC_LO: rd = nh_smac_reg[31:0];
        `OFL_REG_NH_SMAC_HI: rd = {16'd0, nh_smac_reg[47:32]};
        `OFL_REG_NH_PORT: rd = {31'd0, nh_port_reg};
        `OFL_REG_SLOT_ADDR: rd = slot_addr_reg;
        `OFL_REG_ARPCNT_ADDR: rd = arpcnt_addr_reg;
        default: ;
    endcase
    end
end

// ---------------------------------------------------------------- bus handshake
reg ack_reg = 1'b0;
reg pend_reg = 1'b0;
reg [2:0] kind_reg = W_TABLE;
reg [3:0] op_reg = 4'd0;
reg [31:0] rdata_reg = 32'd0;
reg tbl_req_reg = 1'b0;

wire start = csr_req && !ack_reg && !pend_reg;
wire plain = start && !long_op;
wire wr = plain && csr_we;

assign csr_ack = ack_reg;
assign csr_rdata = rdata_reg;

assign tbl_req = tbl_req_reg;
assign tbl_op = op_reg;
always @* begin
    case (op_reg)
        OP_FT_WRITE, OP_FT_READ, OP_FT_INV: tbl_idx = ft_index_reg;
        OP_NH_WRITE, OP_NH_READ: tbl_idx = nh_index_reg;
        OP_SLOT_WRITE, OP_SLOT_READ: tbl_idx = slot_addr_reg;
        default: tbl_idx = arpcnt_addr_reg;
    endcase
end
// flow entry as the engine stores it: {action(59), valid, key(105)}
assign tbl_ft_w = {ft_nh_reg, ft_ttl_reg, ft_nat_reg, ft_natip_reg, ft_natport_reg, ft_valid_reg,
                   ft_inport_reg, ft_sip_reg, ft_dip_reg, ft_proto_reg, ft_ports_reg};
assign tbl_nh_w = {nh_port_reg, nh_dmac_reg, nh_smac_reg};
assign tbl_w32 = csr_wdata;

assign hrx_rd_req = pend_reg && kind_reg == W_HRX;
assign htx_wr_req = pend_reg && kind_reg == W_HTX_DATA;
assign htx_wr_data = csr_wdata;
assign htx_commit_req = pend_reg && kind_reg == W_HTX_COMMIT;
assign htx_commit_len = csr_wdata;

assign cnt_rd_req = pend_reg && kind_reg == W_CNT;
assign cnt_clr = wr && cnt_ok && !cnt_hi;
assign cnt_clr_idx = cnt_rd_idx;

wire long_done = (kind_reg == W_TABLE && tbl_done) || (kind_reg == W_HRX && hrx_rd_ack) ||
                 (kind_reg == W_HTX_DATA && htx_wr_ack) || (kind_reg == W_HTX_COMMIT && htx_commit_ack) ||
                 (kind_reg == W_CNT && cnt_rd_ack);

always @(posedge clk) begin
    ack_reg <= 1'b0;
    rr_clr_reg <= 1'b0;
    if (plain) begin
        ack_reg <= 1'b1;
        rdata_reg <= csr_we ? 32'd0 : rd;
        if (!csr_we && a == `OFL_REG_TIME_LO) begin
            time_hi_reg <= time_reg[63:32];
        end
    end
    if (start && long_op) begin
        pend_reg <= 1'b1;
        kind_reg <= long_kind;
        op_reg <= op_sel;
        tbl_req_reg <= long_kind == W_TABLE;
    end
    if (pend_reg && long_done) begin
        pend_reg <= 1'b0;
        tbl_req_reg <= 1'b0;
        ack_reg <= 1'b1;
        rdata_reg <= 32'd0;
        case (kind_reg)
            W_HRX: rdata_reg <= hrx_rd_data;
            // the LO read latches HI: both halves of one 64-bit value
            W_CNT: begin
                rdata_reg <= cnt_rd_val[31:0];
                cnt_hi_reg <= cnt_rd_val[63:32];
            end
            W_TABLE: begin
                case (op_reg)
                    OP_FT_READ: begin
                        {ft_nh_reg, ft_ttl_reg, ft_nat_reg, ft_natip_reg, ft_natport_reg, ft_valid_reg,
                         ft_inport_reg, ft_sip_reg, ft_dip_reg, ft_proto_reg, ft_ports_reg} <= tbl_ft_r;
                        ft_ls_reg <= tbl_ls_r;
                    end
                    OP_NH_READ: {nh_port_reg, nh_dmac_reg, nh_smac_reg} <= tbl_nh_r;
                    OP_SLOT_READ: begin
                        rdata_reg <= tbl_r32;
                        slot_addr_reg <= slot_addr_reg + 32'd1;
                    end
                    OP_SLOT_WRITE: slot_addr_reg <= slot_addr_reg + 32'd1;
                    OP_CNT_READ: begin
                        rdata_reg <= tbl_r32;
                        arpcnt_addr_reg <= arpcnt_addr_reg + 32'd1;
                    end
                    OP_CNT_WRITE: arpcnt_addr_reg <= arpcnt_addr_reg + 32'd1;
                    default: ;
                endcase
            end
            default: ;
        endcase
    end
    if (wr) begin
        case (a)
            `OFL_REG_SCRATCH: scratch_reg <= csr_wdata;
            `OFL_REG_TS_SHIFT: ts_shift_reg <= csr_wdata;
            `OFL_REG_SYNC_PORT: sync_port_reg <= csr_wdata;
            `OFL_REG_PORT_MAC_LO: port_mac0_reg[31:0] <= csr_wdata;
            `OFL_REG_PORT_MAC_HI: port_mac0_reg[47:32] <= csr_wdata[15:0];
            `OFL_REG_PORT_MAC_LO + `OFL_REG_PORT_MAC_LO_STRIDE: port_mac1_reg[31:0] <= csr_wdata;
            `OFL_REG_PORT_MAC_HI + `OFL_REG_PORT_MAC_HI_STRIDE: port_mac1_reg[47:32] <= csr_wdata[15:0];
            `OFL_REG_FT_INDEX: ft_index_reg <= csr_wdata;
            `OFL_REG_FT_SRC_IP: ft_sip_reg <= csr_wdata;
            `OFL_REG_FT_DST_IP: ft_dip_reg <= csr_wdata;
            `OFL_REG_FT_PORTS: ft_ports_reg <= csr_wdata;
            `OFL_REG_FT_META: begin
                ft_proto_reg <= csr_wdata[`OFL_FT_META_PROTO_LSB +: 8];
                ft_inport_reg <= csr_wdata[`OFL_FT_META_INPORT_LSB];
                ft_valid_reg <= csr_wdata[`OFL_FT_META_VALID_LSB];
            end
            `OFL_REG_FT_ACTION: begin
                ft_nh_reg <= csr_wdata[`OFL_FT_ACTION_NH_LSB +: 8];
                ft_ttl_reg <= csr_wdata[`OFL_FT_ACTION_TTL_DEC_LSB];
                ft_nat_reg <= csr_wdata[`OFL_FT_ACTION_NAT_LSB +: 2];
            end
            `OFL_REG_FT_NAT_IP: ft_natip_reg <= csr_wdata;
            `OFL_REG_FT_NAT_PORT: ft_natport_reg <= csr_wdata[15:0];
            `OFL_REG_NH_INDEX: nh_index_reg <= csr_wdata;
            `OFL_REG_NH_DMAC_LO: nh_dmac_reg[31:0] <= csr_wdata;
            `OFL_REG_NH_DMAC_HI: nh_dmac_reg[47:32] <= csr_wdata[15:0];
            `OFL_REG_NH_SMAC_LO: nh_smac_reg[31:0] <= csr_wdata;
            `OFL_REG_NH_SMAC_HI: nh_smac_reg[47:32] <= csr_wdata[15:0];
            `OFL_REG_NH_PORT: nh_port_reg <= csr_wdata[0];
            `OFL_REG_SLOT_ADDR: slot_addr_reg <= csr_wdata;
            `OFL_REG_ARPCNT_ADDR: arpcnt_addr_reg <= csr_wdata;
            default: ;
        endcase
        // group and vMAC addresses lie outside every named register above
        if (grp_ok && !a[2]) begin
            vip_reg[gi] <= csr_wdata;
        end
        if (grp_ok && a[2]) begin
            en_reg[gi] <= csr_wdata[`OFL_GROUP_CFG_EN_LSB];
            mode_reg[gi] <= csr_wdata[`OFL_GROUP_CFG_MODE_LSB];
            copy_reg[gi] <= csr_wdata[`OFL_GROUP_CFG_COPY_LSB];
            gid_reg[gi] <= csr_wdata[`OFL_GROUP_CFG_GID_LSB +: 10];
            rr_clr_reg <= 1'b1;
            rr_clr_grp_reg <= grp_n;
        end
        if (vmac_ok && !a[2]) begin
            vmac_reg[vi][31:0] <= csr_wdata;
        end
        if (vmac_ok && a[2]) begin
            vmac_reg[vi][47:32] <= csr_wdata[`OFL_VMAC_HI_MAC_LSB +: 16];
            vmac_valid_reg[vi] <= csr_wdata[`OFL_VMAC_HI_VALID_LSB];
        end
    end
    if (rst) begin
        ack_reg <= 1'b0;
        pend_reg <= 1'b0;
        tbl_req_reg <= 1'b0;
        rr_clr_reg <= 1'b0;
        scratch_reg <= `OFL_REG_SCRATCH_RESET;
        ts_shift_reg <= `OFL_REG_TS_SHIFT_RESET;
        sync_port_reg <= `OFL_REG_SYNC_PORT_RESET;
        vmac_valid_reg <= {VMACS{1'b0}};
        en_reg <= {GROUPS{1'b0}};
        mode_reg <= {GROUPS{1'b0}};
        copy_reg <= {GROUPS{1'b0}};
        slot_addr_reg <= 32'd0;
        arpcnt_addr_reg <= 32'd0;
    end
end

// ---------------------------------------------------------------- TIME and watchdog
wire kick = wr && a == `OFL_REG_WDOG_KICK;
always @(posedge clk) begin
    time_reg <= time_reg + 64'd1;
    if (kick || (wr && a == `OFL_REG_WDOG_TIMEOUT)) begin
        wd_cnt_reg <= 32'd0;
    end else if (wd_timeout_reg != 32'd0 && !wd_expired_reg) begin
        wd_cnt_reg <= wd_cnt_reg + 32'd1;
    end
    if (kick) begin
        wd_expired_reg <= 1'b0;
    end else if (wd_timeout_reg != 32'd0 && !wd_expired_reg && wd_cnt_reg + 32'd1 >= wd_timeout_reg) begin
        wd_expired_reg <= 1'b1;
        wd_expiries_reg <= wd_expiries_reg + 32'd1;
    end
    if (wr && a == `OFL_REG_WDOG_TIMEOUT) begin
        wd_timeout_reg <= csr_wdata;
    end
    if (rst) begin
        time_reg <= 64'd0;
        wd_timeout_reg <= `OFL_REG_WDOG_TIMEOUT_RESET;
        wd_cnt_reg <= 32'd0;
        wd_expired_reg <= 1'b0;
        wd_expiries_reg <= 32'd0;
    end
end

wire unused = ^{ts_shift_reg[31:6], ts_full[63:32], gid_sel};

endmodule

`resetall
