/* assembler.c - the entry points that feed segments: argument checks,
 * connection lookup, the capture-time sweep (idle timeout and periodic
 * flush), explicit flushes, and the optional wall-clock flush thread. */
#include "sr-internal.h"

#include <sched.h>
#include <string.h>
#include <time.h>

struct sr_assembler {
    sr_pool *pool;
    sr__acct *acct;
    sr_options opt;
    atomic_bool closed;
    atomic_int inflight;          /* sr_assemble calls inside right now */
    _Atomic sr_time clock;        /* latest capture time seen (monotonic) */
    _Atomic sr_time last_sweep;   /* capture time of the last sweep */
    atomic_bool swept_once;
    GThread *bg;
    pthread_mutex_t bg_lock;      /* a plain mutex: bg_cond waits on it */
    pthread_cond_t bg_cond;       /* monotonic clock */
    bool bg_stop;                 /* under bg_lock */
};

static bool flow_ok(const sr_flow *f)
{
    return f->ip_version == 4 || f->ip_version == 6;
}

static bool segment_ok(const sr_segment *s)
{
    if (s->payload_len > 0 && !s->payload)
        return false;
    if (s->claimed_len != 0 && s->claimed_len < s->payload_len)
        return false;
    /* Nothing TCP can carry comes near this; larger values are nonsense
     * that would break 32-bit sequence arithmetic. */
    size_t claimed = s->claimed_len ? s->claimed_len : s->payload_len;
    return claimed <= (size_t)INT32_MAX;
}

static sr__ctx ctx_of(sr_assembler *a, void *packet_ctx, sr_time now)
{
    sr__ctx x = {.pool = a->pool, .acct = a->acct, .opt = &a->opt, .packet_ctx = packet_ctx,
                 .now = now};
    return x;
}

/* Complete the evicted connections nested calls queued. wait: lock each
 * even if another thread holds it now; else leave such a one queued (the
 * end of a call: the holder completes it at the end of its own call). */
static void finish_pending(sr_assembler *a, void *packet_ctx, sr_time now, bool wait)
{
    /* Checked before anything else: every call without a callback around
     * it comes here, and there is almost never anything queued. */
    if (!atomic_load(&a->pool->has_pending))
        return;
    sr__ctx x = ctx_of(a, packet_ctx, now);
    for (sr__conn *v = sr__pool_take_pending(a->pool), *n; v; v = n) {
        n = v->l.next_free;
        v->l.next_free = NULL;
        sr__conn_evict(&x, v, wait);
    }
}

/* The capture clock: never goes back, so a timestamp out of order (merged
 * interfaces, a clock step) cannot undo a timeout or a flush already due. */
static sr_time advance_clock(sr_assembler *a, sr_time ts)
{
    sr_time cur = atomic_load(&a->clock);
    if (a->pool->single) {
        if (ts <= cur)
            return cur;
        atomic_store_explicit(&a->clock, ts, memory_order_relaxed);
        return ts;
    }
    while (ts > cur && !atomic_compare_exchange_weak(&a->clock, &cur, ts))
        ;
    return ts > cur ? ts : cur;
}

/* Visit the pool's connections whose last segment is older than `before`
 * (all of them: INT64_MAX), oldest first, each under its own lock with a
 * context for this assembler; with open_only, none that has completed
 * (sr__pool_collect). Returns the sum of what fn returns. */
typedef size_t (*conn_visit_fn)(sr__ctx *x, sr__conn *c, void *data);

static size_t visit_conns(sr_assembler *a, sr_time before, bool with_pages, bool open_only,
                          sr_time now, void *packet_ctx, conn_visit_fn fn, void *data)
{
    size_t n = 0;
    GPtrArray *list = sr__pool_collect(a->pool, before, with_pages, open_only);
    for (guint i = 0; i < list->len; i++) {
        sr__conn *c = list->pdata[i];
        sr__held frame;
        if (sr__conn_lock(c, &frame) == SR_OK) {
            sr__ctx x = ctx_of(a, packet_ctx, now);
            if (c->acct)
                x.acct = c->acct;
            n += fn(&x, c, data);
            sr__conn_unlock(c, &frame);
        }
        sr__conn_unref(c);
    }
    g_ptr_array_free(list, TRUE);
    return n;
}

