/* C ABI of the Offload Verilator model (libofmodel_w{8,16,32,64}.so). Offload.HwModel binds these names;
 * keep them and the struct layouts stable. Not thread-safe: one ofm is used by one thread at a time. */
#ifndef OFMODEL_H
#define OFMODEL_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define OFM_API __attribute__((visibility("default")))

typedef struct ofm ofm;

typedef struct {
    uint32_t kind; /* 0 = write, 1 = read */
    uint32_t addr;
    uint32_t value;
} ofm_csr_op;

typedef struct {
    uint64_t rx_frames, rx_words, rx_stall_cycles; /* stall: tvalid && !tready */
    uint64_t tx_frames, tx_words;
    uint64_t tx_first_cycle, tx_last_cycle; /* cycle (1-based) of the first/last TX word since the clear; 0 = none */
} ofm_port_stats;

OFM_API ofm* ofm_create(void);
OFM_API void ofm_destroy(ofm* m);
OFM_API int ofm_data_width(void);
OFM_API void ofm_reset(ofm* m);
OFM_API uint64_t ofm_cycles(const ofm* m);
OFM_API int ofm_csr_write(ofm* m, uint32_t addr, uint32_t value);
OFM_API uint32_t ofm_csr_read(ofm* m, uint32_t addr, int* err);
OFM_API int ofm_csr_batch(ofm* m, const ofm_csr_op* ops, uint32_t n, uint32_t* results);
OFM_API int ofm_push_frame(ofm* m, int port, const uint8_t* data, uint32_t len);
OFM_API int ofm_pop_frame(ofm* m, int port, uint8_t* buf, uint32_t cap);
OFM_API uint32_t ofm_tx_pending(ofm* m, int port);
OFM_API uint64_t ofm_run(ofm* m, uint64_t cycles);
OFM_API uint64_t ofm_run_until_idle(ofm* m, uint64_t max_cycles);
OFM_API void ofm_get_port_stats(ofm* m, int port, ofm_port_stats* out);
OFM_API void ofm_clear_stats(ofm* m);
OFM_API void ofm_set_tx_ready(ofm* m, int port, uint32_t pattern);
/* The AXI4-Lite register slave (ofl_axil_csr) in front of the CSR bus, as a PCIe bridge drives it: one
 * transaction, the clock running meanwhile. Returns the response (0 OKAY, 2 SLVERR, 3 DECERR), or -1 when
 * the slave did not answer at all. strb is the 4-bit write strobe (0xF for a whole register). The slave
 * decodes 20 address bits: 0x00000..0x0FFFF is the CSR block, above it DECERR; higher bits are dropped. */
OFM_API int ofm_axil_write(ofm* m, uint32_t addr, uint32_t data, uint32_t strb);
OFM_API int ofm_axil_read(ofm* m, uint32_t addr, uint32_t* data);
/* The SPI bridge (ofl_spi_csr) in front of the CSR bus, as an FTDI's MPSSE drives its pins: for each of the n
 * steps, pins[i] (bit 0 SCK, bit 1 MOSI, bit 2 CS_N) is driven and the clock runs cycles_per_step cycles with the
 * bridge as the CSR master; then sampled[i] (may be null) gets bit 0 MISO, bit 1 MISO driven, bit 2 busy.
 * Returns n (0 when pins is null or cycles_per_step is 0). Register accesses of the other ABI calls must not
 * fall between two steps of a request the bridge is still running. */
OFM_API uint32_t ofm_spi_drive(ofm* m, const uint8_t* pins, uint32_t n, uint32_t cycles_per_step, uint8_t* sampled);
/* The behavioural SPI NOR flash on offload_top's flash pins (hwmodel/spi_flash.h: W25Q32-like, 4 MiB). Its contents
 * survive ofm_reset (it is non-volatile). read/load copy bytes without the SPI bus (a programmer's view; load
 * overwrites, as a factory image would be put there); status is status register 1 (bit 0 BUSY, 1 WEL, 2..4 BP,
 * 5 TB, 6 SEC); timing sets the busy times in cycles; power_cut ends power to the flash: an erase or program still
 * running leaves its range scrambled. read/load return 0, or -1 for a range outside the flash. */
OFM_API uint32_t ofm_flash_size(void);
OFM_API int ofm_flash_read(ofm* m, uint32_t addr, uint8_t* buf, uint32_t len);
OFM_API int ofm_flash_load(ofm* m, uint32_t addr, const uint8_t* data, uint32_t len);
OFM_API uint32_t ofm_flash_status(ofm* m);
OFM_API void ofm_flash_timing(ofm* m, uint64_t page_program, uint64_t sector_erase, uint64_t block_erase,
                              uint64_t chip_erase, uint64_t status_write);
OFM_API void ofm_flash_power_cut(ofm* m);
OFM_API void ofm_flash_counts(ofm* m, uint64_t* programs, uint64_t* erases, uint64_t* refused);
/* Beyond the core ABI. */
OFM_API uint64_t ofm_tx_violations(ofm* m, int port);
OFM_API uint32_t ofm_rx_pending(ofm* m, int port);
/* The benchmark's traffic loop in pure C++: keep `depth` copies of frame0/frame1 queued on ports 0/1, run
 * `step` cycles, drop what left the TX ports, until `cycles` have run. The C# binding runs the same loop
 * through single calls, so the two timings differ only by the binding. Returns the cycles run. */
OFM_API uint64_t ofm_traffic_loop(ofm* m, const uint8_t* frame0, const uint8_t* frame1, uint32_t len,
                                  uint32_t depth, uint64_t step, uint64_t cycles);

#ifdef __cplusplus
}
#endif

#endif
