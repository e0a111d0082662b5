// C ABI over the Verilated offload_top: the C# binding (Offload.HwModel) and the CLI call these.
//
// Frames are driven and collected here, inside the cycle loop, so a caller crosses the ABI once per
// batch of work instead of once per cycle. Nothing runs between calls: the model is a plain object and
// burns no CPU when idle.
//
// One cycle is: set inputs with clk low, eval (combinational outputs settle), sample handshakes, clk
// high, eval (registers update). That is two evals per cycle, the fewest that keep inputs and outputs
// of one cycle consistent.

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>
#include <vector>

#include "Vofl_axil_csr.h"
#include "Vofl_spi_csr.h"
#include "Voffload_top.h"
#include "ofmodel.h"
#include "spi_flash.h"
#include "verilated.h"

#ifndef OFM_DATA_W
#error "build with -DOFM_DATA_W=<width>, the same value as -GDATA_W"
#endif

static_assert(OFM_DATA_W == 8 || OFM_DATA_W == 16 || OFM_DATA_W == 32 || OFM_DATA_W == 64,
              "the shim moves a whole word in one integer, so DATA_W is at most 64");
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "words are filled with memcpy, which puts byte 0 in tdata[7:0] only on a little-endian host");

namespace {

constexpr unsigned kBytes = OFM_DATA_W / 8;
constexpr uint32_t kFullKeep = (1u << kBytes) - 1u;
constexpr int kCsrTimeout = 64;
// An AXI4-Lite access takes about 7 cycles and the slave answers by itself after its own CSR timeout
// (64 cycles), so a channel still silent after this many cycles means the slave is broken.
constexpr int kAxilTimeout = 256;
constexpr int kResetCycles = 8;
// run_until_idle needs `idle` and an empty ingress for this many cycles in a row, because a frame can
// be between two stages for a cycle while every FIFO reports empty.
constexpr int kIdleStreak = 4;

// The type Verilator chose for a DATA_W-bit port (CData, SData, IData or QData).
// (Verilator 5 exposes ports as references into the model's storage.)
using Word = std::remove_reference_t<decltype(std::declval<Voffload_top&>().s_axis_rx0_tdata)>;
using Keep = std::remove_reference_t<decltype(std::declval<Voffload_top&>().s_axis_rx0_tkeep)>;

// Frames one after another in one byte vector; compacted when the consumed head grows large, so a
// steady stream of push/pop does not allocate.
struct FrameQueue {
    std::vector<uint8_t> bytes;
    std::deque<uint32_t> lengths;
    size_t head = 0;  // offset of the first byte of the front frame

    bool empty() const { return lengths.empty(); }
    size_t count() const { return lengths.size(); }
    const uint8_t* front() const { return bytes.data() + head; }
    uint32_t front_len() const { return lengths.front(); }

    void push(const uint8_t* data, uint32_t len) {
        bytes.insert(bytes.end(), data, data + len);
        lengths.push_back(len);
    }
    void pop() {
        head += lengths.front();
        lengths.pop_front();
        if (lengths.empty()) {
            bytes.clear();
            head = 0;
        } else if (head > 65536 && head > bytes.size() / 2) {
            bytes.erase(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(head));
            head = 0;
        }
    }
    void clear() {
        bytes.clear();
        lengths.clear();
        head = 0;
    }
};

using Stats = ofm_port_stats;

// Pointers into the Verilated model's port fields, so both ports share one code path.
struct RxPins {
    Word* tdata;
    Keep* tkeep;
    CData* tvalid;
    CData* tready;
    CData* tlast;
};
struct TxPins {
    Word* tdata;
    Keep* tkeep;
    CData* tvalid;
    CData* tready;
    CData* tlast;
};

struct RxPort {
    RxPins pins{};
    FrameQueue queue;
    uint32_t offset = 0;  // bytes of the front frame already accepted
    Stats* stats = nullptr;
};

struct TxPort {
    TxPins pins{};
    FrameQueue done;
    std::vector<uint8_t> current;  // frame being collected: its first cur_len bytes
    size_t cur_len = 0;
    uint32_t ready_pattern = 0xFFFFFFFFu;
    uint64_t violations = 0;
    // what was offered last cycle without a handshake: AXI-Stream forbids changing or withdrawing it
    bool stalled = false;
    Word stalled_data = 0;
    Keep stalled_keep = 0;
    bool stalled_last = false;
};

}  // namespace

