/* sr-test-util.h - helpers shared by the core g_test binaries: a recording
 * stream factory (delivered bytes per direction, gaps, flags, close reasons,
 * conservation checks), a counting allocator that can fail on demand, flow
 * and segment builders, and expected-stream specs.
 *
 * Spec syntax (payloads and expected streams):
 *   plain characters   literal bytes
 *   {N:S}              N pattern bytes with seed S (srt_pattern_byte)
 *   <N>                N skipped bytes (expected streams only)
 *   \<  \{  \\         literal '<', '{', '\'
 *
 * Copyright (c) 2026 The safereasm authors. SPDX-License-Identifier: BSD-3-Clause
 */
#ifndef SR_TEST_UTIL_H
#define SR_TEST_UTIL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <glib.h>

#include "safereasm.h"

/* Fail with the call's text and both error names unless expr == want. */
#define SRT_ASSERT_ERR(expr, want)                                             \
    do {                                                                       \
        sr_error e_ = (expr);                                                  \
        if (e_ != (want))                                                      \
            g_error("%s returned %s, expected %s", #expr, sr_err_name(e_),     \
                    sr_err_name(want));                                        \
    } while (0)

/* ------------------------------------------------------------ specs */

/* Skipped bytes recorded at position pos of the delivered data. */
typedef struct srt_gap {
    size_t pos;
    uint64_t len;
} srt_gap;

uint8_t srt_pattern_byte(unsigned seed, size_t i);
/* Parse spec into bytes (appended) and gaps (appended, adjacent merged;
 * gaps may be NULL, then '<' is an error). */
void srt_spec_parse(const char *spec, GByteArray *bytes, GArray *gaps);
/* The payload a spec describes (no gaps allowed). Free with g_byte_array_unref. */
GByteArray *srt_payload(const char *spec);

/* ------------------------------------------------------------ recorder */

typedef struct srt_chunk_rec {
    uint64_t offset;
    uint64_t skipped;
    size_t len;
    unsigned flags;
} srt_chunk_rec;

typedef struct srt_dir_rec {
    GByteArray *data;      /* delivered bytes, concatenated */
    GArray *gaps;          /* srt_gap, adjacent gaps merged */
    GArray *chunks;        /* srt_chunk_rec, every chunk in order */
    uint64_t skipped;      /* sum of chunk.skipped */
    uint64_t reached;      /* highest stream offset reached (offset + len) */
    unsigned flags_or;     /* union of chunk flags */
    bool ended;            /* a chunk with SR_CHUNK_END was seen */
} srt_dir_rec;

typedef struct srt_recorder srt_recorder;

typedef struct srt_stream {
    srt_recorder *rec;
    uint64_t conn_id;
    unsigned index;        /* creation order, 0-based */
    sr_flow flow;          /* info->flow at creation (client -> server) */
    srt_dir_rec dir[2];
    int completes;         /* on_complete calls (must end up 1) */
    int close_reason;      /* -1 while open */
    sr_conn_info final_info; /* info handed to on_complete */
    void *ctx_new;         /* packet_ctx seen by new_stream */
    void *ctx_complete;    /* packet_ctx seen by on_complete */
    GPtrArray *ctx_data;   /* packet_ctx of every on_data call */
    gint busy;             /* callbacks of this stream running right now */
} srt_stream;

/* Hooks let a test act inside callbacks. */
typedef bool (*srt_refuse_hook)(srt_recorder *r, const sr_conn_info *info, void *ctx);
typedef int (*srt_data_hook)(srt_recorder *r, srt_stream *s, const sr_conn_info *info,
                             const sr_chunk *c, void *ctx);
typedef void (*srt_complete_hook)(srt_recorder *r, srt_stream *s, const sr_conn_info *info,
                                  sr_close_reason reason, void *ctx);

