/* bench-gen.c - deterministic synthetic captures for bench/run.sh.
 *
 * Writes classic pcap (Ethernet, IPv4, microsecond timestamps) with valid
 * IP and TCP checksums; every connection has a three-way handshake with
 * window scaling (so libnids' receive-window check admits deep queues)
 * and ends with FINs, and every hole is eventually filled, so all the
 * reassemblers should agree byte for byte. Shapes:
 *
 *   bulk  OUT [MB]          20 connections, server sends MB/20 each in
 *                           1460-byte segments, bursts of 8 with ~10 % of
 *                           the segments swapped with their neighbour and
 *                           1 % sent twice; client ACKs each burst
 *   many  OUT [CONNS] [ACTIVE]   CONNS connections (default 100000), each
 *                           a 96-byte request and a 4000-byte response
 *                           (4 KB of payload), ACTIVE (default 1000) open
 *                           at once, their packets interleaved at random
 *   scale OUT CONNS [MB] [SEG]   CONNS connections all open at once: all
 *                           handshakes, then round-robin data segments of
 *                           SEG bytes (default 100) alternating direction,
 *                           MB (default 200) of payload in total whatever
 *                           CONNS is, then all closes
 *   ooo   OUT reversed|random [SEGS] [SEG]   one connection, SEGS (default
 *                           1000000) segments of SEG bytes (default 1):
 *                           segments 1..SEGS-1 in reversed or random
 *                           order, then segment 0, which fills the hole
 *
 * A summary (packets, bytes, reordered, duplicated) goes to stderr.
 * The PRNG is splitmix64 with a fixed seed: the same arguments give the
 * same file on every machine.
 *
 * Copyright (c) 2026 The safereasm authors. SPDX-License-Identifier: BSD-3-Clause
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { F_FIN = 1, F_SYN = 2, F_RST = 4, F_PSH = 8, F_ACK = 16 };

static FILE *out;
static uint64_t ts_us = 1700000000ull * 1000000ull;
static uint64_t n_pkts, n_bytes, n_payload, n_reord, n_dup;
static uint64_t rng_state = 0x5afe5eedull;
static uint8_t blob[65536 + 2048]; /* payload source: stream offset mod 64 KiB */

static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double rnd01(void) { return (double)(rnd() >> 11) / (double)(1ull << 53); }

static void put16(uint8_t *p, uint16_t v) { p[0] = v >> 8; p[1] = v & 0xff; }
static void put32(uint8_t *p, uint32_t v) { put16(p, v >> 16); put16(p + 2, v & 0xffff); }

static uint32_t sum16(const uint8_t *p, size_t n, uint32_t s)
{
    for (; n > 1; n -= 2, p += 2)
        s += (uint32_t)p[0] << 8 | p[1];
    if (n)
        s += (uint32_t)p[0] << 8;
    return s;
}

static uint16_t fold(uint32_t s)
{
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint16_t)~s;
}

typedef struct {
    uint32_t cip, sip;
    uint16_t cport, sport;
    uint32_t cisn, sisn;
    uint64_t coff, soff; /* next stream offset each way (payload only) */
} conn;

/* One frame; dir 0 = client to server. seq/ack are stream offsets from
 * the ISNs (payload starts at isn+1). */
static void frame(const conn *c, int dir, uint8_t flags, uint64_t off, uint64_t ack_off,
                  const uint8_t *pl, uint32_t len, int ack_valid)
{
    static uint8_t b[14 + 20 + 24 + 65536];
    int syn = flags & F_SYN;
    uint32_t thl = syn ? 24 : 20;
    uint32_t iplen = 20 + thl + len;
    uint32_t src = dir ? c->sip : c->cip, dst = dir ? c->cip : c->sip;
    uint32_t isn = dir ? c->sisn : c->cisn, risn = dir ? c->cisn : c->sisn;
    memset(b, 0, 14 + 20 + thl);
    b[5] = 1; b[11] = 2; /* MACs 00..01 / 00..02 */
    put16(b + 12, 0x0800);
    uint8_t *ip = b + 14;
    ip[0] = 0x45;
    put16(ip + 2, (uint16_t)iplen);
    put16(ip + 4, (uint16_t)n_pkts);
    put16(ip + 6, 0x4000); /* DF */
    ip[8] = 64;
    ip[9] = 6;
    put32(ip + 12, src);
    put32(ip + 16, dst);
    put16(ip + 10, fold(sum16(ip, 20, 0)));
    uint8_t *t = ip + 20;
    put16(t, dir ? c->sport : c->cport);
    put16(t + 2, dir ? c->cport : c->sport);
    put32(t + 4, syn ? isn : (uint32_t)(isn + 1 + off));
    put32(t + 8, ack_valid ? (uint32_t)(risn + 1 + ack_off) : 0);
    t[12] = (uint8_t)((thl / 4) << 4);
    t[13] = flags | (ack_valid ? F_ACK : 0);
    put16(t + 14, 0xffff);
    if (syn) { /* NOP, window scale 14 */
        t[20] = 1; t[21] = 3; t[22] = 3; t[23] = 14;
    }
    if (len)
        memcpy(t + thl, pl, len);
    uint32_t s = sum16(ip + 12, 8, 0) + 6 + thl + len;
    put16(t + 16, fold(sum16(t, thl + len, s)));
    uint32_t caplen = 14 + iplen;
    uint8_t rh[16];
    uint32_t sec = (uint32_t)(ts_us / 1000000), usec = (uint32_t)(ts_us % 1000000);
    memcpy(rh, &sec, 4); memcpy(rh + 4, &usec, 4); /* host order, magic says which */
    memcpy(rh + 8, &caplen, 4); memcpy(rh + 12, &caplen, 4);
    fwrite(rh, 1, 16, out);
    fwrite(b, 1, caplen, out);
    n_pkts++;
    n_bytes += 16 + caplen;
    n_payload += len;
}

