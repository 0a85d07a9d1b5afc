/* fuzz-decode.c - fuzz harness for safereasm-pcap's frame decoder
 * (tools/decode.c): every link type it knows, any bytes, any snaplen cut.
 * The decoder must return a result code for every input and, for TCP,
 * hand out a payload that lies inside the frame. Built like fuzz-core.c:
 * libFuzzer with -DSR_LIBFUZZER, else a replay/random main() for ctest. */
#include <pcap/dlt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"

static const int dlts[] = {DLT_EN10MB, DLT_LINUX_SLL, DLT_LINUX_SLL2, DLT_NULL, DLT_LOOP,
                           DLT_RAW, DLT_IPV4, DLT_IPV6, 12345};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    int dlt = dlts[data[0] % (sizeof dlts / sizeof dlts[0])];
    size_t cut = data[1]; /* bytes "lost" to the snaplen */
    /* A private copy, so reading one byte past the frame is caught. */
    size_t n = size - 2;
    uint8_t *frame = malloc(n ? n : 1);
    if (!frame)
        return 0;
    memcpy(frame, data + 2, n);
    sp_segment s;
    const char *why = NULL;
    sp_decode_result r = sp_decode(dlt, frame, n, n + cut, &s, &why);
    if ((int)r < 0 || r >= SP_DEC_COUNT_) {
        fprintf(stderr, "fuzz-decode: result %d out of range\n", (int)r);
        abort();
    }
    if (r == SP_DEC_tcp) {
        if (s.payload_len > 0 &&
            (s.payload < frame || s.payload + s.payload_len > frame + n)) {
            fprintf(stderr, "fuzz-decode: payload outside the frame\n");
            abort();
        }
        if (s.claimed_len < s.payload_len) {
            fprintf(stderr, "fuzz-decode: claimed %zu < captured %zu\n", s.claimed_len,
                    s.payload_len);
            abort();
        }
    }
    free(frame);
    return 0;
}

#ifndef SR_LIBFUZZER
int main(int argc, char **argv)
{
    /* Files on the command line (the committed corpus): replay them. */
    if (argc > 1 && strcmp(argv[1], "--random") != 0) {
        static uint8_t in[1 << 16];
        for (int i = 1; i < argc; i++) {
            FILE *fp = fopen(argv[i], "rb");
            if (!fp) {
                perror(argv[i]);
                return 1;
            }
            size_t n = fread(in, 1, sizeof in, fp);
            fclose(fp);
            LLVMFuzzerTestOneInput(in, n);
        }
        printf("fuzz-decode: %d files, no failure\n", argc - 1);
        return 0;
    }
    long runs = argc > 2 ? strtol(argv[2], NULL, 10) : 200000;
    uint64_t x = 0x243F6A8885A308D3ull; /* fixed seed: reproducible */
    static uint8_t buf[256];
    /* Start from plausible frames (Ethernet + IPv4 + TCP, raw IPv6 + TCP)
     * and flip bytes, so the walk gets past the first header checks. */
    static const uint8_t eth_ip_tcp[] = {
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x08, 0x00,
        0x45, 0, 0, 44, 0, 0, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        0x30, 0x39, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x18, 0x10, 0, 0, 0, 0, 0,
        'd', 'a', 't', 'a'};
    static const uint8_t raw6_tcp[] = {
        0x60, 0, 0, 0, 0, 24, 6, 64, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
        0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2,
        0x30, 0x39, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x18, 0x10, 0, 0, 0, 0, 0,
        'd', 'a', 't', 'a'};
    for (long r = 0; r < runs; r++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        const uint8_t *base = (x & 1) ? eth_ip_tcp : raw6_tcp;
        size_t blen = (x & 1) ? sizeof eth_ip_tcp : sizeof raw6_tcp;
        buf[0] = (x & 1) ? 0 : 5; /* index of DLT_EN10MB / DLT_RAW in dlts */
        buf[1] = (uint8_t)(x >> 8) & 0x3f;
        memcpy(buf + 2, base, blen);
        int flips = 1 + (int)((x >> 16) % 4);
        for (int f = 0; f < flips; f++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            buf[2 + (x >> 8) % blen] ^= (uint8_t)(x >> 32);
        }
        size_t n = 2 + (size_t)((x >> 40) % (blen + 1));
        if (r % 7 == 0)
            buf[0] = (uint8_t)(x >> 50);
        LLVMFuzzerTestOneInput(buf, n);
    }
    printf("fuzz-decode: %ld inputs, no failure\n", runs);
    return 0;
}
#endif
