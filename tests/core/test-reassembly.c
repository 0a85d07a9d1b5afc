/* test-reassembly.c - table-driven reassembly cases. Each case is a list
 * of segments (sender, sequence number relative to the sender's ISN,
 * flags, payload) with the expected sr_assemble result and status of every
 * segment, and the expected delivered stream, gaps, chunk flags and close
 * reason of both directions, before and after sr_assembler_flush_all().
 * Every case runs at every pair of initial sequence numbers from
 * {0, 1, 2^32-1, 2^32-11}, so every case also crosses the wrap.
 *
 * Stream specs: "abc<3>def" = abc, 3 bytes skipped, def; "{N:S}" = N
 * pattern bytes of seed S (see sr-test-util.h).
 *
 * Copyright (c) 2026 The safereasm authors. SPDX-License-Identifier: BSD-3-Clause
 */
#include <string.h>

#include "sr-test-util.h"

/* TCP flags */
#define SYN SR_TCP_SYN
#define ACK SR_TCP_ACK
#define FIN SR_TCP_FIN
#define RST SR_TCP_RST
#define PSH SR_TCP_PSH
/* segment status */
#define IO SR_SEG_IN_ORDER
#define OOO SR_SEG_OUT_OF_ORDER
#define RT SR_SEG_RETRANSMISSION
#define OV SR_SEG_OVERLAP
#define CF SR_SEG_CONFLICT
#define LC SR_SEG_LIMIT_CONNECTION
#define LT SR_SEG_LIMIT_TOTAL
#define OOW SR_SEG_OUT_OF_WINDOW
#define NEW SR_SEG_NEW_CONNECTION
#define CL SR_SEG_CLOSED
#define AC SR_SEG_AFTER_CLOSE
/* chunk flags */
#define ST SR_CHUNK_START
#define EN SR_CHUNK_END
#define CO SR_CHUNK_CONFLICT
#define BU SR_CHUNK_BUFFERED
#define FL SR_CHUNK_FLUSHED

/* Expected close state after the segments (before flush_all). */
enum { X_OPEN = 0, X_FIN, X_RST };

typedef struct rt_seg {
    char ep;              /* sender: 'A' or 'B'; 0 ends the list */
    int64_t rel;          /* seq - sender's ISN */
    uint8_t flags;
    const char *data;     /* payload spec or NULL */
    size_t claimed;       /* claimed_len; 0 = same as captured */
    unsigned st;          /* expected status bits */
    unsigned st_dc;       /* status bits not checked for this segment */
    sr_error err;         /* expected return */
} rt_seg;

typedef struct rt_case {
    const char *name;
    rt_seg segs[16];
    char client;              /* expected client endpoint; 0 = 'A' */
    const char *a, *b;        /* streams after the segments; NULL = "" */
    unsigned a_fl, b_fl;      /* union of chunk flags after the segments */
    unsigned a_dc, b_dc;      /* flag bits not checked (both phases) */
    int close;                /* X_OPEN / X_FIN / X_RST */
    const char *a_fin, *b_fin;    /* after flush_all; NULL = unchanged */
    unsigned a_fin_fl, b_fin_fl;  /* used when a_fin / b_fin given */
    size_t page_size, per_conn, total;
    uint32_t max_window;
    bool no_history;          /* conflict_history = 0 (default: on) */
    size_t history;           /* conflict_history, when nonzero */
} rt_case;

#define HS {'A', 0, SYN, NULL, 0, NEW, 0, 0}, {'B', 0, SYN | ACK, NULL, 0, 0, 0, 0}