static void data(conn *c, int dir, uint64_t off, uint32_t len)
{
    const uint8_t *pl = blob + (off % 65536);
    frame(c, dir, F_PSH, off, dir ? c->coff : c->soff, pl, len, 1);
}

static void syn(conn *c) { frame(c, 0, F_SYN, 0, 0, NULL, 0, 0); }
static void synack(conn *c) { frame(c, 1, F_SYN, 0, 0, NULL, 0, 1); }
static void ack(conn *c, int dir) { frame(c, dir, 0, dir ? c->soff : c->coff, dir ? c->coff : c->soff, NULL, 0, 1); }
static void fin(conn *c, int dir) { frame(c, dir, F_FIN, dir ? c->soff : c->coff, dir ? c->coff : c->soff, NULL, 0, 1); }

static void conn_init(conn *c, uint64_t i)
{
    /* 10.0.(i / 60000 + 1).(i % 250 + 1), port 1024 + i % 60000: unique for
     * any i below 60000 * 255 */
    c->cip = 0x0a000000u | (uint32_t)(i / 60000 + 1) << 8 | (uint32_t)(i % 250 + 1);
    c->cport = (uint16_t)(1024 + i % 60000);
    c->sip = 0xc0a80001u | (uint32_t)(i % 16) << 8; /* 192.168.N.1 */
    c->sport = 80;
    c->cisn = (uint32_t)rnd();
    c->sisn = (uint32_t)rnd();
    c->coff = c->soff = 0;
}

static void tick(uint64_t us) { ts_us += us; }

static void gen_bulk(uint64_t mb)
{
    enum { NC = 20, SEG = 1460, REQ = 200 };
    conn cs[NC];
    uint64_t want = mb * 1000000ull / NC; /* payload per connection */
    for (int i = 0; i < NC; i++) {
        conn_init(&cs[i], (uint64_t)i * 60001);
        syn(&cs[i]); tick(20);
        synack(&cs[i]); tick(20);
        ack(&cs[i], 0); tick(20);
        data(&cs[i], 0, 0, REQ); tick(20);
        cs[i].coff = REQ;
    }
    int left = NC;
    while (left) {
        conn *c = &cs[rnd() % NC];
        if (c->soff >= want)
            continue;
        uint64_t offs[8];
        uint32_t lens[8];
        int n = 0;
        for (; n < 8 && c->soff < want; n++) {
            uint64_t l = want - c->soff < SEG ? want - c->soff : SEG;
            offs[n] = c->soff;
            lens[n] = (uint32_t)l;
            c->soff += l;
        }
        for (int k = 0; k + 1 < n; k++)
            if (rnd01() < 0.1) {
                uint64_t o = offs[k]; offs[k] = offs[k + 1]; offs[k + 1] = o;
                uint32_t l = lens[k]; lens[k] = lens[k + 1]; lens[k + 1] = l;
                n_reord++;
                k++;
            }
        for (int k = 0; k < n; k++) {
            frame(c, 1, F_PSH, offs[k], c->coff, blob + offs[k] % 65536, lens[k], 1);
            tick(20);
            if (rnd01() < 0.01) {
                frame(c, 1, F_PSH, offs[k], c->coff, blob + offs[k] % 65536, lens[k], 1);
                tick(20);
                n_dup++;
            }
        }
        ack(c, 0); tick(20);
        if (c->soff >= want) {
            fin(c, 1); tick(20);
            fin(c, 0); tick(20);
            c->coff++; c->soff++;
            ack(c, 1); tick(20);
            left--;
        }
    }
}

/* many: per-connection script of 11 packets. */
static void many_step(conn *c, int step)
{
    enum { REQ = 96 };
    switch (step) {
    case 0: syn(c); break;
    case 1: synack(c); break;
    case 2: ack(c, 0); break;
    case 3: data(c, 0, 0, REQ); c->coff = REQ; break;
    case 4: data(c, 1, 0, 1460); break;
    case 5: data(c, 1, 1460, 1460); break;
    case 6: data(c, 1, 2920, 1080); c->soff = 4000; break;
    case 7: ack(c, 0); break;
    case 8: fin(c, 1); c->soff++; break;
    case 9: fin(c, 0); c->coff++; break;
    case 10: ack(c, 1); break;
    }
}

