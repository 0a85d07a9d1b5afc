/* counters.c - the generated counter table, taking a snapshot of it, and
 * the delta encoding records keep snapshots in.
 *
 * Copyright (c) 2026 The safereasm authors. SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <string.h>

#include "counters.h"
#include "record.h"

const srp_counter_info srp_counters[SRP_N_COUNTERS] = {
#define SRP__POOL(name, desc) [SRP_CTR_##name] = { #name, desc, TRUE },
#define SRP__ASM(name, desc) [SRP_CTR_##name] = { #name, desc, FALSE },
    SR_POOL_STATS_MAP(SRP__POOL)
    SR_ASSEMBLER_STATS_MAP(SRP__ASM)
#undef SRP__POOL
#undef SRP__ASM
};

sr_error
srp_snapshot_take(const sr_pool *pool, const sr_assembler *a, srp_snapshot *out)
{
    sr_pool_stats ps;
    sr_assembler_stats as;
    sr_error err;

    memset(out, 0, sizeof *out);
    memset(&ps, 0, sizeof ps);
    memset(&as, 0, sizeof as);
    if (pool != NULL && (err = sr_pool_get_stats(pool, &ps)) != SR_OK)
        return err;
    if (a != NULL && (err = sr_assembler_get_stats(a, &as)) != SR_OK)
        return err;

#define SRP__POOL(name, desc) out->v[SRP_CTR_##name] = ps.name;
#define SRP__ASM(name, desc) out->v[SRP_CTR_##name] = as.name;
    SR_POOL_STATS_MAP(SRP__POOL)
    SR_ASSEMBLER_STATS_MAP(SRP__ASM)
#undef SRP__POOL
#undef SRP__ASM
    return SR_OK;
}

/* ------------------------------------------------------------ delta encoding */

G_STATIC_ASSERT(SRP_N_SNAP <= 64); /* the mask is one 64-bit varint */

static guint8 *
put_varint(guint8 *p, guint64 v)
{
    while (v >= 0x80) {
        *p++ = (guint8)(v | 0x80);
        v >>= 7;
    }
    *p++ = (guint8)v;
    return p;
}

/* Encodings are made by srp_snap_encode only (never read from input), so
 * a varint is at most 10 bytes and always terminated. */
static const guint8 *
get_varint(const guint8 *p, guint64 *v)
{
    guint64 x = 0;

    for (guint shift = 0; shift < 64; shift += 7) {
        guint8 b = *p++;

        x |= (guint64)(b & 0x7f) << shift;
        if (!(b & 0x80))
            break;
    }
    *v = x;
    return p;
}

gsize
srp_snap_encode(const srp_snapshot *cur, const srp_snapshot *prev, gboolean key, guint8 *out)
{
    guint8 *p = out;
    guint64 mask = 0;

    for (int i = 0; i < SRP_N_SNAP; i++)
        if (cur->v[i] != (prev ? prev->v[i] : 0))
            mask |= G_GUINT64_CONSTANT(1) << i;
    *p++ = key ? 1 : 0;
    p = put_varint(p, mask);
    for (int i = 0; i < SRP_N_SNAP; i++) {
        if (mask & (G_GUINT64_CONSTANT(1) << i)) {
            gint64 d = (gint64)(cur->v[i] - (prev ? prev->v[i] : 0));

            /* zigzag: small negative changes (a gauge going down) stay short */
            p = put_varint(p, ((guint64)d << 1) ^ (guint64)(d >> 63));
        }
    }
    if (key)
        for (int i = 0; i < SRP_N_SNAP; i++)
            p = put_varint(p, cur->v[i]);
    return (gsize)(p - out);
}

static const guint8 *
decode_delta(const guint8 *enc, srp_snapshot *delta)
{
    const guint8 *p = enc + 1;
    guint64 mask, z;

    memset(delta, 0, sizeof *delta);
    p = get_varint(p, &mask);
    for (int i = 0; i < SRP_N_SNAP; i++) {
        if (mask & (G_GUINT64_CONSTANT(1) << i)) {
            p = get_varint(p, &z);
            delta->v[i] = (z >> 1) ^ (guint64)(-(gint64)(z & 1));
        }
    }
    return p;
}

void
srp_snap_delta(const guint8 *enc, srp_snapshot *delta)
{
    (void)decode_delta(enc, delta);
}

gboolean
srp_snap_absolute(const guint8 *enc, srp_snapshot *abs)
{
    srp_snapshot d;
    const guint8 *p;

    if (!(enc[0] & 1))
        return FALSE;
    p = decode_delta(enc, &d);
    for (int i = 0; i < SRP_N_SNAP; i++)
        p = get_varint(p, &abs->v[i]);
    return TRUE;
}

/* ------------------------------------------------------------ records */

guint srp_record_generation;

void
srp_record_snapshot(const srp_record *r, srp_snap_cache *cache, srp_snapshot *out)
{
    /* The walk is bounded by the driver: every SRP_SNAP_KEY_EVERY-th
     * snapshot is a key. The bound here only guards against a broken chain. */
    const srp_record *path[2 * SRP_SNAP_KEY_EVERY];
    const srp_record *p = r;
    guint n = 0;
    gboolean valid_cache = cache != NULL && cache->r != NULL &&
                           cache->gen == srp_record_generation;

    memset(out, 0, sizeof *out);
    while (p != NULL && n < G_N_ELEMENTS(path)) {
        /* A key first: a record freed at the next frame (one pass) is
         * always a key, and a later record may get the cached one's
         * address, so the cache is asked only about chained records. */
        if (p->snap_abs != NULL) {
            *out = *p->snap_abs;
            break;
        }
        if (p->snap != NULL && srp_snap_absolute(p->snap, out))
            break;
        if (valid_cache && p == cache->r) {
            *out = cache->abs;
            break;
        }
        path[n++] = p;
        p = p->prev;
    }
    while (n > 0) {
        srp_snapshot d;

        p = path[--n];
        if (p->snap == NULL)
            continue;
        srp_snap_delta(p->snap, &d);
        for (int i = 0; i < SRP_N_SNAP; i++)
            out->v[i] += d.v[i];
    }
    if (cache != NULL) {
        cache->r = r;
        cache->gen = srp_record_generation;
        cache->abs = *out;
    }
}

const srp_snapshot *
srp_record_abs(const srp_record *r, srp_snap_cache *cache, srp_snapshot *buf)
{
    if (r->snap_abs != NULL)
        return r->snap_abs;
    srp_record_snapshot(r, cache, buf);
    return buf;
}

const srp_snapshot *
srp_record_delta(const srp_record *r, srp_snapshot *buf)
{
    if (r->snap_delta != NULL)
        return r->snap_delta;
    if (r->snap != NULL)
        srp_snap_delta(r->snap, buf);
    else
        memset(buf, 0, sizeof *buf);
    return buf;
}
