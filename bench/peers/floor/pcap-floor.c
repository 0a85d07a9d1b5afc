/* pcap-floor.c - the read floor of the benchmark: reads every frame of a
 * pcap/pcapng file with libpcap and does nothing else but count frames and
 * bytes (so the loop cannot be optimised away). What no reassembler that
 * reads files with libpcap can beat.
 *
 *   pcap-floor FILE
 *
 * Copyright (c) 2026 The safereasm authors. SPDX-License-Identifier: BSD-3-Clause
 */
#include <pcap/pcap.h>
#include <stdio.h>

int main(int argc, char **argv)
{
    char err[PCAP_ERRBUF_SIZE];
    if (argc != 2) {
        fputs("usage: pcap-floor FILE\n", stderr);
        return 2;
    }
    pcap_t *p = pcap_open_offline(argv[1], err);
    if (!p) {
        fprintf(stderr, "pcap-floor: %s\n", err);
        return 1;
    }
    struct pcap_pkthdr *h;
    const u_char *d;
    unsigned long long frames = 0, bytes = 0, sum = 0;
    int rc;
    while ((rc = pcap_next_ex(p, &h, &d)) == 1) {
        frames++;
        bytes += h->caplen;
        sum += h->caplen ? d[h->caplen - 1] : 0;
    }
    if (rc != PCAP_ERROR_BREAK) {
        fprintf(stderr, "pcap-floor: %s\n", pcap_geterr(p));
        return 1;
    }
    printf("# frames %llu\n# bytes %llu\n# sum %llu\n", frames, bytes, sum);
    pcap_close(p);
    return 0;
}
