/* lifecycle.c - a connection's life in one place: open (orientation, id,
 * new_stream), what a segment finds when it arrives (idle timeout, idle
 * flush, a late segment of a closed connection or a new one reusing its
 * ports, linger over), completion for every reason, linger, and eviction.
 *
 *   acquire (pool.c) --> open --> OPEN --arrive/segment/sweep--> finish
 *        finish --> CLOSED (FIN, RST, callback error; lingers) --> forgotten
 *               \-> DEAD   (timeout, flush, eviction, pool close)
 *
 * pool.c only keeps the table, the LRU and the caches; conn.c only moves
 * bytes. Every function here takes the connection locked.
 *
 * Copyright (c) 2026 The safereasm authors. SPDX-License-Identifier: BSD-3-Clause */
#include "sr-internal.h"

#include <string.h>

void sr__conn_info(const sr__conn *c, sr_conn_info *out)
{
    /* Every field set one by one: a memset of the whole struct compiles
     * to `rep stos`, slow to start for this size, and this runs for every
     * chunk delivered. Only the address bytes an IPv4 flow leaves unused
     * are cleared, besides what is set. */
    out->id = c->id;
    /* The flow in client -> server orientation, rebuilt from the key. */
    sr_flow *f = &out->flow;
    f->ip_version = c->key.ip_version;
    f->zone = c->key.zone;
    int ci = c->client_is_a ? 0 : 1;
    /* Constant sizes per version: moves in place, no memcpy call. */
    if (c->key.ip_version == 4) {
        memset(f->src.addr, 0, sizeof f->src.addr);
        memset(f->dst.addr, 0, sizeof f->dst.addr);
        memcpy(f->src.addr, c->key.addr.v4 + ci * 4, 4);
        memcpy(f->dst.addr, c->key.addr.v4 + (1 - ci) * 4, 4);
    } else {
        memcpy(f->src.addr, c->key.addr.v6 + ci * 16, 16);
        memcpy(f->dst.addr, c->key.addr.v6 + (1 - ci) * 16, 16);
    }
    f->src.port = c->key.port[ci];
    f->dst.port = c->key.port[1 - ci];
    for (int d = 0; d < 2; d++) {
        const sr__half *h = &c->half[d];
        const sr__side *sd = h->side;
        out->delivered[d] = h->delivered;
        out->skipped[d] = h->next - h->delivered;
        out->conflicts[d] = sd ? sd->conflicts : 0;
        out->dropped[d] = sd ? sd->dropped : 0;
        out->dropped_segments[d] = sd ? sd->dropped_segments : 0;
    }
    out->pages_buffered = atomic_load_explicit(&c->pages, memory_order_relaxed);
}

sr_error sr__conn_open(sr__ctx *x, sr__conn *c, const sr_flow *flow, const sr_segment *seg,
                       bool src_is_a, sr__held *frame)
{
    sr_pool *p = x->pool;
    /* Who is the client: the SYN's sender, the SYN+ACK's receiver, or else
     * whoever spoke first. */
    bool synack = (seg->flags & (SR_TCP_SYN | SR_TCP_ACK)) == (SR_TCP_SYN | SR_TCP_ACK);
    c->client_is_a = synack ? !src_is_a : src_is_a;
    c->id = atomic_fetch_add(&p->next_id, 1) + 1;
    (void)flow; /* the key holds it (sr__conn_info rebuilds it) */
    c->acct = x->acct;
    sr__acct_ref(x->acct);
    atomic_store(&c->last_seen, x->now);

    void *stream = NULL;
    if (p->factory.new_stream) {
        sr_conn_info info;
        sr__conn_info(c, &info);
        stream = p->factory.new_stream(p->factory.user_data, &info, x->packet_ctx);
    }
    if (!stream) {
        SR__PCOUNT(p, nil_streams, 1);
        atomic_store(&c->state, SR__DEAD);
        sr__pool_unlink(p, c);
        sr__conn_unlock(c, frame);
        sr__conn_unref(c);
        return SR_ERR_NIL_STREAM;
    }
    c->u.stream = stream;
    SR__PCOUNT(p, total_created, 1);
    atomic_store(&c->state, SR__OPEN);
    return SR_OK;
}