static const rt_case cases[] = {
    {.name = "in-order",
     .segs = {HS,
              {'A', 1, ACK | PSH, "hello ", 0, IO},
              {'A', 7, ACK | PSH, "world, ", 0, IO},
              {'A', 14, ACK | PSH, "how are you?", 0, IO},
              {'B', 1, ACK | PSH, "fine, thanks", 0, IO}},
     .a = "hello world, how are you?", .a_fl = ST,
     .b = "fine, thanks", .b_fl = ST},

    {.name = "in-order-no-syn",
     .segs = {{'A', 0, ACK, "GET / HTTP/1.1\r\n", 0, NEW | IO},
              {'B', 0, ACK, "HTTP/1.1 200 OK\r\n", 0, IO},
              {'A', 16, ACK, "Host: x\r\n", 0, IO}},
     .a = "GET / HTTP/1.1\r\nHost: x\r\n", .b = "HTTP/1.1 200 OK\r\n"},

    {.name = "reorder-two",
     .segs = {HS,
              {'A', 8, ACK, "world!!", 0, OOO},
              {'A', 1, ACK, "hello, ", 0, IO}},
     .a = "hello, world!!", .a_fl = ST | BU},

    {.name = "reorder-reverse",
     .segs = {HS,
              {'A', 15, ACK, "opqrstu", 0, OOO},
              {'A', 8, ACK, "hijklmn", 0, OOO},
              {'A', 1, ACK, "abcdefg", 0, IO}},
     .a = "abcdefghijklmnopqrstu", .a_fl = ST | BU},

    {.name = "reorder-both-directions",
     .segs = {HS,
              {'B', 7, ACK, "world!", 0, OOO},
              {'A', 7, ACK, "ghijklm", 0, OOO},
              {'B', 1, ACK, "hello ", 0, IO},
              {'A', 1, ACK, "abcdef", 0, IO}},
     .a = "abcdefghijklm", .a_fl = ST | BU,
     .b = "hello world!", .b_fl = ST | BU},

    {.name = "gap",
     .segs = {HS,
              {'A', 1, ACK, "abcdefgh", 0, IO},
              {'A', 12, ACK, "lmnopqrs", 0, OOO}},
     .a = "abcdefgh", .a_fl = ST,
     .a_fin = "abcdefgh<3>lmnopqrs", .a_fin_fl = ST | BU | FL},

    {.name = "gap-filled-later",
     .segs = {HS,
              {'A', 1, ACK, "abcdef", 0, IO},
              {'A', 13, ACK, "mnopqr", 0, OOO},
              {'A', 7, ACK, "ghijkl", 0, IO}},
     .a = "abcdefghijklmnopqr", .a_fl = ST | BU},

    {.name = "gap-no-syn",
     .segs = {{'A', 0, ACK, "abcdef", 0, NEW | IO},
              {'A', 10, ACK, "klmnopqrst", 0, OOO}},
     .a = "abcdef",
     .a_fin = "abcdef<4>klmnopqrst", .a_fin_fl = BU | FL},

    {.name = "overlap-identical-in-order",
     .segs = {HS,
              {'A', 1, ACK, "abcdefgh", 0, IO},
              {'A', 5, ACK, "efghijkl", 0, IO | OV}},
     .a = "abcdefghijkl", .a_fl = ST},

    {.name = "overlap-buffered-then-covering",
     .segs = {HS,
              {'A', 5, ACK, "efgh", 0, OOO},
              {'A', 1, ACK, "abcdefghijkl", 0, IO | OV}},
     .a = "abcdefghijkl", .a_fl = ST, .a_dc = BU},

    {.name = "overlap-out-of-order-pair",
     .segs = {HS,
              {'A', 7, ACK, "ghijkl", 0, OOO},
              {'A', 10, ACK, "jklmno", 0, OOO | OV},
              {'A', 1, ACK, "abcdef", 0, IO}},
     .a = "abcdefghijklmno", .a_fl = ST | BU},

    {.name = "overlap-spanning-two-buffered",
     .segs = {HS,
              {'A', 3, ACK, "cd", 0, OOO},
              {'A', 8, ACK, "hi", 0, OOO},
              {'A', 1, ACK, "abcdefghijkl", 0, IO | OV}},
     .a = "abcdefghijkl", .a_fl = ST, .a_dc = BU},

    {.name = "conflict-buffered",
     .segs = {HS,
              {'A', 4, ACK, "defghi", 0, OOO},
              {'A', 4, ACK, "DEFghi", 0, RT | CF},
              {'A', 1, ACK, "abc", 0, IO}},
     .a = "abcdefghi", .a_fl = ST | BU | CO},

    {.name = "conflict-with-in-order-segment",
     .segs = {HS,
              {'A', 4, ACK, "def", 0, OOO},
              {'A', 1, ACK, "abcXYZghij", 0, IO | OV | CF}},
     .a = "abcdefghij", .a_fl = ST | BU | CO},

    {.name = "conflict-partial-overlap",
     .segs = {HS,
              {'A', 7, ACK, "ghijkl", 0, OOO},
              {'A', 10, ACK, "JKLmno", 0, OOO | OV | CF},
              {'A', 1, ACK, "abcdef", 0, IO}},
     .a = "abcdefghijklmno", .a_fl = ST | BU | CO},

    {.name = "retransmission",
     .segs = {HS,
              {'A', 1, ACK, "abcdef", 0, IO},
              {'A', 1, ACK, "abcdef", 0, RT},
              {'A', 2, ACK, "bcd", 0, RT},
              {'A', 1, ACK, "abcdefghijkl", 0, IO | OV}},
     .a = "abcdefghijkl", .a_fl = ST},

    /* Different bytes for already delivered data: with conflict_history
     * (default) detected and counted, though no chunk can carry the flag;
     * without it (strict zero copy) they cannot be told apart. Never
     * delivered either way. */
    {.name = "retransmission-different-after-delivery",
     .segs = {HS,
              {'A', 1, ACK, "abcdef", 0, IO},
              {'A', 4, ACK, "XYZ", 0, RT | CF},
              {'A', 3, ACK, "cDEfghijkl", 0, IO | OV | CF},
              {'A', 13, ACK, "mno", 0, IO}},
     .a = "abcdefghijklmno", .a_fl = ST},

    /* The history holds the last 5 delivered bytes, "bcdef", exactly: a
     * different 'b' is a conflict, a different 'a' is not seen. */
    {.name = "retransmission-different-at-history-edge",
     .history = 5,
     .segs = {HS,
              {'A', 1, ACK, "ab", 0, IO},
              {'A', 3, ACK, "cd", 0, IO},
              {'A', 5, ACK, "ef", 0, IO},
              {'A', 2, ACK, "X", 0, RT | CF},
              {'A', 1, ACK, "Z", 0, RT},
              {'A', 1, ACK, "aY", 0, RT | CF}},
     .a = "abcdef", .a_fl = ST},

    {.name = "retransmission-different-after-delivery-no-history",
     .no_history = true,
     .segs = {HS,
              {'A', 1, ACK, "abcdef", 0, IO},
              {'A', 4, ACK, "XYZ", 0, RT},
              {'A', 3, ACK, "cDEfghijkl", 0, IO | OV},
              {'A', 13, ACK, "mno", 0, IO}},
     .a = "abcdefghijklmno", .a_fl = ST},

    {.name = "syn-data",
     .segs = {{'A', 0, SYN, "hello", 0, NEW | IO},
              {'B', 0, SYN | ACK, "220 ", 0, IO},
              {'A', 6, ACK, " world", 0, IO},
              {'B', 5, ACK, "ready", 0, IO}},
     .a = "hello world", .a_fl = ST,
     .b = "220 ready", .b_fl = ST},

    {.name = "syn-data-retransmitted",
     .segs = {{'A', 0, SYN, "hello", 0, NEW | IO},
              {'A', 0, SYN, "hello", 0, RT},
              {'A', 6, ACK, " world!", 0, IO},
              {'A', 0, SYN, "hello", 0, RT}},
     .a = "hello world!", .a_fl = ST},

    {.name = "fin",
     .segs = {HS,
              {'A', 1, ACK, "request", 0, IO},
              {'A', 8, FIN | ACK, NULL, 0, 0},
              {'B', 1, ACK, "response", 0, IO},
              {'B', 9, FIN | ACK, "!", 0, IO | CL}},
     .a = "request", .a_fl = ST | EN,
     .b = "response!", .b_fl = ST | EN,
     .close = X_FIN},

    {.name = "fin-out-of-order",
     .segs = {HS,
              {'A', 4, FIN | ACK, "defghijk", 0, OOO},
              {'A', 1, ACK, "abc", 0, IO},
              {'B', 1, FIN | ACK, NULL, 0, CL}},
     .a = "abcdefghijk", .a_fl = ST | BU | EN,
     .b = "", .b_fl = EN, .b_dc = ST,
     .close = X_FIN},

    {.name = "fin-no-syn",
     .segs = {{'A', 0, ACK, "abcdefghijkl", 0, NEW | IO},
              {'B', 0, ACK, "cd", 0, IO},
              {'A', 12, FIN | ACK, NULL, 0, 0},
              {'B', 2, FIN | ACK, NULL, 0, CL}},
     .a = "abcdefghijkl", .a_fl = EN,
     .b = "cd", .b_fl = EN,
     .close = X_FIN},

    {.name = "fin-retransmitted",
     .segs = {HS,
              {'A', 1, ACK, "abcdefghijkl", 0, IO},
              {'A', 13, FIN | ACK, NULL, 0, 0},
              {'A', 13, FIN | ACK, NULL, 0, 0},
              {'A', 1, FIN | ACK, "abcdefghijkl", 0, RT},
              {'B', 1, FIN | ACK, NULL, 0, CL}},
     .a = "abcdefghijkl", .a_fl = ST | EN,
     .b = "", .b_fl = EN, .b_dc = ST,
     .close = X_FIN},

    /* Both FINs seen, but A has a hole: open until flushed. */
    {.name = "fin-with-gap-waits",
     .segs = {HS,
              {'A', 1, ACK, "abcdef", 0, IO},
              {'A', 10, ACK, "jklmnop", 0, OOO},
              {'A', 17, FIN | ACK, NULL, 0, 0},
              {'B', 1, FIN | ACK, NULL, 0, 0}},
     .a = "abcdef", .a_fl = ST,
     .b = "", .b_fl = EN, .b_dc = ST,
     .a_fin = "abcdef<3>jklmnop", .a_fin_fl = ST | BU | FL | EN},

    {.name = "after-close",
     .segs = {HS,
              {'A', 1, ACK, "abcdefghijkl", 0, IO},
              {'A', 13, FIN | ACK, NULL, 0, 0},
              {'B', 1, FIN | ACK, NULL, 0, CL},
              {'A', 1, ACK, "abcdefghijkl", 0, AC, 0, SR_ERR_CONNECTION_CLOSED},
              {'A', 14, ACK, "more", 0, AC, 0, SR_ERR_CONNECTION_CLOSED},
              {'B', 1, FIN | ACK, NULL, 0, AC, 0, SR_ERR_CONNECTION_CLOSED}},
     .a = "abcdefghijkl", .a_fl = ST | EN,
     .b = "", .b_fl = EN, .b_dc = ST,
     .close = X_FIN},

    {.name = "rst",
     .segs = {HS,
              {'A', 1, ACK, "abcdefghijkl", 0, IO},
              {'B', 1, RST, NULL, 0, CL}},
     .a = "abcdefghijkl", .a_fl = ST,
     .close = X_RST},

    {.name = "rst-with-data-fills-hole",
     .segs = {HS,
              {'A', 1, ACK, "abc", 0, IO},
              {'A', 7, ACK, "ghijkl", 0, OOO},
              {'A', 4, RST | ACK, "def", 0, IO | CL}},
     .a = "abcdefghijkl", .a_fl = ST | BU,
     .close = X_RST},

    {.name = "rst-no-syn",
     .segs = {{'A', 0, ACK, "abcdefghijkl", 0, NEW | IO},
              {'A', 12, RST, NULL, 0, CL},
              {'A', 12, ACK, "late", 0, AC, 0, SR_ERR_CONNECTION_CLOSED}},
     .a = "abcdefghijkl",
     .close = X_RST},

    /* Zero-length segments carry nothing and start nothing: B's bare ACK
     * at +100 must not make B's stream start there. (Whether a bare ACK
     * ahead of the data marks a lost tail is not part of the contract, so
     * bare ACKs here never point past the data that follows.) */
    {.name = "zero-length",
     .segs = {{'A', 0, ACK, "abc", 0, NEW | IO},
              {'B', 100, ACK, NULL, 0, 0},
              {'A', 3, ACK, NULL, 0, 0},
              {'A', 12, ACK, NULL, 0, 0},
              {'B', 0, ACK, "xyz", 0, IO},
              {'A', 3, ACK, "defghijkl", 0, IO},
              {'B', 3, PSH | ACK, NULL, 0, 0}},
     .a = "abcdefghijkl", .b = "xyz"},

    {.name = "zero-length-with-syn",
     .segs = {HS,
              {'A', 1, ACK, NULL, 0, 0},
              {'A', 13, ACK, NULL, 0, 0},
              {'A', 1, ACK, "abcdefghijkl", 0, IO},
              {'B', 1, ACK, NULL, 0, 0}},
     .a = "abcdefghijkl", .a_fl = ST},

    {.name = "max-segments-64k",
     .segs = {HS,
              {'A', 1, ACK, "{65535:1}", 0, IO},
              {'A', 1 + 2 * 65535, ACK, "{65535:2}", 0, OOO},
              {'A', 1 + 65535, ACK, "{65535:3}", 0, IO},
              {'B', 1, ACK, "{65535:4}", 0, IO},
              {'A', 1 + 4 * 65535, ACK, "{65535:5}", 0, OOO}},
     .a = "{65535:1}{65535:3}{65535:2}", .a_fl = ST | BU,
     .b = "{65535:4}", .b_fl = ST,
     .a_fin = "{65535:1}{65535:3}{65535:2}<65535>{65535:5}", .a_fin_fl = ST | BU | FL},

    /* Snaplen cut: the missing tail is a gap, reported at once. */
    {.name = "snaplen-cut-in-order",
     .segs = {HS,
              {'A', 1, ACK, "abcde", 10, IO}},
     .a = "abcde<5>", .a_fl = ST},

    {.name = "snaplen-cut-then-more",
     .segs = {HS,
              {'A', 1, ACK, "abcde", 10, IO},
              {'A', 11, ACK, "klmno", 0, IO}},
     .a = "abcde<5>klmno", .a_fl = ST},

    {.name = "snaplen-cut-out-of-order",
     .segs = {HS,
              {'A', 11, ACK, "klmno", 8, OOO},
              {'A', 1, ACK, "abcdefghij", 0, IO},
              {'A', 19, ACK, "stu", 0, IO, OOO}},
     .a = "abcdefghijklmno<3>stu", .a_fl = ST | BU},

    /* Default window 2^30, measured from the highest byte seen: starting
     * exactly max_window beyond it is dropped, one byte less is buffered
     * (a 64-bit offset past 2^30); after that, the window has moved on. */
    {.name = "window-default",
     .segs = {HS,
              {'A', 1, ACK, "abc", 0, IO},
              {'A', 4 + 0x40000000LL, ACK, "far", 0, OOW},
              {'A', 4 + 0x40000000LL - 1, ACK, "xyz", 0, OOO},
              {'A', 4 + 0x40000000LL + 2 + 0x40000000LL, ACK, "way", 0, OOW},
              {'A', 4, ACK, "def", 0, IO}},
     .a = "abcdef", .a_fl = ST,
     .a_fin = "abcdef<1073741820>xyz", .a_fin_fl = ST | BU | FL},

    {.name = "window-small",
     .max_window = 1000,
     .segs = {HS,
              {'A', 1, ACK, "abc", 0, IO},
              {'A', 4 + 1000, ACK, "y", 0, OOW},
              {'A', 4 + 999, ACK, "x", 0, OOO},
              {'A', 4 + 5000, ACK, "z", 0, OOW},
              {'A', 4, ACK, "def", 0, IO},
              {'A', 4 + 2000, ACK, "w", 0, OOW}},
     .a = "abcdef", .a_fl = ST,
     .a_fin = "abcdef<996>x", .a_fin_fl = ST | BU | FL},

    /* A sequence number far behind the edge is old: nothing delivered. */
    {.name = "seq-far-behind",
     .segs = {HS,
              {'A', 1, ACK, "abcdef", 0, IO},
              {'A', 7 - 0x60000000LL, ACK, "old", 0, 0, RT | OV | OOW},
              {'A', 7 - 0x7ffffff0LL, ACK, "old", 0, 0, RT | OV | OOW},
              {'A', 7, ACK, "ghijkl", 0, IO}},
     .a = "abcdefghijkl", .a_fl = ST},

    /* A SYN+ACK seen first: its sender is the server. */
    {.name = "syn-ack-first",
     .segs = {{'B', 0, SYN | ACK, NULL, 0, NEW},
              {'A', 0, SYN, NULL, 0, 0},
              {'A', 1, ACK, "request", 0, IO},
              {'B', 1, ACK, "response", 0, IO}},
     .client = 'A',
     .a = "request", .a_fl = ST,
     .b = "response", .b_fl = ST},

    /* No SYN: the first sender is the client. */
    {.name = "server-first-no-syn",
     .segs = {{'B', 0, ACK, "220 ready", 0, NEW | IO},
              {'A', 0, ACK, "HELO x", 0, IO},
              {'B', 9, ACK, "250 ok", 0, IO}},
     .client = 'B',
     .a = "HELO x", .b = "220 ready250 ok"},

    /* Without a SYN, bytes before the first data segment are old; a
     * segment entirely before the start is neither delivered nor buffered
     * (whether it counts as a retransmission is not specified). */
    {.name = "old-bytes-before-start",
     .segs = {{'A', 10, ACK, "klm", 0, NEW | IO},
              {'A', 0, ACK, "abcdefghijklm", 0, RT},
              {'A', 5, ACK, "fghijklmnop", 0, IO | OV},
              {'A', 1, ACK, "bc", 0, 0, RT | OV}},
     .a = "klmnop"},

    /* Per-connection limit of 2 pages (page 4): the third out-of-order
     * byte flushes the earliest run, its gap skipped. */
    {.name = "limit-per-connection",
     .page_size = 4, .per_conn = 2, .total = 100,
     .segs = {HS,
              {'A', 5, ACK, "e", 0, OOO},
              {'A', 13, ACK, "m", 0, OOO},
              {'A', 21, ACK, "u", 0, OOO | LC},
              {'A', 29, ACK, "c", 0, OOO | LC}},
     .a = "<4>e<7>m", .a_fl = BU | FL, .a_dc = ST,
     .a_fin = "<4>e<7>m<7>u<7>c", .a_fin_fl = BU | FL},

    /* A segment bigger than the connection may buffer: the gap before it
     * is skipped and it is delivered. */
    {.name = "limit-segment-larger-than-limit",
     .page_size = 4, .per_conn = 2, .total = 100,
     .segs = {HS,
              {'A', 1, ACK, "ab", 0, IO},
              {'A', 11, ACK, "0123456789ABCDEF", 0, LC, IO | OOO}},
     .a = "ab<8>0123456789ABCDEF", .a_fl = ST, .a_dc = BU | FL},

    /* At the limit, the segment filling the hole at the delivery edge is
     * always admitted and releases the buffered run. */
    {.name = "limit-hole-filler-admitted",
     .page_size = 4, .per_conn = 2, .total = 100,
     .segs = {HS,
              {'A', 5, ACK, "e", 0, OOO},
              {'A', 13, ACK, "m", 0, OOO},
              {'A', 1, ACK, "abcd", 0, IO},
              {'A', 6, ACK, "fghijkl", 0, IO}},
     .a = "abcdefghijklm", .a_fl = ST | BU},

    /* Total limit 2 pages: same behaviour, the other counter. */
    {.name = "limit-total",
     .page_size = 4, .per_conn = 2, .total = 2,
     .segs = {HS,
              {'A', 5, ACK, "e", 0, OOO},
              {'A', 13, ACK, "m", 0, OOO},
              {'A', 21, ACK, "u", 0, OOO, LC | LT}},
     .a = "<4>e", .a_fl = BU | FL, .a_dc = ST,
     .a_fin = "<4>e<7>m<7>u", .a_fin_fl = BU | FL},
};

