// A behavioural SPI NOR flash for the model only (never synthesized): what the configuration flash of a small
// board does on its four pins, after the Winbond W25Q32 data sheet: 4 MiB, JEDEC ID EF 40 16, 256-byte pages
// (a program wraps within its page and can only clear bits), 4 KiB sector / 32 KiB / 64 KiB block / chip erase,
// write enable, status register 1 with BUSY, WEL and the block-protect bits (BP2..0, TB, SEC), busy times during
// which every command but the status reads is ignored. A command takes effect when chip select rises on a byte
// boundary, as the data sheet requires.
//
// Busy times are in model cycles and much shorter than the data sheet's (0.4 ms program, 45 ms sector erase,
// 150 ms block erase, 10 ms status write at a 100 MHz core would make a co-simulated update take minutes); the
// controller polls status either way, so what is tested is the same. ofm_flash_timing sets them.
#ifndef OFL_SPI_FLASH_H
#define OFL_SPI_FLASH_H

#include <cstdint>
#include <cstring>
#include <vector>

struct SpiFlash {
    static constexpr uint32_t kSize = 4u << 20;
    static constexpr uint32_t kPage = 256;
    static constexpr uint8_t kJedec[3] = {0xEF, 0x40, 0x16};

    std::vector<uint8_t> mem = std::vector<uint8_t>(kSize, 0xFF);
    uint8_t status = 0;  // bits 7..2 of status register 1 as written (SRP, SEC, TB, BP2..0)
    bool wel = false;
    uint64_t busy_until = 0;
    uint64_t pp_cycles = 3000, se_cycles = 20000, be_cycles = 60000, ce_cycles = 400000, wrsr_cycles = 1000;
    // the operation in flight, so a power cut can leave it half done
    uint32_t op_addr = 0, op_len = 0;
    uint64_t programs = 0, erases = 0, refused = 0;

    bool prev_sck = false, prev_cs_n = true;
    int bit = 0;
    uint8_t in = 0;
    uint32_t index = 0;  // bytes completed in this selection
    uint8_t cmd = 0;
    bool ignore = false;
    uint32_t addr = 0;
    uint8_t arg = 0;
    uint8_t out = 0;
    int out_bit = 8;
    bool miso = true;
    std::vector<uint8_t> page;

    bool busy(uint64_t now) const { return now < busy_until; }
    uint8_t status1(uint64_t now) const {
        return static_cast<uint8_t>((status & 0xFC) | (wel ? 2 : 0) | (busy(now) ? 1 : 0));
    }

    // [lo, hi) the block-protect bits cover (W25Q32, CMP = 0)
    void protected_range(uint32_t& lo, uint32_t& hi) const {
        unsigned bp = (status >> 2) & 7, tb = (status >> 5) & 1, sec = (status >> 6) & 1;
        lo = hi = 0;
        if (bp == 0)
            return;
        uint32_t size;
        if (bp == 7)
            size = kSize;
        else if (sec)
            size = (4096u << (bp - 1)) > 32768u ? 32768u : (4096u << (bp - 1));
        else
            size = 65536u << (bp - 1);
        if (size > kSize)
            size = kSize;
        if (tb) {
            lo = 0;
            hi = size;
        } else {
            lo = kSize - size;
            hi = kSize;
        }
    }
    bool is_protected(uint32_t a, uint32_t len) const {
        uint32_t lo, hi;
        protected_range(lo, hi);
        return lo < hi && a < hi && a + len > lo;
    }

    // Called once per model cycle with the controller's pins; returns MISO.
    bool step(bool sck, bool cs_n, bool mosi, uint64_t now) {
        if (cs_n) {
            if (!prev_cs_n)
                deselect(now);
            prev_cs_n = true;
            prev_sck = sck;
            miso = true;
            return miso;
        }
        if (prev_cs_n) {
            bit = 0;
            in = 0;
            index = 0;
            ignore = false;
            out_bit = 8;
            page.clear();
        }
        if (sck && !prev_sck) {
            in = static_cast<uint8_t>((in << 1) | (mosi ? 1 : 0));
            if (++bit == 8) {
                byte(in, now);
                bit = 0;
                index++;
            }
        } else if (!sck && prev_sck && out_bit < 8) {
            miso = (out >> (7 - out_bit)) & 1;
            out_bit++;
        }
        prev_cs_n = false;
        prev_sck = sck;
        return miso;
    }