struct ofm {
    std::unique_ptr<VerilatedContext> ctx;
    std::unique_ptr<Voffload_top> top;
    // The AXI4-Lite slave, a model of its own: clocked and wired to top's CSR port only inside
    // ofm_axil_* (see axil_access), so every other call runs top exactly as it ran without it.
    std::unique_ptr<Vofl_axil_csr> axil;
    // The SPI bridge (what an FTDI's MPSSE drives on a small board), wired the same way inside ofm_spi_drive.
    std::unique_ptr<Vofl_spi_csr> spi;
    uint64_t cycles = 0;
    RxPort rx[2];
    TxPort tx[2];
    Stats stats[2]{};
    bool csr_ack = false;
    uint32_t csr_rdata = 0;
    // the configuration flash on offload_top's flash pins (behavioural, spi_flash.h)
    SpiFlash flash;
};

namespace {

inline Word load_word(const uint8_t* p, unsigned n) {
    Word w = 0;
    // x86 and ARM hosts are little-endian: byte 0 lands in bits 7..0, the lane order of the contract.
    std::memcpy(&w, p, n);
    return w;
}

inline void drive_rx(RxPort& port) {
    RxPins& p = port.pins;
    if (port.queue.empty()) {
        *p.tvalid = 0;
        *p.tlast = 0;
        return;
    }
    uint32_t len = port.queue.front_len();
    uint32_t left = len - port.offset;
    unsigned n = left < kBytes ? left : kBytes;
    *p.tdata = load_word(port.queue.front() + port.offset, n);
    *p.tkeep = static_cast<Keep>(n == kBytes ? kFullKeep : ((1u << n) - 1u));
    *p.tlast = left <= kBytes;
    *p.tvalid = 1;
}

inline void sample_rx(ofm* m, int i) {
    RxPort& port = m->rx[i];
    RxPins& p = port.pins;
    if (!*p.tvalid)
        return;
    Stats& s = m->stats[i];
    if (!*p.tready) {
        s.rx_stall_cycles++;
        return;
    }
    s.rx_words++;
    if (*p.tlast) {
        s.rx_frames++;
        port.offset = 0;
        port.queue.pop();
    } else {
        port.offset += kBytes;
    }
}

inline unsigned keep_bytes(uint32_t keep, bool last, uint64_t& violations) {
    if (keep == kFullKeep)
        return kBytes;
    // Only the last word may be partial, and its bytes must be contiguous from lane 0.
    unsigned n = static_cast<unsigned>(__builtin_popcount(keep));
    if (!last || keep == 0 || keep != ((1u << n) - 1u))
        violations++;
    return n;
}

inline void sample_tx(ofm* m, int i, uint64_t cycle) {
    TxPort& port = m->tx[i];
    TxPins& p = port.pins;
    if (port.stalled) {
        if (!*p.tvalid || *p.tdata != port.stalled_data || *p.tkeep != port.stalled_keep ||
            static_cast<bool>(*p.tlast) != port.stalled_last)
            port.violations++;
        port.stalled = false;
    }
    if (!*p.tvalid)
        return;
    if (!*p.tready) {
        port.stalled = true;
        port.stalled_data = *p.tdata;
        port.stalled_keep = *p.tkeep;
        port.stalled_last = *p.tlast;
        return;
    }
    Stats& s = m->stats[i];
    bool last = *p.tlast;
    unsigned n = keep_bytes(*p.tkeep, last, port.violations);
    Word w = *p.tdata;
    size_t at = port.cur_len;
    // sized up front for any legal frame; resizing per word would zero-fill every byte first
    if (at + kBytes > port.current.size())
        port.current.resize(2 * port.current.size());
    std::memcpy(port.current.data() + at, &w, n);
    port.cur_len = at + n;
    if (s.tx_words == 0)
        s.tx_first_cycle = cycle;
    s.tx_last_cycle = cycle;
    s.tx_words++;
    if (last) {
        s.tx_frames++;
        port.done.push(port.current.data(), static_cast<uint32_t>(port.cur_len));
        port.cur_len = 0;
    }
}

// One clock cycle. `cycle` numbers start at 1: a handshake is stamped with the number of the rising
// edge that completes it, so 0 can mean "never" in the stats.
inline void tick(ofm* m) {
    Voffload_top* t = m->top.get();
    uint64_t c = m->cycles;
    drive_rx(m->rx[0]);
    drive_rx(m->rx[1]);
    t->m_axis_tx0_tready = (m->tx[0].ready_pattern >> (c & 31)) & 1u;
    t->m_axis_tx1_tready = (m->tx[1].ready_pattern >> (c & 31)) & 1u;
    t->clk = 0;
    t->eval();
    sample_rx(m, 0);
    sample_rx(m, 1);
    sample_tx(m, 0, c + 1);
    sample_tx(m, 1, c + 1);
    m->csr_ack = t->csr_ack;
    m->csr_rdata = t->csr_rdata;
    t->clk = 1;
    t->eval();
    m->cycles = c + 1;
    // The flash sees the pins as they leave this edge; its MISO is what the controller samples at a later one.
    // Idle (deselected before and now), it has nothing to do.
    if (!t->flash_cs_n || !m->flash.prev_cs_n)
        t->flash_miso = m->flash.step(t->flash_sck, t->flash_cs_n, t->flash_mosi, m->cycles);
}

bool ingress_busy(const ofm* m) { return !m->rx[0].queue.empty() || !m->rx[1].queue.empty(); }

int csr_access(ofm* m, bool we, uint32_t addr, uint32_t wdata, uint32_t* rdata) {
    Voffload_top* t = m->top.get();
    t->csr_req = 1;
    t->csr_we = we;
    t->csr_addr = static_cast<SData>(addr);
    t->csr_wdata = wdata;
    int rc = -1;
    for (int i = 0; i < kCsrTimeout; i++) {
        tick(m);
        if (m->csr_ack) {
            rc = 0;
            if (rdata)
                *rdata = m->csr_rdata;
            break;
        }
    }
    // The contract wants req low for at least one cycle between accesses.
    t->csr_req = 0;
    t->csr_we = 0;
    tick(m);
    return rc;
}

// The slave's clock runs only while it is wired to top (axil_tick). Left alone it sits in its idle state,
// where a clock edge changes nothing, so stopping its clock in between is the same as running it.
void axil_reset(ofm* m) {
    Vofl_axil_csr* a = m->axil.get();
    a->s_axil_awvalid = 0;
    a->s_axil_wvalid = 0;
    a->s_axil_bready = 0;
    a->s_axil_arvalid = 0;
    a->s_axil_rready = 0;
    a->csr_ack = 0;
    a->csr_rdata = 0;
    a->rst = 1;
    for (int i = 0; i < kResetCycles; i++) {
        a->clk = 0;
        a->eval();
        a->clk = 1;
        a->eval();
    }
    a->rst = 0;
}

// One cycle of top with the slave as its CSR master, as if one netlist held both. Every signal that
// crosses (csr_req/we/addr/wdata one way, csr_ack/rdata the other) is a register output, so each side's
// value for this cycle is known before either is clocked, and the two models stay cycle-exact.
inline void axil_tick(ofm* m) {
    Voffload_top* t = m->top.get();
    Vofl_axil_csr* a = m->axil.get();
    t->csr_req = a->csr_req;
    t->csr_we = a->csr_we;
    t->csr_addr = a->csr_addr;
    t->csr_wdata = a->csr_wdata;
    a->csr_ack = t->csr_ack;
    a->csr_rdata = t->csr_rdata;
    a->clk = 0;
    a->eval();
    tick(m);
    a->clk = 1;
    a->eval();
}

// One AXI4-Lite transaction as a bridge would drive it: AW and W raised together, B (or R) taken as soon
// as it comes. The slave's outputs are registers, so what they show after a cycle is what the next rising
// edge samples: a handshake is decided before the cycle and its valid dropped after it.
int axil_access(ofm* m, bool we, uint32_t addr, uint32_t wdata, uint32_t wstrb, uint32_t* rdata) {
    Voffload_top* t = m->top.get();
    Vofl_axil_csr* a = m->axil.get();
    if (we) {
        a->s_axil_awaddr = addr & 0xFFFFFu;
        a->s_axil_awprot = 0;
        a->s_axil_wdata = wdata;
        a->s_axil_wstrb = static_cast<CData>(wstrb & 0xFu);
        a->s_axil_awvalid = 1;
        a->s_axil_wvalid = 1;
        a->s_axil_bready = 1;
    } else {
        a->s_axil_araddr = addr & 0xFFFFFu;
        a->s_axil_arprot = 0;
        a->s_axil_arvalid = 1;
        a->s_axil_rready = 1;
    }
    int rc = -1;
    for (int i = 0; i < kAxilTimeout && rc < 0; i++) {
        bool aw = a->s_axil_awvalid && a->s_axil_awready;
        bool w = a->s_axil_wvalid && a->s_axil_wready;
        bool ar = a->s_axil_arvalid && a->s_axil_arready;
        bool b = a->s_axil_bvalid && a->s_axil_bready;
        bool r = a->s_axil_rvalid && a->s_axil_rready;
        int resp = b ? a->s_axil_bresp : r ? a->s_axil_rresp : 0;
        uint32_t data = a->s_axil_rdata;
        axil_tick(m);
        if (aw)
            a->s_axil_awvalid = 0;
        if (w)
            a->s_axil_wvalid = 0;
        if (ar)
            a->s_axil_arvalid = 0;
        if (b || r) {
            rc = resp;
            if (r && rdata)
                *rdata = data;
        }
    }
    a->s_axil_awvalid = 0;
    a->s_axil_wvalid = 0;
    a->s_axil_arvalid = 0;
    a->s_axil_bready = 0;
    a->s_axil_rready = 0;
    // The slave dropped csr_req when the ack came, cycles ago; hand the port back to the shim idle.
    t->csr_req = 0;
    t->csr_we = 0;
    return rc;
}

void spi_reset(ofm* m) {
    Vofl_spi_csr* s = m->spi.get();
    s->spi_sck = 0;
    s->spi_cs_n = 1;
    s->spi_mosi = 0;
    s->csr_ack = 0;
    s->csr_rdata = 0;
    s->rst = 1;
    for (int i = 0; i < kResetCycles; i++) {
        s->clk = 0;
        s->eval();
        s->clk = 1;
        s->eval();
    }
    s->rst = 0;
}

// One cycle of top with the SPI bridge as its CSR master; as axil_tick, every signal that crosses is a
// register output on its side, so the two models stay cycle-exact with one netlist.
inline void spi_tick(ofm* m) {
    Voffload_top* t = m->top.get();
    Vofl_spi_csr* s = m->spi.get();
    t->csr_req = s->csr_req;
    t->csr_we = s->csr_we;
    t->csr_addr = s->csr_addr;
    t->csr_wdata = s->csr_wdata;
    s->csr_ack = t->csr_ack;
    s->csr_rdata = t->csr_rdata;
    s->clk = 0;
    s->eval();
    tick(m);
    s->clk = 1;
    s->eval();
}

void clear_stats(ofm* m) {
    std::memset(m->stats, 0, sizeof m->stats);
    for (TxPort& p : m->tx)
        p.violations = 0;
}

void bind_pins(ofm* m) {
    Voffload_top* t = m->top.get();
    m->rx[0].pins = {&t->s_axis_rx0_tdata, &t->s_axis_rx0_tkeep, &t->s_axis_rx0_tvalid, &t->s_axis_rx0_tready,
                     &t->s_axis_rx0_tlast};
    m->rx[1].pins = {&t->s_axis_rx1_tdata, &t->s_axis_rx1_tkeep, &t->s_axis_rx1_tvalid, &t->s_axis_rx1_tready,
                     &t->s_axis_rx1_tlast};
    m->tx[0].pins = {&t->m_axis_tx0_tdata, &t->m_axis_tx0_tkeep, &t->m_axis_tx0_tvalid, &t->m_axis_tx0_tready,
                     &t->m_axis_tx0_tlast};
    m->tx[1].pins = {&t->m_axis_tx1_tdata, &t->m_axis_tx1_tkeep, &t->m_axis_tx1_tvalid, &t->m_axis_tx1_tready,
                     &t->m_axis_tx1_tlast};
    for (TxPort& p : m->tx)
        p.current.resize(65536 + kBytes);
}

inline bool valid_port(int port) { return port == 0 || port == 1; }

}  // namespace