/* Status bits checked on data segments and on empty ones. */
#define MASK_DATA (IO | OOO | RT | OV | CF | LC | LT | OOW | NEW | CL | AC)
#define MASK_EMPTY (NEW | CL | AC)

static char *status_str(unsigned st)
{
    static const struct { unsigned bit; const char *name; } names[] = {
        {IO, "IN_ORDER"}, {OOO, "OUT_OF_ORDER"}, {RT, "RETRANSMISSION"}, {OV, "OVERLAP"},
        {CF, "CONFLICT"}, {LC, "LIMIT_CONNECTION"}, {LT, "LIMIT_TOTAL"},
        {SR_SEG_EVICTED_OTHER, "EVICTED_OTHER"}, {AC, "AFTER_CLOSE"}, {OOW, "OUT_OF_WINDOW"},
        {NEW, "NEW_CONNECTION"}, {CL, "CLOSED"}};
    GString *s = g_string_new(NULL);
    for (size_t i = 0; i < G_N_ELEMENTS(names); i++)
        if (st & names[i].bit)
            g_string_append_printf(s, "%s%s", s->len ? "|" : "", names[i].name);
    if (!s->len)
        g_string_append(s, "0");
    return g_string_free(s, FALSE);
}

/* RETRANSMISSION and OVERLAP are one group: where either is expected, one
 * of them must be reported (a fully repeated segment may say both). */