struct srt_recorder {
    pthread_mutex_t lock;  /* protects streams, by_id (pthread: visible to TSan) */
    GPtrArray *streams;    /* srt_stream *, creation order, owned */
    GHashTable *by_id;     /* conn_id -> srt_stream * */
    gint new_calls;        /* new_stream calls */
    gint refused;          /* new_stream calls answered NULL */
    gint refuse_next;      /* answer NULL to this many more new_stream calls */
    gint reason_counts[SR_CLOSE_REASON_COUNT_];
    gint callbacks;        /* all callbacks */
    gint frozen;           /* set by srt_recorder_freeze: callbacks now fail */
    gint late_callbacks;   /* callbacks that started while frozen */
    gint late_kind[3];     /* ... of which new_stream, on_data, on_complete */
    size_t max_conn_pages; /* if nonzero, info->pages_buffered must not exceed it */
    bool keep_ctx;         /* record every on_data packet_ctx */
    srt_refuse_hook refuse_hook;
    srt_data_hook data_hook;
    srt_complete_hook complete_hook;
    void *hook_data;
};

void srt_recorder_init(srt_recorder *r);
void srt_recorder_clear(srt_recorder *r);
sr_stream_factory srt_recorder_factory(srt_recorder *r);
srt_stream *srt_recorder_find(srt_recorder *r, uint64_t id);
srt_stream *srt_recorder_stream(srt_recorder *r, unsigned index);
unsigned srt_recorder_count(srt_recorder *r);
/* Every later callback is counted in late_callbacks. */
void srt_recorder_freeze(srt_recorder *r);

/* Conservation for every stream and direction: delivered + skipped ==
 * highest offset reached; for completed streams (not CALLBACK_ERROR) the
 * totals in the final sr_conn_info equal what was recorded; every stream
 * completed at most once. If all_complete, every stream exactly once. */
void srt_check_conservation(srt_recorder *r, bool all_complete);
/* The totals in *res match what the connection's stream recorded; the
 * close reason and status agree; conn_pages within max_conn_pages. */
void srt_check_result(srt_recorder *r, const sr_result *res);
/* Pool counters agree with the recorder (single-threaded use only). */
void srt_check_pool_stats(sr_pool *p, srt_recorder *r);
/* Assembler byte counters agree with the recorder (one assembler only). */
void srt_check_asm_bytes(sr_assembler *a, srt_recorder *r);

/* Assert the delivered stream of one direction equals spec. */
void srt_assert_dir(const srt_dir_rec *d, const char *spec, const char *what);
/* Every delivered byte equals expect(ud, its stream offset); g_error with
 * `what` otherwise. */
typedef uint8_t (*srt_expect_fn)(void *ud, uint64_t offset);
void srt_verify_content(const srt_dir_rec *d, srt_expect_fn expect, void *ud, const char *what);
/* Every delivered byte is one accept(ud, its stream offset, byte) takes. */
typedef bool (*srt_accept_fn)(void *ud, uint64_t offset, uint8_t byte);
void srt_verify_content_any(const srt_dir_rec *d, srt_accept_fn accept, void *ud,
                            const char *what);
/* Generated stream content shared by tests that make many connections: the
 * byte at offset o sent by side b (false = A) of connection conn. */
uint8_t srt_conn_byte(uint32_t conn, bool b, uint64_t o);
/* Which stream srt_expect_conn checks: pass a srt_who* as ud. */
typedef struct srt_who {
    uint32_t conn;
    bool b;
} srt_who;
uint8_t srt_expect_conn(void *ud, uint64_t o);
/* Printable rendering "abc<3>def" (non-printables as \xNN, long runs cut). */
char *srt_render(const srt_dir_rec *d);
uint64_t srt_total_delivered(srt_recorder *r);
uint64_t srt_total_skipped(srt_recorder *r);

/* ------------------------------------------------------------ allocator */