    void send(uint8_t b) {
        out = b;
        out_bit = 0;
    }

    void byte(uint8_t b, uint64_t now) {
        if (index == 0) {
            cmd = b;
            // while busy the flash answers only the status reads
            ignore = busy(now) && b != 0x05 && b != 0x35;
            addr = 0;
        }
        if (ignore)
            return;
        switch (cmd) {
            case 0x9F:  // JEDEC ID
                send(index < 3 ? kJedec[index] : 0xFF);
                break;
            case 0x05:  // read status register 1, repeated while clocked
                send(status1(now));
                break;
            case 0x35:  // read status register 2 (QE, etc.: all 0 here)
                send(0);
                break;
            case 0x01:  // write status register 1
                if (index == 1)
                    arg = b;
                break;
            case 0x03:  // read data
            case 0x0B:  // fast read (one dummy byte)
                if (index >= 1 && index <= 3)
                    addr = (addr << 8) | b;
                if (index >= (cmd == 0x0B ? 4u : 3u)) {
                    send(mem[addr % kSize]);
                    addr = (addr + 1) % kSize;
                }
                break;
            case 0x02:  // page program
                if (index >= 1 && index <= 3)
                    addr = (addr << 8) | b;
                else if (index >= 4 && page.size() < 4 * kPage)
                    page.push_back(b);
                break;
            case 0x20:
            case 0x52:
            case 0xD8:
                if (index >= 1 && index <= 3)
                    addr = (addr << 8) | b;
                break;
            default:
                break;
        }
    }

    void deselect(uint64_t now) {
        // a command ends on a byte boundary, or it is ignored
        if (ignore || bit != 0 || index == 0)
            return;
        switch (cmd) {
            case 0x06:
                if (index == 1)
                    wel = true;
                break;
            case 0x04:
                if (index == 1)
                    wel = false;
                break;
            case 0x01:
                if (wel && index == 2) {
                    status = arg & 0xFC;
                    start(now, wrsr_cycles, 0, 0);
                }
                wel = false;
                break;
            case 0x02:
                if (wel && index >= 5) {
                    addr %= kSize;
                    uint32_t base = addr & ~(kPage - 1);
                    if (is_protected(base, kPage)) {
                        refused++;
                    } else {
                        // only the last 256 bytes clocked in count; the address wraps within the page
                        size_t n = page.size(), first = n > kPage ? n - kPage : 0;
                        for (size_t i = first; i < n; i++)
                            mem[base + ((addr + (i - first)) & (kPage - 1))] &= page[i];
                        programs++;
                        start(now, pp_cycles, base, kPage);
                    }
                }
                wel = false;
                break;
            case 0x20:
            case 0x52:
            case 0xD8:
                if (wel && index == 4) {
                    uint32_t len = cmd == 0x20 ? 4096u : cmd == 0x52 ? 32768u : 65536u;
                    uint32_t base = (addr % kSize) & ~(len - 1);
                    if (is_protected(base, len)) {
                        refused++;
                    } else {
                        std::memset(mem.data() + base, 0xFF, len);
                        erases++;
                        start(now, cmd == 0x20 ? se_cycles : be_cycles, base, len);
                    }
                }
                wel = false;
                break;
            case 0xC7:
            case 0x60:
                if (wel && index == 1) {
                    if (((status >> 2) & 7) != 0) {
                        refused++;
                    } else {
                        std::memset(mem.data(), 0xFF, kSize);
                        erases++;
                        start(now, ce_cycles, 0, kSize);
                    }
                }
                wel = false;
                break;
            default:
                break;
        }
    }

    void start(uint64_t now, uint64_t cycles, uint32_t a, uint32_t len) {
        busy_until = now + cycles;
        op_addr = a;
        op_len = len;
    }

    // Power goes away: an operation still running leaves its range neither old nor new.
    void power_cut(uint64_t now) {
        if (busy(now)) {
            uint32_t x = 0x9E3779B9u ^ op_addr;
            for (uint32_t i = 0; i < op_len; i++) {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                mem[op_addr + i] = static_cast<uint8_t>(x);
            }
        }
        busy_until = 0;
        wel = false;
        prev_cs_n = true;
        prev_sck = false;
        bit = 0;
        index = 0;
        miso = true;
    }
};

#endif
