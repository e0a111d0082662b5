// Pure C++ speed of the model: cycles per second with back-to-back frames on both ingress ports, and
// with an idle bus, so the cost of the C# binding can be compared against it later.
//   ofmodel_bench_w64 [cycles] [frame_len]
// The frames are IPv4/UDP to the port's MAC that hit a flow entry (written in the stash, so no hashing
// is needed here) and leave on the other port: the line-rate case of docs/dataplane.md.

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "ofmodel.h"

static void make_frame(unsigned char* f, unsigned len, int port) {
    std::memset(f, 0, len);
    const unsigned char dst[6] = {0x02, 0, 0, 0, static_cast<unsigned char>(port), 0x10};
    const unsigned char src[6] = {0x02, 0, 0, 0, 0, 0x20};
    std::memcpy(f, dst, 6);
    std::memcpy(f + 6, src, 6);
    f[12] = 0x08;
    f[13] = 0x00;
    unsigned char* ip = f + 14;
    unsigned tl = len - 14;
    ip[0] = 0x45;
    ip[2] = tl >> 8;
    ip[3] = tl & 0xff;
    ip[8] = 64;
    ip[9] = 17;
    ip[12] = 10, ip[15] = 1;
    ip[16] = 10, ip[17] = 1, ip[18] = 0, ip[19] = 1;
    unsigned sum = 0;
    for (int i = 0; i < 20; i += 2)
        sum += (ip[i] << 8) | ip[i + 1];
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    sum = ~sum & 0xffff;
    ip[10] = sum >> 8;
    ip[11] = sum & 0xff;
    unsigned char* udp = ip + 20;
    udp[0] = 0x30, udp[1] = 0x39, udp[2] = 0x00, udp[3] = 0x50;
    udp[4] = (tl - 20) >> 8, udp[5] = (tl - 20) & 0xff;
}

static double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

int main(int argc, char** argv) {
    unsigned long long cycles = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 2000000ULL;
    unsigned len = argc > 2 ? static_cast<unsigned>(std::strtoul(argv[2], nullptr, 10)) : 60;
    if (len < 42 || len > 9000) {
        std::fprintf(stderr, "frame_len must be 42..9000\n");
        return 2;
    }
    ofm* m = ofm_create();
    if (!m) {
        std::fprintf(stderr, "ofm_create failed\n");
        return 1;
    }
    int width = ofm_data_width();
    // Port MACs 02:00:00:00:0p:10; next hop p sends out port 1-p; flow (in p, 10.0.0.1:12345 > 10.1.0.1:80 UDP)
    // sits in stash entry p. Register addresses: hdl/regmap/regmap.json.
    int err = 0;
    uint32_t buckets = ofm_csr_read(m, 0x0014, &err), ways = ofm_csr_read(m, 0x0018, &err);
    for (uint32_t p = 0; p < 2; p++) {
        const ofm_csr_op ops[] = {
            {0, 0x0060 + 8 * p, (p << 8) | 0x10}, {0, 0x0064 + 8 * p, 0x0200},
            {0, 0x0240, p}, {0, 0x0244, 0x00000001}, {0, 0x0248, 0x0200}, {0, 0x024C, ((1 - p) << 8) | 0x10},
            {0, 0x0250, 0x0200}, {0, 0x0254, 1 - p}, {0, 0x0258, 1},
            {0, 0x0200, 2 * buckets * ways + p}, {0, 0x0204, 0x0A000001}, {0, 0x0208, 0x0A010001},
            {0, 0x020C, (12345u << 16) | 80}, {0, 0x0210, 17u | (p << 24) | (1u << 31)}, {0, 0x0214, p},
            {0, 0x0218, 0}, {0, 0x021C, 0}, {0, 0x0224, 1},
        };
        if (err || ofm_csr_batch(m, ops, sizeof ops / sizeof ops[0], nullptr) != 0) {
            std::fprintf(stderr, "register access failed\n");
            return 1;
        }
    }

    auto t0 = std::chrono::steady_clock::now();
    ofm_run(m, cycles);
    double idle_s = seconds_since(t0);

    static unsigned char frame[9000];
    unsigned words = (len + width / 8 - 1) / (width / 8);
    unsigned long long done = 0;
    static unsigned char sink[16384];
    t0 = std::chrono::steady_clock::now();
    // Keep a few frames queued per port and drain TX, so memory stays flat however long it runs.
    while (done < cycles) {
        for (int p = 0; p < 2; p++) {
            while (ofm_rx_pending(m, p) < 48) {
                make_frame(frame, len, p);
                ofm_push_frame(m, p, frame, len);
            }
        }
        unsigned long long step = 32ULL * words;  // fewer frames than queued: the ports never run dry
        done += ofm_run(m, step);
        for (int p = 0; p < 2; p++)
            while (ofm_pop_frame(m, p, sink, sizeof sink) > 0) {
            }
    }
    double busy_s = seconds_since(t0);
    ofm_port_stats s0, s1;
    ofm_get_port_stats(m, 0, &s0);
    ofm_get_port_stats(m, 1, &s1);
    std::printf("DATA_W=%d frame_len=%u\n", width, len);
    std::printf("idle:  %llu cycles in %.3f s = %.2f M cycles/s\n", cycles, idle_s, cycles / idle_s / 1e6);
    std::printf("busy:  %llu cycles in %.3f s = %.2f M cycles/s (rx frames %llu + %llu, rx stalls %llu + %llu, tx frames %llu + %llu)\n",
                done, busy_s, done / busy_s / 1e6, (unsigned long long)s0.rx_frames, (unsigned long long)s1.rx_frames,
                (unsigned long long)s0.rx_stall_cycles, (unsigned long long)s1.rx_stall_cycles,
                (unsigned long long)s0.tx_frames, (unsigned long long)s1.tx_frames);
    ofm_destroy(m);
    return 0;
}
