/* fuzz-core.c - fuzz harness for the core: the input is a little program
 * of segments (flow, flags, sequence jumps, payload lengths, timestamps)
 * and flushes, fed to one pool with tiny limits. It checks the hard limits
 * after every call, and conservation and "pages back to 0" at the end.
 *
 * Built two ways: with -DSR_LIBFUZZER as a libFuzzer target (clang
 * -fsanitize=fuzzer), and by default with a main() that replays files given
 * on the command line or runs N deterministic pseudo-random inputs, which
 * is what ctest runs (under ASan+UBSan in test.sh). */
#include "safereasm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    uint64_t next[2];          /* expected next offset per direction */
    uint64_t got[2];           /* delivered + skipped seen by callbacks */
    int bad;
    int failed;                /* we returned an error: later bytes are not shown to us */
} fz_stream;

static int fz_streams_live;

static void *fz_new(void *u, const sr_conn_info *i, void *ctx)
{
    (void)u, (void)i;
    /* The input decides whether the factory refuses this connection. */
    if (ctx && (*(const uint8_t *)ctx & 0x80))
        return NULL;
    fz_stream *s = calloc(1, sizeof *s);
    if (s)
        fz_streams_live++;
    return s;
}

static int fz_data(void *u, void *stream, const sr_conn_info *i, const sr_chunk *c, void *ctx)
{
    (void)u, (void)i;
    fz_stream *s = stream;
    if ((unsigned)c->dir > 1 || c->offset != s->next[c->dir] + c->skipped) {
        if (getenv("FZ_DEBUG"))
            fprintf(stderr, "dir %d offset %llu expected %llu+%llu len %zu flags %x\n", c->dir,
                    (unsigned long long)c->offset, (unsigned long long)s->next[c->dir],
                    (unsigned long long)c->skipped, c->len, c->flags);
        s->bad++;
    }
    if (c->len && !c->data)
        s->bad++;
    s->next[c->dir] = c->offset + c->len;
    s->got[c->dir] += c->len + c->skipped;
    if (s->failed)
        s->bad++; /* no delivery after a callback error */
    /* Sometimes fail, to exercise the callback-error path. */
    if (ctx && (*(const uint8_t *)ctx & 0x40) && c->len > 0) {
        s->failed = 1;
        return 1;
    }
    return 0;
}