static void count_close(sr__ctx *x, sr_pool *p, sr_close_reason why)
{
    SR__PCOUNT(p, closed, 1);
    switch (why) {
    case SR_CLOSE_FIN: SR__PCOUNT(p, closed_fin, 1); break;
    case SR_CLOSE_RST: SR__PCOUNT(p, closed_rst, 1); break;
    case SR_CLOSE_TIMEOUT:
        SR__PCOUNT(p, closed_timeout, 1);
        SR__COUNT(x->acct, timeouts, 1);
        break;
    case SR_CLOSE_EVICTED:
        SR__PCOUNT(p, closed_evicted, 1);
        SR__COUNT(x->acct, evictions, 1);
        break;
    case SR_CLOSE_FLUSHED: SR__PCOUNT(p, closed_flushed, 1); break;
    case SR_CLOSE_CALLBACK_ERROR: SR__PCOUNT(p, closed_callback_error, 1); break;
    case SR_CLOSE_POOL_CLOSED: SR__PCOUNT(p, closed_pool_closed, 1); break;
    default: break;
    }
}

void sr__conn_finish(sr__ctx *x, sr__conn *c, sr_close_reason why)
{
    if (atomic_load(&c->state) != SR__OPEN)
        return;
    sr__conn_flush_pages(x, c);
    sr__conn_drain(x, c);
    /* Checked after the last delivery: a callback that fails on the final
     * flush aborts the connection as much as one that fails earlier. */
    if (c->failed)
        why = SR_CLOSE_CALLBACK_ERROR;
    sr_pool *p = c->pool;
    if (p->factory.on_complete) {
        sr_conn_info info;
        sr__conn_info(c, &info);
        info.pages_buffered = 0;
        p->factory.on_complete(p->factory.user_data, c->u.stream, &info, why, x->packet_ctx);
    }
    c->u.stream = NULL;
    /* Nothing is delivered any more: the conflict-history rings go now, not
     * when a lingering connection is forgotten (4 KiB a direction by
     * default, times every lingering connection). */
    sr__conn_release_pages(c, true);
    c->close_reason = (uint8_t)why;
    c->u.closed_at = x->now; /* the stream is gone: its word is free */
    atomic_store(&c->state, SR__CLOSED);
    count_close(x, p, why);
    /* FIN, RST and aborted connections are remembered, so late segments
     * are reported instead of starting a bogus new stream. */
    bool linger = x->opt && x->opt->closed_linger > 0 &&
                  (why == SR_CLOSE_FIN || why == SR_CLOSE_RST || why == SR_CLOSE_CALLBACK_ERROR);
    if (!linger) {
        atomic_store(&c->state, SR__DEAD);
        sr__pool_unlink(p, c);
    }
}

int sr__conn_idle(sr__ctx *x, sr__conn *c, sr_time close_before, sr_time flush_before)
{
    if (atomic_load(&c->state) != SR__OPEN || atomic_load(&c->detached))
        return 0;
    if (atomic_load(&c->last_seen) < close_before) {
        sr__conn_finish(x, c, SR_CLOSE_TIMEOUT);
        SR__COUNT(x->acct, connections_flushed, 1);
        return 2;
    }
    /* Data that has waited behind a hole for flush_interval is released,
     * even when the connection keeps receiving data beyond the hole. It
     * was due when its oldest page had waited that long. */
    int r = 0;
    sr_time due = INT64_MAX;
    for (int d = 0; d < 2; d++) { /* the npages check: a call saved per segment */
        const sr__half *h = &c->half[d];
        if (sr__half_npages(h) == 0)
            continue;
        sr_time oldest = h->side->oldest_at;
        if (sr__half_release_old(x, c, (sr_direction)d, flush_before)) {
            r = 1;
            due = MIN(due, oldest);
        }
    }
    if (r) {
        SR__COUNT(x->acct, connections_flushed, 1);
        sr__conn_trim_sides(c);
    }
    if (c->failed) {
        sr__conn_finish(x, c, SR_CLOSE_CALLBACK_ERROR);
        /* A callback failed on that data: the connection is remembered
         * from when the flush was due, not from when a sweep or its own
         * next segment happened to run it (FINDINGS F14). */
        if (due != INT64_MAX && x->opt && atomic_load(&c->state) == SR__CLOSED) {
            sr_time at = due > INT64_MAX - x->opt->flush_interval ? INT64_MAX
                                                                   : due + x->opt->flush_interval;
            if (at < c->u.closed_at)
                c->u.closed_at = at;
        }
        return 2;
    }
    return r;
}

