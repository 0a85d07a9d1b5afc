/* pcap-floor.c - the read floor of the benchmark: reads every frame of a
 * pcap/pcapng file with libpcap and does nothing else but count frames and
 * bytes (so the loop cannot be optimised away). What no reassembler that
 * reads files with libpcap can beat.
 *
 *   pcap-floor [--sha256] FILE
 *
 * --sha256 also finds each frame's TCP payload (Ethernet with VLAN tags,
 * Linux cooked, raw IP; IPv4 or IPv6 without extension headers) and feeds
 * it to one running SHA-256 (OpenSSL's libcrypto, as the tool and the
 * libnids driver use): the floor of a program whose output has a digest of
 * every delivered byte. It is a lower bound: one context instead of one per
 * direction, no flow lookup, no order; it hashes retransmitted payload
 * again, which a reassembler does not (about 1 % of bulk's bytes).
 *
 * Copyright (c) 2026 The safereasm authors. SPDX-License-Identifier: BSD-3-Clause
 */
#include <pcap/pcap.h>
#include <stdio.h>
#include <string.h>
#ifdef FLOOR_SHA256
#define OPENSSL_SUPPRESS_DEPRECATED /* SHA256_*, as tools/digest.c */
#include <openssl/sha.h>
#endif

/* The TCP payload of a frame, or NULL: *n its captured length. */
static const u_char *tcp_payload(int dlt, const u_char *d, unsigned caplen, unsigned *n)
{
    unsigned off = 0, end = caplen, type;

    if (dlt == DLT_EN10MB) {
        if (caplen < 14)
            return NULL;
        type = (unsigned)d[12] << 8 | d[13];
        off = 14;
        while ((type == 0x8100 || type == 0x88a8) && off + 4 <= caplen) {
            type = (unsigned)d[off + 2] << 8 | d[off + 3];
            off += 4;
        }
    } else if (dlt == DLT_LINUX_SLL) {
        if (caplen < 16)
            return NULL;
        type = (unsigned)d[14] << 8 | d[15];
        off = 16;
    } else if (dlt == DLT_RAW || dlt == 228 /* IPV4 */ || dlt == 229 /* IPV6 */) {
        if (caplen < 1)
            return NULL;
        type = (d[0] >> 4) == 6 ? 0x86dd : 0x0800;
    } else {
        return NULL;
    }
    if (type == 0x0800) {
        unsigned ihl, tot;
        if (off + 20 > caplen || d[off + 9] != 6)
            return NULL;
        ihl = (d[off] & 15u) * 4;
        tot = (unsigned)d[off + 2] << 8 | d[off + 3];
        if (ihl < 20 || tot < ihl)
            return NULL;
        if (off + tot < end)
            end = off + tot; /* no Ethernet trailer */
        off += ihl;
    } else if (type == 0x86dd) {
        unsigned plen;
        if (off + 40 > caplen || d[off + 6] != 6)
            return NULL;
        plen = (unsigned)d[off + 4] << 8 | d[off + 5];
        if (off + 40 + plen < end)
            end = off + 40 + plen;
        off += 40;
    } else {
        return NULL;
    }
    if (off + 20 > end)
        return NULL;
    off += (d[off + 12] >> 4) * 4u;
    if (off >= end)
        return NULL;
    *n = end - off;
    return d + off;
}

int main(int argc, char **argv)
{
    char err[PCAP_ERRBUF_SIZE];
    int sha = argc == 3 && strcmp(argv[1], "--sha256") == 0;
    if (argc != 2 && !sha) {
        fputs("usage: pcap-floor [--sha256] FILE\n", stderr);
        return 2;
    }
#ifndef FLOOR_SHA256
    if (sha) {
        fputs("pcap-floor: built without libcrypto; no --sha256\n", stderr);
        return 2;
    }
#else
    SHA256_CTX ctx;
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256_Init(&ctx);
#endif
    pcap_t *p = pcap_open_offline(argv[argc - 1], err);
    if (!p) {
        fprintf(stderr, "pcap-floor: %s\n", err);
        return 1;
    }
    int dlt = pcap_datalink(p);
    struct pcap_pkthdr *h;
    const u_char *d;
    unsigned long long frames = 0, bytes = 0, sum = 0, hashed = 0;
    int rc;
    while ((rc = pcap_next_ex(p, &h, &d)) == 1) {
        frames++;
        bytes += h->caplen;
        sum += h->caplen ? d[h->caplen - 1] : 0;
        if (sha) {
            unsigned n = 0;
            const u_char *pl = tcp_payload(dlt, d, h->caplen, &n);
            if (pl) {
#ifdef FLOOR_SHA256
                SHA256_Update(&ctx, pl, n);
#endif
                hashed += n;
            }
        }
    }
    if (rc != PCAP_ERROR_BREAK) {
        fprintf(stderr, "pcap-floor: %s\n", pcap_geterr(p));
        return 1;
    }
    printf("# frames %llu\n# bytes %llu\n# sum %llu\n", frames, bytes, sum);
#ifdef FLOOR_SHA256
    if (sha) {
        SHA256_Final(md, &ctx);
        printf("# hashed %llu\n# sha256 ", hashed);
        for (unsigned i = 0; i < sizeof md; i++)
            printf("%02x", md[i]);
        putchar('\n');
    }
#endif
    pcap_close(p);
    return 0;
}