typedef struct sweep_args {
    sr_time close_before, flush_before, linger_before;
    sr__acct *own;  /* only connections this accounting fed last (or
                       orphans); NULL = all */
    size_t flushed, closed;
} sweep_args;

static size_t sweep_one(sr__ctx *x, sr__conn *c, void *data)
{
    sweep_args *w = data;
    /* The periodic sweep of one assembler runs on that assembler's clock;
     * another assembler's connections follow another clock, and timing
     * them out here would cut them short while their segments still wait
     * in that assembler's thread. */
    if (w->own && c->acct != w->own && !(c->acct && atomic_load(&c->acct->orphan)))
        return 0;
    int r = sr__conn_idle(x, c, w->close_before, w->flush_before);
    /* A connection completed here counts as closed only (its pages went
     * with it): `flushed` is the other connections (F19). */
    w->closed += r == 2;
    w->flushed += r == 1;
    if (r == 0 && !sr__conn_forget_if_old(x, c, w->linger_before))
        sr__conn_trim_sides(c); /* cold parts left empty (conn.c) */
    return 0;
}

/* The sweep: complete connections idle since before close_before, release
 * the pages of directions waiting since before flush_before, and forget
 * closed ones closed before linger_before. */
static void sweep(sr_assembler *a, sr_time now, sr_time close_before, sr_time flush_before,
                  sr_time linger_before, bool own_only, void *packet_ctx, size_t *flushed,
                  size_t *closed)
{
    sweep_args w = {close_before, flush_before, linger_before, own_only ? a->acct : NULL, 0, 0};
    visit_conns(a, MAX(close_before, linger_before), true, false, now, packet_ctx, sweep_one, &w);
    if (flushed)
        *flushed = w.flushed;
    if (closed)
        *closed = w.closed;
    finish_pending(a, packet_ctx, now, true);
    sr__acct_shrink_cache(a->acct);
    sr__pool_shrink_cache(a->pool);
}

static void periodic_sweep(sr_assembler *a, sr_time now, void *packet_ctx)
{
    sweep(a, now, sr__time_back(now, a->opt.connection_timeout),
          sr__time_back(now, a->opt.flush_interval), sr__time_back(now, a->opt.closed_linger),
          true, packet_ctx, NULL, NULL);
}

/* Run the capture-time sweep when time has moved flush_interval past the
 * last one. One thread wins the compare-and-swap; the others go on. */
static void maybe_sweep(sr_assembler *a, sr_time now, void *packet_ctx)
{
    if (!atomic_load(&a->swept_once)) {
        /* The first segment starts the clock. */
        if (!atomic_exchange(&a->swept_once, true))
            atomic_store(&a->last_sweep, now);
        return;
    }
    sr_time last = atomic_load(&a->last_sweep);
    if (!sr__time_passed(last, now, a->opt.flush_interval))
        return;
    if (!atomic_compare_exchange_strong(&a->last_sweep, &last, now))
        return;
    periodic_sweep(a, now, packet_ctx);
}

static gpointer bg_main(gpointer data)
{
    sr_assembler *a = data;
    pthread_mutex_lock(&a->bg_lock);
    while (!a->bg_stop) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += (time_t)(a->opt.flush_interval / SR_USEC_PER_SEC);
        until.tv_nsec += (long)(a->opt.flush_interval % SR_USEC_PER_SEC) * 1000;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        while (!a->bg_stop && pthread_cond_timedwait(&a->bg_cond, &a->bg_lock, &until) == 0)
            ;
        if (a->bg_stop)
            break;
        pthread_mutex_unlock(&a->bg_lock);
        if (sr__pool_enter(a->pool)) {
            periodic_sweep(a, advance_clock(a, g_get_real_time()), NULL);
            sr__pool_leave(a->pool);
        }
        pthread_mutex_lock(&a->bg_lock);
    }
    pthread_mutex_unlock(&a->bg_lock);
    return NULL;
}

