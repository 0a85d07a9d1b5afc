/* nids-reasm.c - the libnids peer of the benchmark: reassembles the TCP
 * streams of a pcap file with Debian's libnids and prints one line per
 * direction that carried data, in safereasm-pcap's format:
 *
 *   src:port>dst:port delivered skipped conflicts dropped sha256
 *
 * (skipped/conflicts/dropped are "-": libnids has no such counts; it
 * waits for holes forever). Unsorted; bench/bench.py sorts.
 *
 *   nids-reasm [--digest sha256|glib|none] [--streams N] FILE
 *
 * --digest: sha256 = OpenSSL's libcrypto (uses the CPU's SHA extensions,
 * as Go's crypto/sha256 does), glib = GLib's GChecksum (the software
 * SHA-256 safereasm-pcap used when this was written), none = count only.
 * libnids settings for a fair comparison: no checksum verification (the
 * other programs do none), no port-scan detection, a stream table for N
 * concurrent connections (default 2,000,000; libnids' own default is 1040
 * and it drops connections beyond it). libnids has no memory limit.
 *
 * Copyright (c) 2026 The safereasm authors. SPDX-License-Identifier: BSD-3-Clause
 */
#include <arpa/inet.h>
#include <glib.h>
#include <nids.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { D_NONE, D_SHA256, D_GLIB };
static int digest = D_SHA256;

typedef struct dir_state {
    uint64_t delivered;
    EVP_MD_CTX *evp;
    GChecksum *gck;
} dir_state;

typedef struct conn {
    struct tuple4 addr;
    dir_state d[2]; /* 0: client to server (server.count_new), 1: back */
    struct conn *prev, *next;
} conn;

static conn *live; /* connections not yet reported, for the end of file */
static uint64_t n_conns;

static void dir_init(dir_state *d)
{
    d->delivered = 0;
    d->evp = NULL;
    d->gck = NULL;
    if (digest == D_SHA256) {
        d->evp = EVP_MD_CTX_new();
        EVP_DigestInit_ex(d->evp, EVP_sha256(), NULL);
    } else if (digest == D_GLIB) {
        d->gck = g_checksum_new(G_CHECKSUM_SHA256);
    }
}

static void dir_update(dir_state *d, const void *p, size_t n)
{
    d->delivered += n;
    if (d->evp)
        EVP_DigestUpdate(d->evp, p, n);
    else if (d->gck)
        g_checksum_update(d->gck, p, (gssize)n);
}

static void dir_hex(dir_state *d, char hex[65])
{
    if (d->evp) {
        unsigned char md[32];
        unsigned int len = 0;
        EVP_DigestFinal_ex(d->evp, md, &len);
        EVP_MD_CTX_free(d->evp);
        d->evp = NULL;
        for (int i = 0; i < 32; i++)
            sprintf(hex + 2 * i, "%02x", md[i]);
    } else if (d->gck) {
        g_strlcpy(hex, g_checksum_get_string(d->gck), 65);
        g_checksum_free(d->gck);
        d->gck = NULL;
    } else {
        strcpy(hex, "-");
    }
}

static void endpoint(char *buf, size_t n, u_int ip, u_short port)
{
    char a[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &ip, a, sizeof a);
    snprintf(buf, n, "%s:%u", a, port);
}

static void report(conn *c)
{
    char cli[32], srv[32], hex[65];
    endpoint(cli, sizeof cli, c->addr.saddr, c->addr.source);
    endpoint(srv, sizeof srv, c->addr.daddr, c->addr.dest);
    for (int i = 0; i < 2; i++) {
        dir_hex(&c->d[i], hex);
        if (c->d[i].delivered)
            printf("%s>%s %llu - - - %s\n", i ? srv : cli, i ? cli : srv,
                   (unsigned long long)c->d[i].delivered, hex);
    }
    if (c->prev)
        c->prev->next = c->next;
    else
        live = c->next;
    if (c->next)
        c->next->prev = c->prev;
    free(c);
}

static void on_tcp(struct tcp_stream *ts, void **unused)
{
    (void)unused;
    conn *c = ts->user;
    switch (ts->nids_state) {
    case NIDS_JUST_EST:
        ts->client.collect++;
        ts->server.collect++;
        c = calloc(1, sizeof *c);
        if (!c) {
            fputs("nids-reasm: out of memory\n", stderr);
            exit(1);
        }
        c->addr = ts->addr;
        dir_init(&c->d[0]);
        dir_init(&c->d[1]);
        c->next = live;
        if (live)
            live->prev = c;
        live = c;
        ts->user = c;
        n_conns++;
        return;
    case NIDS_DATA:
        if (ts->server.count_new)
            dir_update(&c->d[0], ts->server.data, (size_t)ts->server.count_new);
        if (ts->client.count_new)
            dir_update(&c->d[1], ts->client.data, (size_t)ts->client.count_new);
        return;
    default: /* NIDS_CLOSE, NIDS_RESET, NIDS_TIMED_OUT, NIDS_EXITING */
        if (c)
            report(c);
        ts->user = NULL;
        return;
    }
}

static void no_syslog(int type, int err, struct ip *iph, void *data)
{
    (void)type; (void)err; (void)iph; (void)data; /* no warnings on stderr */
}

int main(int argc, char **argv)
{
    int streams = 2000000;
    int i = 1;
    for (; i < argc - 1; i++) {
        if (!strcmp(argv[i], "--digest") && i + 1 < argc - 1) {
            const char *d = argv[++i];
            digest = !strcmp(d, "none") ? D_NONE : !strcmp(d, "glib") ? D_GLIB : D_SHA256;
        } else if (!strcmp(argv[i], "--streams") && i + 1 < argc - 1) {
            streams = atoi(argv[++i]);
        } else {
            break;
        }
    }
    if (i != argc - 1) {
        fputs("usage: nids-reasm [--digest sha256|glib|none] [--streams N] FILE\n", stderr);
        return 2;
    }
    nids_params.filename = argv[i];
    nids_params.device = NULL;
    /* libnids allows 3/4 of the table as concurrent streams. */
    nids_params.n_tcp_streams = streams / 3 * 4 + 4;
    nids_params.n_hosts = 256;
    nids_params.scan_num_hosts = 0;
    nids_params.syslog = no_syslog;
    nids_params.pcap_filter = NULL;
    if (!nids_init()) {
        fprintf(stderr, "nids-reasm: %s\n", nids_errbuf);
        return 1;
    }
    static struct nids_chksum_ctl all = {0, 0, NIDS_DONT_CHKSUM, 0};
    nids_register_chksum_ctl(&all, 1);
    nids_register_tcp(on_tcp);
    nids_run();
    /* End of file: libnids reports nothing for connections still open. */
    while (live)
        report(live);
    printf("# connections %llu\n", (unsigned long long)n_conns);
    nids_exit();
    return 0;
}