static void fz_complete(void *u, void *stream, const sr_conn_info *i, sr_close_reason r, void *ctx)
{
    (void)u, (void)ctx, (void)r;
    fz_stream *s = stream;
    for (int d = 0; d < 2; d++)
        if (!s->failed && s->got[d] != i->delivered[d] + i->skipped[d])
            s->bad++;
    if (s->bad) {
        fprintf(stderr, "fuzz: stream %llu broke ordering/conservation\n",
                (unsigned long long)i->id);
        abort(); /* a harness, not library code: crash loudly for the fuzzer */
    }
    fz_streams_live--;
    free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t payload[70000];
    if (size < 4)
        return 0;
    sr_stream_factory f = {fz_new, fz_data, fz_complete, NULL};
    sr_error err;
    sr_pool *pool = sr_pool_new(&f, 1 + data[0] % 8, &err);
    if (!pool)
        abort();
    sr_options o;
    sr_options_init(&o);
    o.page_size = 1 + data[1] % 64;
    o.max_buffered_pages_total = 1 + data[2] % 32;
    o.max_buffered_pages_per_connection = 1 + data[3] % o.max_buffered_pages_total;
    o.connection_timeout = 100;
    o.flush_interval = 10;
    o.closed_linger = data[3] & 1 ? 50 : 0;
    o.max_window = 1u << 20;
    sr_assembler *a;
    if (sr_assembler_new(pool, &o, &a) != SR_OK)
        abort();
    for (size_t i = 0; i < sizeof payload; i++)
        payload[i] = (uint8_t)(i * 7);
    uint32_t seqs[16];
    for (int i = 0; i < 16; i++)
        seqs[i] = (uint32_t)i * 0x10000001u - 11u;
    sr_time now = 0;
    size_t pos = 4;
    while (pos + 6 <= size) {
        const uint8_t *op = data + pos;
        pos += 6;
        uint8_t ctxbyte = op[5] & 0xC0 ? (uint8_t)(op[5] & (op[0] & 0xC0)) : 0;
        if (op[0] == 0xFF) {
            sr_assembler_flush_older_than(a, now - (op[1] % 50), NULL, NULL, NULL);
            continue;
        }
        if (op[0] == 0xFE) {
            sr_assembler_flush_all(a, NULL, NULL);
            continue;
        }
        int conn = op[0] & 7, rev = (op[0] >> 3) & 1;
        sr_flow fl;
        uint32_t ca = 0x0a000001u + (uint32_t)conn, sa = 0x0a0000feu;
        if (!rev)
            sr_flow_set_ipv4(&fl, ca, 1000, sa, 80);
        else
            sr_flow_set_ipv4(&fl, sa, 80, ca, 1000);
        fl.zone = (op[0] >> 4) & 1;
        uint32_t *seq = &seqs[(conn * 2 + rev) & 15];
        int32_t jump = (int8_t)op[1] * ((op[2] & 0x80) ? 4096 : 3);
        size_t len = op[3] % 80;
        if ((op[2] & 0x60) == 0x60)
            len = 65535;
        size_t captured = (op[2] & 0x10) ? len / 2 : len;
        sr_segment s = {
            .seq = *seq + (uint32_t)jump,
            .flags = (uint8_t)(op[4] & 0x1f),
            .payload = payload + (op[2] & 0x0f),
            .payload_len = captured,
            .claimed_len = len,
            .timestamp = now,
        };
        now += op[5] & 0x3f;
        sr_result r;
        sr_assemble_ex(a, &fl, &s, ctxbyte ? &ctxbyte : NULL, &r);
        if (jump >= 0)
            *seq = s.seq + (uint32_t)len;
        sr_assembler_stats st;
        sr_assembler_get_stats(a, &st);
        if (st.pages_in_use > o.max_buffered_pages_total ||
            r.conn_pages > o.max_buffered_pages_per_connection) {
            fprintf(stderr, "fuzz: page limit broken\n");
            abort();
        }
    }
    sr_assembler_stats st;
    sr_pool_close(pool);
    sr_assembler_get_stats(a, &st);
    if (st.pages_in_use != 0 || fz_streams_live != 0) {
        fprintf(stderr, "fuzz: %llu pages / %d streams left after close\n",
                (unsigned long long)st.pages_in_use, fz_streams_live);
        abort();
    }
    sr_assembler_free(a);
    sr_pool_free(pool);
    return 0;
}

#ifndef SR_LIBFUZZER
int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--random") != 0) {
        for (int i = 1; i < argc; i++) {
            FILE *fp = fopen(argv[i], "rb");
            if (!fp) {
                perror(argv[i]);
                return 1;
            }
            static uint8_t buf[1 << 20];
            size_t n = fread(buf, 1, sizeof buf, fp);
            fclose(fp);
            LLVMFuzzerTestOneInput(buf, n);
        }
        return 0;
    }
    long runs = argc > 2 ? strtol(argv[2], NULL, 10) : 20000;
    uint64_t x = 0x9E3779B97F4A7C15ull; /* fixed seed: reproducible */
    static uint8_t buf[4096];
    for (long r = 0; r < runs; r++) {
        size_t n = 4 + (size_t)(r % 600);
        for (size_t i = 0; i < n; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            buf[i] = (uint8_t)x;
        }
        LLVMFuzzerTestOneInput(buf, n);
    }
    printf("fuzz-core: %ld inputs, no failure\n", runs);
    return 0;
}
#endif
