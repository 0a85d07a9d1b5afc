/* test-locks.c - the core's internal one-word locks (sr-internal.h):
 * sr__mutex (the pool's LRU and cache locks, the page cache) and
 * sr__rwlock (the pool's table lock). Threads hammer each lock with plain,
 * unprotected data behind it: a count that must come out exact, and two
 * fields a writer keeps equal that readers must never see apart. Holders
 * sleep now and then inside, so that others find the word held and park
 * (the slow path, its wake-up included). Meant for TSan as well: a missing
 * acquire/release shows there as a race on the plain data.
 *
 * Copyright (c) 2026 The safereasm authors. SPDX-License-Identifier: BSD-3-Clause
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <sched.h>
#include <time.h>

#include "sr-internal.h"
#include "sr-test-util.h"

#define NTHREADS 6
#define ROUNDS 20000

static void nap(void)
{
    struct timespec ts = {0, 20000}; /* 20 us */
    nanosleep(&ts, NULL);
}

/* ------------------------------------------------------------ mutex */

typedef struct mtx_shared {
    sr__mutex lock;
    uint64_t count; /* plain: only under lock */
    int inside;     /* plain: must be 1 whenever checked under lock */
    int overlaps;
} mtx_shared;

static void *mtx_thread(void *p)
{
    mtx_shared *s = p;
    for (int i = 0; i < ROUNDS; i++) {
        sr__mutex_lock(&s->lock);
        if (s->inside++ != 0)
            s->overlaps++;
        s->count++;
        if (i % 512 == 0)
            nap(); /* others find it held: they park */
        s->inside--;
        sr__mutex_unlock(&s->lock);
        if (i % 64 == 0)
            sched_yield();
    }
    return NULL;
}

static void test_mutex_exclusive(void)
{
    mtx_shared s = {0};
    sr__mutex_init(&s.lock, false);
    pthread_t t[NTHREADS];
    for (int i = 0; i < NTHREADS; i++)
        g_assert_cmpint(pthread_create(&t[i], NULL, mtx_thread, &s), ==, 0);
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(t[i], NULL);
    g_assert_cmpuint(s.count, ==, (uint64_t)NTHREADS * ROUNDS);
    g_assert_cmpint(s.overlaps, ==, 0);
    g_assert_cmpuint(atomic_load(&s.lock.w), ==, 0); /* free, nobody parked */
    sr__mutex_clear(&s.lock);
}

/* ------------------------------------------------------------ rwlock */

typedef struct rw_shared {
    sr__rwlock lock;
    uint64_t a, b;         /* plain: a writer keeps a == b */
    uint64_t writes;
    atomic_int readers_in; /* readers inside right now */
    atomic_int max_readers;
    atomic_int torn;       /* a reader saw a != b */
    atomic_int writer_with_readers;
} rw_shared;

static void *rw_thread(void *p)
{
    rw_shared *s = p;
    for (int i = 0; i < ROUNDS; i++) {
        if (i % 4 == 0) {
            sr__rwlock_writer_lock(&s->lock);
            if (atomic_load(&s->readers_in) != 0)
                atomic_fetch_add(&s->writer_with_readers, 1);
            s->a++;
            if (i % 1024 == 0)
                nap(); /* readers find a writer: they park */
            s->b++;
            s->writes++;
            sr__rwlock_writer_unlock(&s->lock);
        } else {
            sr__rwlock_reader_lock(&s->lock);
            int n = atomic_fetch_add(&s->readers_in, 1) + 1;
            int m = atomic_load(&s->max_readers);
            while (n > m && !atomic_compare_exchange_weak(&s->max_readers, &m, n))
                ;
            if (s->a != s->b)
                atomic_fetch_add(&s->torn, 1);
            if (i % 1023 == 0)
                nap(); /* a writer finds readers: it parks */
            atomic_fetch_sub(&s->readers_in, 1);
            sr__rwlock_reader_unlock(&s->lock);
        }
        if (i % 64 == 0)
            sched_yield();
    }
    return NULL;
}

static void test_rwlock(void)
{
    rw_shared s = {0};
    sr__rwlock_init(&s.lock, false);
    pthread_t t[NTHREADS];
    for (int i = 0; i < NTHREADS; i++)
        g_assert_cmpint(pthread_create(&t[i], NULL, rw_thread, &s), ==, 0);
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(t[i], NULL);
    g_assert_cmpuint(s.writes, ==, (uint64_t)NTHREADS * (ROUNDS / 4));
    g_assert_cmpuint(s.a, ==, s.writes);
    g_assert_cmpuint(s.b, ==, s.writes);
    g_assert_cmpint(atomic_load(&s.torn), ==, 0);
    g_assert_cmpint(atomic_load(&s.writer_with_readers), ==, 0);
    g_assert_cmpuint(atomic_load(&s.lock.s), ==, 0);
    /* Readers do share it: one overlap in 90,000 read sections, with
     * naps inside, is all this asks. */
    g_assert_cmpint(atomic_load(&s.max_readers), >, 1);
    sr__rwlock_clear(&s.lock);
}

/* One thread: a writer after readers, readers after a writer, the word back
 * to 0 each time (the fast paths alone). */
static void test_rwlock_single(void)
{
    sr__rwlock l;
    sr__rwlock_init(&l, false);
    sr__rwlock_reader_lock(&l);
    sr__rwlock_reader_lock(&l);
    g_assert_cmpuint(atomic_load(&l.s), ==, 2 * SR__RW_READER);
    sr__rwlock_reader_unlock(&l);
    sr__rwlock_reader_unlock(&l);
    g_assert_cmpuint(atomic_load(&l.s), ==, 0);
    sr__rwlock_writer_lock(&l);
    g_assert_cmpuint(atomic_load(&l.s), ==, SR__RW_WRITER);
    sr__rwlock_writer_unlock(&l);
    g_assert_cmpuint(atomic_load(&l.s), ==, 0);
    sr__rwlock_clear(&l);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/locks/mutex/exclusive", test_mutex_exclusive);
    g_test_add_func("/locks/rwlock/single-thread", test_rwlock_single);
    g_test_add_func("/locks/rwlock/readers-and-writers", test_rwlock);
    return g_test_run();
}