extern "C" {

int ofm_data_width(void) { return OFM_DATA_W; }

void ofm_reset(ofm* m) {
    Voffload_top* t = m->top.get();
    for (RxPort& p : m->rx) {
        p.queue.clear();
        p.offset = 0;
    }
    for (TxPort& p : m->tx) {
        p.done.clear();
        p.cur_len = 0;
        p.stalled = false;
    }
    t->csr_req = 0;
    t->csr_we = 0;
    t->csr_addr = 0;
    t->csr_wdata = 0;
    axil_reset(m);
    spi_reset(m);
    t->rst = 1;
    for (int i = 0; i < kResetCycles; i++)
        tick(m);
    t->rst = 0;
    tick(m);
    // Whatever left during reset is not traffic.
    for (TxPort& p : m->tx) {
        p.done.clear();
        p.cur_len = 0;
    }
    clear_stats(m);
}

ofm* ofm_create(void) {
    ofm* m = new (std::nothrow) ofm();
    if (!m)
        return nullptr;
    m->ctx = std::make_unique<VerilatedContext>();
    m->ctx->fatalOnError(false);
    // Registers without a reset start at 0 unless OFM_RAND_RESET=2 asks for random values (with
    // OFM_RAND_SEED), which shakes out logic that relies on power-up state.
    if (const char* r = std::getenv("OFM_RAND_RESET"))
        m->ctx->randReset(std::atoi(r));
    if (const char* s = std::getenv("OFM_RAND_SEED"))
        m->ctx->randSeed(std::atoi(s));
    m->top = std::make_unique<Voffload_top>(m->ctx.get(), "top");
    m->axil = std::make_unique<Vofl_axil_csr>(m->ctx.get(), "axil");
    m->spi = std::make_unique<Vofl_spi_csr>(m->ctx.get(), "spi");
    bind_pins(m);
    ofm_reset(m);
    return m;
}

void ofm_destroy(ofm* m) {
    if (!m)
        return;
    m->top->final();
    m->axil->final();
    m->spi->final();
    delete m;
}

uint64_t ofm_cycles(const ofm* m) { return m->cycles; }

int ofm_csr_write(ofm* m, uint32_t addr, uint32_t value) {
    return csr_access(m, true, addr, value, nullptr);
}

uint32_t ofm_csr_read(ofm* m, uint32_t addr, int* err) {
    uint32_t v = 0;
    int rc = csr_access(m, false, addr, 0, &v);
    if (err)
        *err = rc;
    return rc == 0 ? v : 0;
}

int ofm_csr_batch(ofm* m, const ofm_csr_op* ops, uint32_t n,
                                                         uint32_t* results) {
    for (uint32_t i = 0; i < n; i++) {
        uint32_t v = 0;
        bool we = ops[i].kind == 0;
        if (csr_access(m, we, ops[i].addr, ops[i].value, we ? nullptr : &v) != 0)
            return -1;
        if (results)
            results[i] = v;
    }
    return 0;
}

int ofm_axil_write(ofm* m, uint32_t addr, uint32_t data, uint32_t strb) {
    return axil_access(m, true, addr, data, strb, nullptr);
}

int ofm_axil_read(ofm* m, uint32_t addr, uint32_t* data) {
    uint32_t v = 0;
    int rc = axil_access(m, false, addr, 0, 0, &v);
    if (data)
        *data = v;
    return rc;
}

uint32_t ofm_spi_drive(ofm* m, const uint8_t* pins, uint32_t n, uint32_t cycles_per_step, uint8_t* sampled) {
    if (!pins || cycles_per_step == 0)
        return 0;
    Voffload_top* t = m->top.get();
    Vofl_spi_csr* s = m->spi.get();
    for (uint32_t i = 0; i < n; i++) {
        s->spi_sck = pins[i] & 1u;
        s->spi_mosi = (pins[i] >> 1) & 1u;
        s->spi_cs_n = (pins[i] >> 2) & 1u;
        for (uint32_t c = 0; c < cycles_per_step; c++)
            spi_tick(m);
        if (sampled)
            sampled[i] = static_cast<uint8_t>((s->spi_miso ? 1u : 0u) | (s->spi_miso_oe ? 2u : 0u) | (s->busy ? 4u : 0u));
    }
    // Between calls the shim owns the CSR port again; the bridge's own req is handed back on the next call.
    t->csr_req = 0;
    t->csr_we = 0;
    return n;
}

uint32_t ofm_flash_size(void) { return SpiFlash::kSize; }

int ofm_flash_read(ofm* m, uint32_t addr, uint8_t* buf, uint32_t len) {
    if (!buf || addr > SpiFlash::kSize || len > SpiFlash::kSize - addr)
        return -1;
    std::memcpy(buf, m->flash.mem.data() + addr, len);
    return 0;
}

int ofm_flash_load(ofm* m, uint32_t addr, const uint8_t* data, uint32_t len) {
    if (!data || addr > SpiFlash::kSize || len > SpiFlash::kSize - addr)
        return -1;
    std::memcpy(m->flash.mem.data() + addr, data, len);
    return 0;
}

uint32_t ofm_flash_status(ofm* m) { return m->flash.status1(m->cycles); }

void ofm_flash_timing(ofm* m, uint64_t page_program, uint64_t sector_erase, uint64_t block_erase, uint64_t chip_erase,
                      uint64_t status_write) {
    m->flash.pp_cycles = page_program;
    m->flash.se_cycles = sector_erase;
    m->flash.be_cycles = block_erase;
    m->flash.ce_cycles = chip_erase;
    m->flash.wrsr_cycles = status_write;
}

void ofm_flash_power_cut(ofm* m) {
    m->flash.power_cut(m->cycles);
    m->top->flash_miso = 1;
}

void ofm_flash_counts(ofm* m, uint64_t* programs, uint64_t* erases, uint64_t* refused) {
    if (programs)
        *programs = m->flash.programs;
    if (erases)
        *erases = m->flash.erases;
    if (refused)
        *refused = m->flash.refused;
}

int ofm_push_frame(ofm* m, int port, const uint8_t* data, uint32_t len) {
    if (!valid_port(port) || len == 0 || (data == nullptr))
        return -1;
    m->rx[port].queue.push(data, len);
    return 0;
}

int ofm_pop_frame(ofm* m, int port, uint8_t* buf, uint32_t cap) {
    if (!valid_port(port))
        return 0;
    FrameQueue& q = m->tx[port].done;
    if (q.empty())
        return 0;
    uint32_t len = q.front_len();
    if (len > cap)
        return -static_cast<int>(len);
    std::memcpy(buf, q.front(), len);
    q.pop();
    return static_cast<int>(len);
}

uint32_t ofm_tx_pending(ofm* m, int port) {
    return valid_port(port) ? static_cast<uint32_t>(m->tx[port].done.count()) : 0;
}

uint64_t ofm_run(ofm* m, uint64_t cycles) {
    for (uint64_t i = 0; i < cycles; i++)
        tick(m);
    return cycles;
}

uint64_t ofm_run_until_idle(ofm* m, uint64_t max_cycles) {
    int streak = 0;
    uint64_t i = 0;
    while (i < max_cycles) {
        tick(m);
        i++;
        if (!ingress_busy(m) && m->top->idle) {
            if (++streak >= kIdleStreak)
                break;
        } else {
            streak = 0;
        }
    }
    return i;
}

void ofm_get_port_stats(ofm* m, int port, ofm_port_stats* out) {
    if (!out)
        return;
    if (!valid_port(port)) {
        std::memset(out, 0, sizeof *out);
        return;
    }
    *out = m->stats[port];
}

void ofm_clear_stats(ofm* m) { clear_stats(m); }

void ofm_set_tx_ready(ofm* m, int port, uint32_t pattern) {
    if (valid_port(port))
        m->tx[port].ready_pattern = pattern;
}

// Beyond the brief's ABI: AXI-Stream rule breaks seen on a TX port since the last clear (a non-last
// word not full, tkeep not contiguous from lane 0, a stalled word changed or withdrawn). Tests assert 0.
uint64_t ofm_tx_violations(ofm* m, int port) {
    return valid_port(port) ? m->tx[port].violations : 0;
}

// Frames still queued for ingress on a port (the one being driven included).
uint32_t ofm_rx_pending(ofm* m, int port) {
    return valid_port(port) ? static_cast<uint32_t>(m->rx[port].queue.count()) : 0;
}

uint64_t ofm_traffic_loop(ofm* m, const uint8_t* frame0, const uint8_t* frame1, uint32_t len,
                          uint32_t depth, uint64_t step, uint64_t cycles) {
    if (!frame0 || !frame1 || len == 0 || step == 0)
        return 0;
    static thread_local std::vector<uint8_t> sink(1 << 16);
    const uint8_t* frames[2] = {frame0, frame1};
    uint64_t done = 0;
    while (done < cycles) {
        for (int p = 0; p < 2; p++)
            while (ofm_rx_pending(m, p) < depth)
                ofm_push_frame(m, p, frames[p], len);
        done += ofm_run(m, step);
        for (int p = 0; p < 2; p++)
            while (ofm_pop_frame(m, p, sink.data(), static_cast<uint32_t>(sink.size())) > 0) {
            }
    }
    return done;
}

}  // extern "C"
