// The decision record (ofl_engine -> decision FIFO -> ofl_dispatch), included inside both modules and the
// dispatcher's testbench so the layout has one definition.
//
// A decision carries no header bytes: the frame is stored once, whole, in the port's RX FIFO, and the
// dispatcher rewrites a forwarded frame in the stream from the few values below. Why: a 512-bit header
// per decision made the two decision FIFOs 589 bits wide (74 iCE40 block RAMs at 16 entries) and kept
// three 512-bit header registers in the engine.
//
// Bits 0..188 are a union, read according to FWD / ARP (multi-byte values big-endian: byte 0 of a MAC
// in bits 47..40):
//   forward:   DMAC, SMAC (next hop), NATIP, NATPORT, L4CS, HC (new IPv4 checksum), TTL (byte to send),
//              NAT_SRC / NAT_DST (NATIP replaces the source / destination address), NAT_PORT (NATPORT
//              replaces the port on that side), L4CS_TCP / L4CS_UDP (L4CS replaces the checksum at
//              L3 + 36 / L3 + 26)
//   ARP reply: SHA (request's sender MAC), VMAC, TPA (request's target IP = the VIP), TCI (the VLAN
//              tag's TCI, with VLAN), SPA (request's sender IP)
// each includer reads only its part of the record
/* verilator lint_off UNUSEDPARAM */
localparam DEC_DMAC = 0;
localparam DEC_SMAC = 48;
localparam DEC_NATIP = 96;
localparam DEC_NATPORT = 128;
localparam DEC_L4CS = 144;
localparam DEC_HC = 160;
localparam DEC_TTL = 176;
localparam DEC_NAT_SRC = 184;
localparam DEC_NAT_DST = 185;
localparam DEC_NAT_PORT = 186;
localparam DEC_L4CS_TCP = 187;
localparam DEC_L4CS_UDP = 188;
localparam DEC_SHA = 0;
localparam DEC_VMAC = 48;
localparam DEC_TPA = 96;
localparam DEC_TCI = 128;
localparam DEC_SPA = 144;
// every decision
localparam DEC_LEN = 189;         // frame length in bytes
localparam DEC_HAS_DATA = 205;    // the frame's words are in the RX FIFO (not an oversize drop)
localparam DEC_FWD = 206;
localparam DEC_FWD_PORT = 207;
localparam DEC_ARP = 208;
localparam DEC_HOST = 209;
localparam DEC_EVENT = 210;
localparam DEC_REASON = 211;
localparam DEC_AUX = 215;
localparam DEC_VLAN = 247;
localparam DEC_W = 248;
/* verilator lint_on UNUSEDPARAM */