static void gen_many(uint64_t nconns, uint64_t active)
{
    if (active > nconns)
        active = nconns;
    conn *cs = calloc(active, sizeof *cs);
    int *step = calloc(active, sizeof *step);
    uint64_t next = 0, live = 0;
    for (; next < active; next++, live++)
        conn_init(&cs[next], next);
    while (live) {
        uint64_t k = rnd() % active;
        if (step[k] < 0)
            continue;
        many_step(&cs[k], step[k]++);
        tick(10);
        if (step[k] == 11) {
            if (next < nconns) {
                conn_init(&cs[k], next++);
                step[k] = 0;
            } else {
                step[k] = -1;
                live--;
            }
        }
    }
    free(cs);
    free(step);
}

static void gen_scale(uint64_t nconns, uint64_t mb, uint32_t seg)
{
    conn *cs = calloc(nconns, sizeof *cs);
    uint64_t total_segs = mb * 1000000ull / seg;
    uint64_t rounds = total_segs / nconns;
    if (rounds < 1)
        rounds = 1;
    for (uint64_t i = 0; i < nconns; i++) {
        conn_init(&cs[i], i);
        syn(&cs[i]); tick(1);
        synack(&cs[i]); tick(1);
        ack(&cs[i], 0); tick(1);
    }
    for (uint64_t r = 0; r < rounds; r++)
        for (uint64_t i = 0; i < nconns; i++) {
            conn *c = &cs[i];
            int dir = (int)(r & 1);
            if (dir) {
                data(c, 1, c->soff, seg);
                c->soff += seg;
            } else {
                data(c, 0, c->coff, seg);
                c->coff += seg;
            }
            tick(1);
        }
    for (uint64_t i = 0; i < nconns; i++) {
        conn *c = &cs[i];
        fin(c, 0); tick(1);
        c->coff++;
        fin(c, 1); tick(1);
        c->soff++;
        ack(c, 0); tick(1);
    }
    free(cs);
}

static void gen_ooo(int random_order, uint64_t nsegs, uint32_t seg)
{
    conn c;
    conn_init(&c, 7);
    syn(&c); tick(1);
    synack(&c); tick(1);
    ack(&c, 0); tick(1);
    uint32_t *ord = malloc(nsegs * sizeof *ord);
    for (uint64_t i = 1; i < nsegs; i++)
        ord[i - 1] = (uint32_t)(nsegs - i); /* reversed: nsegs-1 .. 1 */
    if (random_order)
        for (uint64_t i = nsegs - 2; i > 0; i--) {
            uint64_t j = rnd() % (i + 1);
            uint32_t t = ord[i]; ord[i] = ord[j]; ord[j] = t;
        }
    ord[nsegs - 1] = 0;
    for (uint64_t i = 0; i < nsegs; i++) {
        data(&c, 0, (uint64_t)ord[i] * seg, seg);
        tick(1);
        if (ord[i] != 0)
            n_reord++;
    }
    c.coff = nsegs * seg;
    fin(&c, 0); tick(1);
    c.coff++;
    fin(&c, 1); tick(1);
    c.soff++;
    ack(&c, 0);
    free(ord);
}

static uint64_t arg(int argc, char **argv, int i, uint64_t dflt)
{
    return argc > i ? strtoull(argv[i], NULL, 10) : dflt;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: bench-gen bulk|many|scale|ooo OUT [args] (see the source's header)\n");
        return 2;
    }
    for (size_t i = 0; i < sizeof blob; i++)
        blob[i] = (uint8_t)(rnd() >> 56);
    out = fopen(argv[2], "wb");
    if (!out) {
        perror(argv[2]);
        return 1;
    }
    static char buf[1 << 20];
    setvbuf(out, buf, _IOFBF, sizeof buf);
    uint32_t gh[6] = {0xa1b2c3d4, 0x00040002, 0, 0, 65535, 1};
    fwrite(gh, 1, 24, out);
    n_bytes = 24;
    const char *shape = argv[1];
    if (!strcmp(shape, "bulk"))
        gen_bulk(arg(argc, argv, 3, 200));
    else if (!strcmp(shape, "many"))
        gen_many(arg(argc, argv, 3, 100000), arg(argc, argv, 4, 1000));
    else if (!strcmp(shape, "scale") && argc > 3)
        gen_scale(arg(argc, argv, 3, 10000), arg(argc, argv, 4, 200), (uint32_t)arg(argc, argv, 5, 100));
    else if (!strcmp(shape, "ooo") && argc > 3)
        gen_ooo(!strcmp(argv[3], "random"), arg(argc, argv, 4, 1000000), (uint32_t)arg(argc, argv, 5, 1));
    else {
        fprintf(stderr, "bench-gen: unknown shape or missing argument: %s\n", shape);
        return 2;
    }
    if (fclose(out) != 0) {
        perror(argv[2]);
        return 1;
    }
    fprintf(stderr, "%s: %s packets %llu bytes %llu payload %llu reordered %llu duplicated %llu\n",
            argv[2], shape, (unsigned long long)n_pkts, (unsigned long long)n_bytes,
            (unsigned long long)n_payload, (unsigned long long)n_reord, (unsigned long long)n_dup);
    return 0;
}