sr_error sr_assembler_new(sr_pool *pool, const sr_options *options, sr_assembler **out)
{
    if (!out)
        return SR_ERR_INVALID_ARGUMENT;
    *out = NULL;
    if (!pool)
        return SR_ERR_INVALID_ARGUMENT;
    if (atomic_load(&pool->closed))
        return SR_ERR_POOL_CLOSED;
    sr_error err = sr__pool_check_thread(pool, false, false);
    if (err != SR_OK)
        return err;
    sr_options o;
    if (options)
        o = *options;
    else
        sr_options_init(&o);
    err = sr_options_validate(&o, NULL, 0);
    if (err != SR_OK)
        return err;
    if (o.background_flush && pool->single)
        return SR_ERR_INVALID_OPTIONS; /* a second thread in a one-thread pool */
    sr_assembler *a = sr__alloc(&pool->alloc, sizeof *a);
    if (!a)
        return SR_ERR_NO_MEMORY;
    memset(a, 0, sizeof *a);
    atomic_init(&a->clock, INT64_MIN);
    a->opt = o;
    a->acct = sr__acct_new(&pool->alloc, o.page_size, o.max_buffered_pages_total, pool->single);
    if (!a->acct) {
        sr__free(&pool->alloc, a, sizeof *a);
        return SR_ERR_NO_MEMORY;
    }
    a->pool = pool;
    sr__pool_ref(pool);
    pthread_mutex_init(&a->bg_lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&a->bg_cond, &ca);
    pthread_condattr_destroy(&ca);
    if (o.background_flush) {
        a->bg = g_thread_try_new("sr-flush", bg_main, a, NULL);
        if (!a->bg) {
            sr_assembler_free(a);
            return SR_ERR_THREAD;
        }
    }
    *out = a;
    return SR_OK;
}

static sr_error count_err(sr_assembler *a, sr_error e)
{
    if (e != SR_OK && a)
        SR__COUNT(a->acct, errors, 1);
    return e;
}

static sr_error assemble_entered(sr_assembler *a, const sr_flow *flow, const sr_segment *seg,
                                 void *packet_ctx, sr_result *result);

sr_error sr_assemble_ex(sr_assembler *a, const sr_flow *flow, const sr_segment *seg,
                        void *packet_ctx, sr_result *result)
{
    if (result) {
        memset(result, 0, sizeof *result);
        result->close_reason = -1;
    }
    if (!a)
        return SR_ERR_INVALID_ARGUMENT;
    sr_pool *p = a->pool;
    /* The wrong thread changes nothing, not even the error count. */
    sr_error te = sr__pool_check_thread(p, true, false);
    if (te != SR_OK)
        return te;
    if (!flow || !seg || !flow_ok(flow) || !segment_ok(seg))
        return count_err(a, SR_ERR_INVALID_ARGUMENT);
    /* Increment, then check: sr_assembler_close() sets `closed` first and
     * then waits for inflight == 0, so one of the two sees the other and
     * no call can buffer pages after close has flushed them. */
    sr__add_int(&a->inflight, 1, p->single);
    if (atomic_load(&a->closed)) {
        sr__add_int(&a->inflight, -1, p->single);
        return count_err(a, SR_ERR_ASSEMBLER_CLOSED);
    }
    sr_error ret;
    if (!sr__pool_enter(p)) {
        ret = SR_ERR_POOL_CLOSED;
    } else {
        ret = assemble_entered(a, flow, seg, packet_ctx, result);
        sr__pool_leave(p);
    }
    sr__add_int(&a->inflight, -1, p->single);
    return count_err(a, ret);
}