typedef struct srt_alloc {
    pthread_mutex_t lock;
    int64_t live_bytes;
    int64_t live_blocks;
    int64_t peak_bytes;
    uint64_t attempts;     /* alloc calls, failed ones included */
    uint64_t failures;
    uint64_t fail_at;      /* fail attempt number fail_at (1-based); 0 = never */
    uint64_t fail_from;    /* fail every attempt >= fail_from; 0 = never */
    uint64_t bad_frees;    /* frees with a wrong size or pointer */
} srt_alloc;

void srt_alloc_init(srt_alloc *a);
void srt_alloc_clear(srt_alloc *a);
sr_allocator srt_alloc_allocator(srt_alloc *a);
int64_t srt_alloc_live(srt_alloc *a);

/* ------------------------------------------------------------ packets */

/* A = 10.x.y.z:port (varies with conn), B = 192.0.2.1:80. */
void srt_flow_ab(sr_flow *f, uint32_t conn, bool b_to_a);
sr_segment srt_seg(uint32_t seq, uint8_t flags, const void *payload, size_t len, sr_time ts);
/* Default options with overrides given as nonzero values. */
sr_options srt_options(size_t page_size, size_t per_conn, size_t total);
bool srt_flow_endpoints_match(const sr_flow *a, const sr_flow *b);
sr_pool_stats srt_pool_stats(sr_pool *p);
sr_assembler_stats srt_asm_stats(sr_assembler *a);

/* ------------------------------------------------------------ random */

/* Small, fast, reproducible on every platform (splitmix64). */
typedef struct srt_rng {
    uint64_t s;
} srt_rng;

static inline uint64_t srt_rand(srt_rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform in [0, n), n > 0. */
static inline uint32_t srt_below(srt_rng *r, uint32_t n)
{
    return (uint32_t)(((srt_rand(r) >> 32) * (uint64_t)n) >> 32);
}

/* The seed from the environment variable name, or dflt; printed. */
uint64_t srt_seed_from_env(const char *name, uint64_t dflt);

/* ------------------------------------------------------------ environment */

/* A pool (with the counting allocator) and one assembler feeding a
 * recorder. srt_feed() checks every result (totals, limits) on the way. */
typedef struct srt_env {
    srt_recorder rec;
    srt_alloc alloc;
    sr_options opt;
    sr_pool *pool;
    sr_assembler *a;
    sr_result last;        /* result of the last srt_feed */
    unsigned errors;       /* non-OK returns from srt_feed */
} srt_env;

/* o NULL = defaults. */
void srt_env_open(srt_env *e, const sr_options *o, size_t max_connections);
/* Free the assembler and the pool; assert every stream completed exactly
 * once, conservation, no leaked or mis-sized allocation. */
void srt_env_close(srt_env *e);
/* Feed one segment of connection conn (A->B, or B->A if b_to_a); data is a
 * payload spec or NULL. */
sr_error srt_feed(srt_env *e, uint32_t conn, bool b_to_a, uint32_t seq, uint8_t flags,
                  const char *data, sr_time ts, void *ctx);
sr_error srt_feed_flow(srt_env *e, const sr_flow *f, uint32_t seq, uint8_t flags,
                       const char *data, size_t claimed, sr_time ts, void *ctx);
sr_error srt_feed_raw(srt_env *e, const sr_flow *f, uint32_t seq, uint8_t flags,
                      const uint8_t *data, size_t len, size_t claimed, sr_time ts, void *ctx);
/* Check the page limits against the assembler's stats and e->last. */
void srt_env_check_limits(srt_env *e);
/* The recorded stream of connection id (must exist). */
srt_stream *srt_env_stream(srt_env *e, uint64_t id);

/* Initial sequence numbers every table test runs at. */
extern const uint32_t srt_isns[4];

/* Run the current test case in a child with a timeout, so that a deadlock
 * or crash fails that case only (the others still run). Use as:
 *   if (srt_subprocess_child()) { ...body...; return; }
 *   srt_run_in_subprocess(10);                                         */
bool srt_subprocess_child(void);
void srt_run_in_subprocess(unsigned timeout_s);

#endif /* SR_TEST_UTIL_H */