bool sr__conn_forget_if_old(sr__ctx *x, sr__conn *c, sr_time linger_before)
{
    if (atomic_load(&c->state) != SR__CLOSED || c->u.closed_at >= linger_before)
        return false;
    atomic_store(&c->state, SR__DEAD);
    sr__pool_unlink(x->pool, c);
    return true;
}

/* A closed, remembered connection meets a segment. The rule:
 *  - a SYN without ACK starts a new connection (port reuse) unless its
 *    sequence number + 1 is where its sender's stream began (its ISN + 1,
 *    or the first data byte when no SYN was seen): that SYN is the
 *    connection's own, retransmitted or duplicated, and late;
 *  - a SYN of any kind also starts anew when the connection was reset
 *    before either side carried a byte (an RST spoofed ahead of the real
 *    handshake must not hide the session);
 *  - anything else is late. */
static bool reuses_ports(const sr__conn *c, sr_direction dir, const sr_segment *seg)
{
    const sr__half *h = &c->half[dir];
    bool syn_only = (seg->flags & (SR_TCP_SYN | SR_TCP_ACK)) == SR_TCP_SYN;
    bool own_start = h->started && (uint32_t)(seg->seq + 1u) == h->base_seq;
    bool empty = c->half[0].next + c->half[1].next == 0 && /* delivered + skipped */
                 c->close_reason == SR_CLOSE_RST;
    return (syn_only && !own_start) || ((seg->flags & SR_TCP_SYN) && empty);
}

sr__arrival sr__conn_arrive(sr__ctx *x, sr__conn *c, sr_direction dir, const sr_segment *seg,
                            bool first_attempt)
{
    int st = atomic_load(&c->state);
    if (st == SR__OPEN) {
        /* The sweep's checks, made now: whether a sweep ran since the last
         * segment (and on which thread) changes nothing. Completed so, it
         * is as if a sweep had done it before this segment came: the
         * lookup again is this segment's first look at a closed one. */
        if (sr__conn_idle(x, c, sr__time_back(x->now, x->opt->connection_timeout),
                          sr__time_back(x->now, x->opt->flush_interval)) == 2)
            return SR__ARRIVE_RETRY_FIRST;
        return SR__ARRIVE_TAKE;
    }
    if (st != SR__CLOSED)
        return SR__ARRIVE_RETRY;
    if (sr__conn_forget_if_old(x, c, sr__time_back(x->now, x->opt->closed_linger)))
        return SR__ARRIVE_RETRY;
    if (!first_attempt || !reuses_ports(c, dir, seg))
        return SR__ARRIVE_LATE;
    atomic_store(&c->state, SR__DEAD);
    sr__pool_unlink(x->pool, c);
    return SR__ARRIVE_RETRY;
}

void sr__conn_evict(sr__ctx *x, sr__conn *v, bool wait)
{
    sr__held frame;
    bool locked = wait ? sr__conn_lock(v, &frame) == SR_OK : sr__conn_trylock(v, &frame);
    if (!locked) {
        sr__pool_defer_victim(x->pool, v);
        return;
    }
    if (atomic_load(&v->state) == SR__OPEN) {
        sr__ctx vx = *x;
        vx.acct = v->acct ? v->acct : x->acct;
        vx.status = 0;
        vx.cb_err = SR_OK;
        sr__conn_finish(&vx, v, SR_CLOSE_EVICTED);
    }
    atomic_store(&v->state, SR__DEAD);
    sr__conn_unlock(v, &frame);
    sr__conn_unref(v);
}