static bool status_ok(unsigned got, unsigned exp, unsigned mask)
{
    const unsigned grp = RT | OV;
    if ((got & mask & ~grp) != (exp & mask & ~grp))
        return false;
    if (mask & grp) {
        bool want = (exp & grp) != 0, have = (got & grp) != 0;
        if (want != have)
            return false;
        if ((exp & grp) == OV && (got & grp) == RT)
            return false; /* some new bytes: not a pure retransmission */
    }
    return true;
}

static void check_flags(const char *what, unsigned got, unsigned exp, unsigned dc)
{
    if ((got & ~dc) != (exp & ~dc))
        g_error("%s: chunk flags 0x%x, expected 0x%x (ignoring 0x%x)", what, got, exp, dc);
}

/* stable: every payload is handed over as sr_segment.payload_stable and
 * kept until the pool is freed; otherwise each is freed right after its
 * call, so a reference kept to it would be a use after free (ASan). */
static void run_case(const rt_case *c, uint32_t isn_a, uint32_t isn_b, bool stable)
{
    char ctx[160];
    g_snprintf(ctx, sizeof ctx, "case %s, ISN A=%u B=%u, %s payloads", c->name, isn_a, isn_b,
               stable ? "stable" : "transient");
    GPtrArray *kept = g_ptr_array_new_with_free_func((GDestroyNotify)g_byte_array_unref);
    g_test_message("%s", ctx);

    srt_recorder rec;
    srt_recorder_init(&rec);
    sr_options o = srt_options(c->page_size, c->per_conn, c->total);
    if (c->max_window)
        o.max_window = c->max_window;
    if (c->no_history)
        o.conflict_history = 0;
    if (c->history)
        o.conflict_history = c->history;
    rec.max_conn_pages = o.max_buffered_pages_per_connection;
    sr_stream_factory f = srt_recorder_factory(&rec);
    sr_pool *pool = sr_pool_new(&f, 16, NULL);
    g_assert_nonnull(pool);
    sr_assembler *a = NULL;
    g_assert_cmpint(sr_assembler_new(pool, &o, &a), ==, SR_OK);

    sr_flow fa, fb;
    srt_flow_ab(&fa, 7, false);
    srt_flow_ab(&fb, 7, true);
    char client = c->client ? c->client : 'A';
    int dir_a = client == 'A' ? SR_DIR_CLIENT_TO_SERVER : SR_DIR_SERVER_TO_CLIENT;
    int dir_b = 1 - dir_a;

    unsigned n_ooo = 0, n_oow = 0, n_conflict = 0, n_lc = 0, n_lt = 0, n_err = 0;
    size_t n_segs = 0, bytes = 0, claimed = 0;
    uint64_t conn_id = 0;
    int ctx_token = 0;
    for (const rt_seg *sg = c->segs; sg->ep; sg++) {
        GByteArray *pl = srt_payload(sg->data);
        uint32_t isn = sg->ep == 'A' ? isn_a : isn_b;
        uint32_t seq = (uint32_t)((uint64_t)isn + (uint64_t)sg->rel);
        sr_segment s = srt_seg(seq, sg->flags, pl->len ? pl->data : NULL, pl->len,
                               SR_USEC_PER_SEC + (sr_time)n_segs);
        s.claimed_len = sg->claimed;
        s.payload_stable = stable;
        sr_result res;
        memset(&res, 0xff, sizeof res);
        sr_error e = sr_assemble_ex(a, sg->ep == 'A' ? &fa : &fb, &s, &ctx_token, &res);
        n_segs++;
        bytes += pl->len;
        claimed += sg->claimed ? sg->claimed : pl->len;
        if (e != sg->err)
            g_error("%s, segment %zu: returned %s, expected %s", ctx, n_segs, sr_err_name(e),
                    sr_err_name(sg->err));
        unsigned mask = (pl->len ? MASK_DATA : MASK_EMPTY) & ~sg->st_dc;
        if (!status_ok(res.status, sg->st, mask)) {
            char *g = status_str(res.status), *x = status_str(sg->st & mask);
            g_error("%s, segment %zu: status %s, expected %s", ctx, n_segs, g, x);
        }
        if (e == SR_OK) {
            g_assert_cmpuint(res.conn_id, !=, 0);
            if (conn_id == 0)
                conn_id = res.conn_id;
            g_assert_cmpuint(res.conn_id, ==, conn_id);
            g_assert_cmpint(res.dir, ==, sg->ep == 'A' ? dir_a : dir_b);
        } else {
            n_err++;
        }
        srt_check_result(&rec, &res);
        n_ooo += !!(res.status & OOO);
        n_oow += !!(res.status & OOW);
        n_conflict += !!(res.status & CF);
        n_lc += !!(res.status & LC);
        n_lt += !!(res.status & LT);
        sr_assembler_stats as = srt_asm_stats(a);
        g_assert_cmpuint(as.pages_in_use, <=, o.max_buffered_pages_total);
        g_assert_cmpuint(res.conn_pages, <=, o.max_buffered_pages_per_connection);
        if (stable)
            g_ptr_array_add(kept, pl);
        else
            g_byte_array_unref(pl);
    }

    /* One stream, oriented as expected. */
    g_assert_cmpint(rec.new_calls, ==, 1);
    g_assert_cmpuint(srt_recorder_count(&rec), ==, 1);
    srt_stream *st = srt_recorder_stream(&rec, 0);
    g_assert_cmpuint(st->conn_id, ==, conn_id);
    g_assert_true(srt_flow_endpoints_match(&st->flow, client == 'A' ? &fa : &fb));
    g_assert_true(st->ctx_new == &ctx_token);

    char what[200];
    g_snprintf(what, sizeof what, "%s, A before flush", ctx);
    srt_assert_dir(&st->dir[dir_a], c->a ? c->a : "", what);
    check_flags(what, st->dir[dir_a].flags_or, c->a_fl, c->a_dc);
    g_snprintf(what, sizeof what, "%s, B before flush", ctx);
    srt_assert_dir(&st->dir[dir_b], c->b ? c->b : "", what);
    check_flags(what, st->dir[dir_b].flags_or, c->b_fl, c->b_dc);
    switch (c->close) {
    case X_OPEN:
        g_assert_cmpint(st->completes, ==, 0);
        break;
    case X_FIN:
        g_assert_cmpint(st->completes, ==, 1);
        g_assert_cmpstr(sr_close_reason_name(st->close_reason), ==, "FIN");
        break;
    case X_RST:
        g_assert_cmpint(st->completes, ==, 1);
        g_assert_cmpstr(sr_close_reason_name(st->close_reason), ==, "RST");
        break;
    }
    if (st->completes)
        g_assert_true(st->ctx_complete == &ctx_token);
    for (int d = 0; d < 2; d++) {
        /* START only on the first chunk; END only on the last. */
        GArray *ch = st->dir[d].chunks;
        for (guint k = 0; k < ch->len; k++) {
            unsigned fl = g_array_index(ch, srt_chunk_rec, k).flags;
            if (k > 0)
                g_assert_false(fl & ST);
            if (k + 1 < ch->len)
                g_assert_false(fl & EN);
        }
    }

    /* Stats agree with what was reported per segment. */
    sr_assembler_stats as = srt_asm_stats(a);
    g_assert_cmpuint(as.out_of_order_segments, ==, n_ooo);
    g_assert_cmpuint(as.out_of_window, ==, n_oow);
    g_assert_cmpuint(as.limit_hits_connection, ==, n_lc);
    g_assert_cmpuint(as.limit_hits_total, ==, n_lt);
    g_assert_cmpuint(as.overlap_conflicts > 0, ==, n_conflict > 0);
    g_assert_cmpuint(as.errors, ==, n_err);
    g_assert_cmpuint(as.pages_peak, <=, o.max_buffered_pages_total);
    if (n_err == 0) {
        g_assert_cmpuint(as.packets_processed, ==, n_segs);
        /* "payload bytes": captured or claimed, either reading is fair */
        if (as.bytes_processed != bytes)
            g_assert_cmpuint(as.bytes_processed, ==, claimed);
    }
    srt_check_asm_bytes(a, &rec);
    srt_check_pool_stats(pool, &rec);

    /* flush_all completes what is open, delivering buffered data. */
    size_t n_closed = 99;
    g_assert_cmpint(sr_assembler_flush_all(a, &ctx_token, &n_closed), ==, SR_OK);
    g_assert_cmpuint(n_closed, ==, c->close == X_OPEN ? 1 : 0);
    g_assert_cmpint(st->completes, ==, 1);
    if (c->close == X_OPEN) {
        g_assert_cmpstr(sr_close_reason_name(st->close_reason), ==, "FLUSHED");
        g_assert_true(st->ctx_complete == &ctx_token);
    }
    g_snprintf(what, sizeof what, "%s, A after flush", ctx);
    srt_assert_dir(&st->dir[dir_a], c->a_fin ? c->a_fin : c->a ? c->a : "", what);
    check_flags(what, st->dir[dir_a].flags_or, c->a_fin ? c->a_fin_fl : c->a_fl, c->a_dc);
    g_snprintf(what, sizeof what, "%s, B after flush", ctx);
    srt_assert_dir(&st->dir[dir_b], c->b_fin ? c->b_fin : c->b ? c->b : "", what);
    check_flags(what, st->dir[dir_b].flags_or, c->b_fin ? c->b_fin_fl : c->b_fl, c->b_dc);
    as = srt_asm_stats(a);
    g_assert_cmpuint(as.pages_in_use, ==, 0);
    srt_check_asm_bytes(a, &rec);
    srt_check_pool_stats(pool, &rec);
    srt_check_conservation(&rec, true);
    /* The final info agrees with the conflicts reported. */
    g_assert_cmpuint(st->final_info.conflicts[0] + st->final_info.conflicts[1] > 0, ==,
                     n_conflict > 0);

    sr_assembler_free(a);
    sr_pool_free(pool);
    g_ptr_array_unref(kept);
    g_assert_cmpint(st->completes, ==, 1);
    srt_recorder_clear(&rec);
}

static void test_case(gconstpointer data)
{
    const rt_case *c = data;
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++)
            for (int stable = 0; stable < 2; stable++)
                run_case(c, srt_isns[i], srt_isns[j], stable);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        char *path = g_strdup_printf("/reassembly/table/%s", cases[i].name);
        g_test_add_data_func(path, &cases[i], test_case);
        g_free(path);
    }
    return g_test_run();
}