/* A connection's id and totals into a result. c is locked. */
static void result_totals(sr_result *r, const sr__conn *c)
{
    r->conn_id = c->id;
    for (int d = 0; d < 2; d++) {
        const sr__half *h = &c->half[d];
        r->delivered[d] = h->delivered;
        r->skipped[d] = h->next - h->delivered;
        r->dropped[d] = h->side ? h->side->dropped : 0;
    }
}

static sr_error assemble_entered(sr_assembler *a, const sr_flow *flow, const sr_segment *seg,
                                 void *packet_ctx, sr_result *result)
{
    sr_pool *p = a->pool;
    const sr_time now = advance_clock(a, seg->timestamp);
    bool nested = sr__thread_holds_any();
    if (!nested)
        finish_pending(a, packet_ctx, now, true);
    size_t claimed = seg->claimed_len ? seg->claimed_len : seg->payload_len;
    SR__COUNT(a->acct, packets_processed, 1);
    SR__COUNT(a->acct, bytes_processed, claimed);

    sr__conn *c = NULL, *victim = NULL;
    sr__held frame;
    bool created = false, src_is_a = false;
    sr_direction dir = SR_DIR_CLIENT_TO_SERVER;
    sr_error err;
    sr__ctx x = ctx_of(a, packet_ctx, now);
    bool first = true;
    for (;;) {
        sr__conn *ev = NULL;
        err = sr__pool_acquire(p, flow, a->acct, &c, &frame, &created, &src_is_a, &ev);
        if (ev) {
            if (victim) /* one victim per call is kept for the result */
                sr__conn_evict(&x, victim, true);
            victim = ev;
        }
        if (err != SR_OK)
            break;
        if (created) {
            err = sr__conn_open(&x, c, flow, seg, src_is_a, &frame);
            if (err != SR_OK)
                c = NULL; /* released by sr__conn_open */
            break;
        }
        dir = (src_is_a == c->client_is_a) ? SR_DIR_CLIENT_TO_SERVER : SR_DIR_SERVER_TO_CLIENT;
        sr__arrival what = sr__conn_arrive(&x, c, dir, seg, first);
        first = what == SR__ARRIVE_RETRY_FIRST;
        if (what == SR__ARRIVE_TAKE)
            break;
        if (what == SR__ARRIVE_LATE) {
            SR__COUNT(a->acct, after_close, 1);
            if (result) {
                result_totals(result, c);
                result->dir = dir;
                result->status = SR_SEG_AFTER_CLOSE;
            }
            sr__conn_unlock(c, &frame);
            sr__conn_unref(c);
            c = NULL;
            err = SR_ERR_CONNECTION_CLOSED;
            break;
        }
        /* Completed on arrival (idle timeout), forgotten, or its ports
         * reused: look the key up again; a new connection follows. */
        sr__conn_unlock(c, &frame);
        sr__conn_unref(c);
        c = NULL;
        x.status = 0;
        x.cb_err = SR_OK;
    }

    if (c) {
        dir = (src_is_a == c->client_is_a) ? SR_DIR_CLIENT_TO_SERVER : SR_DIR_SERVER_TO_CLIENT;
        if (created)
            x.status |= SR_SEG_NEW_CONNECTION;
        if (victim)
            x.status |= SR_SEG_EVICTED_OTHER;
        if (c->acct != a->acct) {
            sr__acct_ref(a->acct);
            sr__acct_unref(c->acct);
            c->acct = a->acct;
        }
        /* Capture times from several threads interleave; keep the latest.
         * Relaxed: written only under c's lock, and the one reader without
         * it (sr__pool_collect) checks again under the lock. */
        if (now > atomic_load_explicit(&c->last_seen, memory_order_relaxed))
            atomic_store_explicit(&c->last_seen, now, memory_order_relaxed);
        sr__pool_touch(p, c);
        err = sr__conn_segment(&x, c, dir, seg);
        if (err == SR_OK && x.cb_err != SR_OK)
            err = x.cb_err;
        if (result) {
            result_totals(result, c);
            result->dir = dir;
            result->status = x.status;
            result->conn_pages = atomic_load(&c->pages);
            if (x.status & SR_SEG_CLOSED)
                result->close_reason = (int)c->close_reason;
        }
        sr__conn_unlock(c, &frame);
        sr__conn_unref(c);
    }
    if (victim) {
        /* We hold no connection lock here unless nested in a callback;
         * then the victim is queued for the next call (sr__conn_evict). */
        sr__conn_evict(&x, victim, true);
        if (result)
            result->status |= SR_SEG_EVICTED_OTHER;
    }
    if (!nested && err != SR_ERR_POOL_CLOSED) {
        /* A victim a nested call queued because this thread held it (in a
         * callback of this call) is completed now that nothing is held,
         * not whenever the next call comes (FINDINGS F6). */
        finish_pending(a, packet_ctx, now, false);
        maybe_sweep(a, now, packet_ctx);
    }
    return err;
}

sr_error sr_assemble(sr_assembler *a, const sr_flow *flow, const sr_segment *seg,
                     void *packet_ctx)
{
    return sr_assemble_ex(a, flow, seg, packet_ctx, NULL);
}

/* Can a flush run? SR_ERR_WRONG_THREAD is not counted (the wrong thread
 * changes nothing); the others are. */
static sr_error usable(const sr_assembler *a)
{
    if (!a)
        return SR_ERR_INVALID_ARGUMENT;
    sr_error te = sr__pool_check_thread(a->pool, true, false);
    if (te != SR_OK)
        return te;
    if (sr__thread_holds_any())
        return SR_ERR_REENTRANT;
    if (atomic_load(&a->closed))
        return SR_ERR_ASSEMBLER_CLOSED;
    if (atomic_load(&a->pool->closed))
        return SR_ERR_POOL_CLOSED;
    return SR_OK;
}

sr_error sr_assembler_flush_older_than(sr_assembler *a, sr_time older_than, void *packet_ctx,
                                       size_t *flushed, size_t *closed)
{
    if (flushed)
        *flushed = 0;
    if (closed)
        *closed = 0;
    sr_error e = usable(a);
    if (e != SR_OK)
        return a && e != SR_ERR_WRONG_THREAD ? count_err(a, e) : e;
    if (!sr__pool_enter(a->pool))
        return count_err(a, SR_ERR_POOL_CLOSED);
    /* What it completes is completed at the assembler's capture time (its
     * latest segment's), as a sweep of sr_assemble() would: a connection
     * a failing callback aborts here lingers from then, not from
     * older_than (F19). Before any segment: older_than. */
    sr_time now = atomic_load(&a->clock);
    if (now == INT64_MIN)
        now = older_than;
    sweep(a, now, older_than, older_than, older_than, false, packet_ctx, flushed, closed);
    sr__pool_leave(a->pool);
    return SR_OK;
}

/* Complete an open connection (FLUSHED). */
static size_t finish_one(sr__ctx *x, sr__conn *c, void *data)
{
    (void)data;
    if (atomic_load(&c->state) != SR__OPEN || atomic_load(&c->detached))
        return 0;
    sr__conn_finish(x, c, SR_CLOSE_FLUSHED);
    SR__COUNT(x->acct, connections_flushed, 1);
    return 1;
}

/* Deliver the buffered pages of an open connection, gaps skipped, if it
 * holds pages (with `own`, NULL = any: pages charged to that accounting,
 * i.e. buffered by that assembler). */
static size_t flush_one(sr__ctx *x, sr__conn *c, void *data)
{
    const sr__acct *own = data;
    if (atomic_load(&c->state) != SR__OPEN || atomic_load(&c->detached) ||
        atomic_load(&c->pages) == 0 || (own && !sr__conn_holds_pages_of(c, own)))
        return 0;
    sr__conn_flush_pages(x, c);
    SR__COUNT(x->acct, connections_flushed, 1);
    return 1;
}

sr_error sr_assembler_flush_all(sr_assembler *a, void *packet_ctx, size_t *closed)
{
    if (closed)
        *closed = 0;
    sr_error e = usable(a);
    if (e != SR_OK)
        return a && e != SR_ERR_WRONG_THREAD ? count_err(a, e) : e;
    if (!sr__pool_enter(a->pool))
        return count_err(a, SR_ERR_POOL_CLOSED);
    sr_time now = advance_clock(a, INT64_MIN);
    size_t n = visit_conns(a, INT64_MAX, false, true, now, packet_ctx, finish_one, NULL);
    finish_pending(a, packet_ctx, now, true);
    sr__pool_leave(a->pool);
    if (closed)
        *closed = n;
    return SR_OK;
}

static void stop_bg(sr_assembler *a)
{
    if (!a->bg)
        return;
    pthread_mutex_lock(&a->bg_lock);
    a->bg_stop = true;
    pthread_cond_broadcast(&a->bg_cond);
    pthread_mutex_unlock(&a->bg_lock);
    g_thread_join(a->bg);
    a->bg = NULL;
}

sr_error sr_assembler_close(sr_assembler *a)
{
    if (!a)
        return SR_ERR_INVALID_ARGUMENT;
    if (sr__thread_holds_any())
        return SR_ERR_REENTRANT;
    sr_error te = sr__pool_check_thread(a->pool, true, false);
    if (te != SR_OK)
        return te;
    if (atomic_exchange(&a->closed, true))
        return SR_OK;
    stop_bg(a);
    /* Calls already past their `closed` check finish first. */
    while (atomic_load(&a->inflight) > 0)
        sched_yield();
    /* From now on other assemblers' sweeps adopt its connections. */
    atomic_store(&a->acct->orphan, true);
    /* Release what this assembler buffered: its pages would otherwise
     * wait in the pool's connections for a timeout nobody will drive.
     * Evicted connections still queued (a nested call could not lock
     * them) are out of the LRU list: they are completed first (F6). Only
     * connections holding its pages: others' streams are theirs to finish
     * (F15). */
    if (atomic_load(&a->acct->in_use) > 0 && sr__pool_enter(a->pool)) {
        sr_time now = advance_clock(a, INT64_MIN);
        finish_pending(a, NULL, now, true);
        visit_conns(a, INT64_MAX, false, true, now, NULL, flush_one, a->acct);
        sr__pool_leave(a->pool);
    }
    return SR_OK;
}

void sr_assembler_free(sr_assembler *a)
{
    if (!a)
        return;
    /* From a callback: the call that runs it (perhaps on this very
     * assembler) still uses it, and closing would flush connections under
     * the lock this thread holds. Refused, counted, nothing freed (F17). */
    if (sr__thread_holds_any()) {
        count_err(a, SR_ERR_REENTRANT);
        return;
    }
    (void)sr__pool_check_thread(a->pool, false, true); /* a single-thread pool: ours now */
    sr_assembler_close(a);
    pthread_mutex_destroy(&a->bg_lock);
    pthread_cond_destroy(&a->bg_cond);
    sr_pool *p = a->pool;
    sr__acct_unref(a->acct);
    sr_allocator al = p->alloc;
    sr__free(&al, a, sizeof *a);
    sr__pool_unref(p);
}

sr_error sr_assembler_get_stats(const sr_assembler *a, sr_assembler_stats *out)
{
    if (!a || !out)
        return SR_ERR_INVALID_ARGUMENT;
#define SR__XX(name, desc) out->name = atomic_load_explicit(&a->acct->c.name, memory_order_relaxed);
    SR_ASSEMBLER_STATS_MAP(SR__XX)
#undef SR__XX
    out->pages_in_use = atomic_load(&a->acct->in_use);
    return SR_OK;
}
