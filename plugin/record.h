/* record.h - the immutable per-frame record the first pass computes and
 * every pass renders.
 *
 * A record lives in wmem_file_scope() and is never changed after the frame
 * that built it is done (the end-of-capture flush builds separate records,
 * see driver.h). Everything needed to draw the tree, add expert infos and
 * feed the statistics tap is in here, because on later passes the TCP
 * fields are not primed and the core has moved on.
 *
 * Copyright (c) 2026 The safereasm authors. SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef SRP_RECORD_H
#define SRP_RECORD_H

#include <glib.h>

#include "counters.h"
#include "safereasm.h"

/* Top-level TCP layers handled per frame; more are counted and ignored. */
#define SRP_MAX_SEGS_PER_FRAME 4

/* Stream bytes one record keeps at most; chunks beyond it keep their
 * length and offset but not their bytes (a tvb length is a gint). */
#define SRP_MAX_RECORD_DATA (256u << 20)

/* Where the payload handed to the core came from. */
typedef enum srp_payload_source {
    SRP_PAYLOAD_NONE = 0,    /* no payload bytes (pure ACK, or not captured) */
    SRP_PAYLOAD_FIELD = 1,   /* the tcp.payload field */
    SRP_PAYLOAD_RST_TVB = 2, /* RST with data: read after the TCP header */
} srp_payload_source;

/* A connection's drop totals after a segment (in wmem_file_scope()). */
typedef struct srp_seg_drops {
    guint64 dropped[2];       /* bytes neither delivered nor skipped (the core's) */
    guint64 dropped_segs[2];  /* segments that dropped bytes (counted by the driver) */
} srp_seg_drops;

/* One top-level TCP segment of the frame and what the core said of it. */
typedef struct srp_seg {
    guint64 conn_id;          /* 0: the core made no connection */
    guint64 delivered[2];     /* connection totals after this segment */
    guint64 skipped[2];
    /* The connection's drop totals: NULL while they are all zero (as for
     * nearly every segment), so a segment does not carry 32 zero bytes. */
    const struct srp_seg_drops *drops;
    guint32 dropped_len;      /* bytes this segment dropped */
    guint32 zone;
    guint32 conn_pages;
    guint32 captured_len;     /* payload bytes handed to the core */
    guint32 claimed_len;      /* tcp.len */
    guint32 tcp_stream;       /* Wireshark's tcp.stream, G_MAXUINT32 if absent */
    guint16 status;           /* SR_SEG_* */
    guint8 dir;               /* sr_direction */
    guint8 error;             /* sr_error */
    gint8 close_reason;       /* sr_close_reason, -1 if not closed */
    guint8 payload_source;    /* srp_payload_source */
} srp_seg;

/* Where a chunk's bytes are kept. */
typedef enum srp_chunk_source {
    SRP_BYTES_RECORD = 0,     /* copied into srp_record.data at data_off */
    SRP_BYTES_FRAME = 1,      /* in this frame: data_off bytes after the start of
                                 its tcp_ordinal-th top-level TCP layer */
    SRP_BYTES_NONE = 2,       /* not kept (SRP_MAX_RECORD_DATA); len still right */
    SRP_BYTES_OVER_LIMIT = 3, /* not kept: the retained-bytes preference was
                                 reached; len and offset still right */
} srp_chunk_source;

/* Are a chunk's bytes available to draw? */
#define SRP_CHUNK_KEPT(c) ((c)->source == SRP_BYTES_RECORD || (c)->source == SRP_BYTES_FRAME)

/* One run of stream data the core released while this frame was
 * processed; it may belong to any connection. The core hands data over a
 * page at a time; contiguous pieces of one direction released at one frame
 * are joined into one run here (a gap starts a new one), so the page size
 * never shows.
 *
 * In-order data comes straight from the segment being fed (the core does
 * not copy it), so it is the frame's own payload: the record points at it
 * in the frame instead of copying it, and drawing reads it from the frame
 * again (the top-level tcp item and its data source are rebuilt on every
 * pass). Only bytes released from the core's pages are copied. */
typedef struct srp_chunk {
    guint64 conn_id;
    guint64 offset;           /* stream offset of the first byte */
    guint64 skipped;          /* gap just before it */
    guint64 len;              /* bytes released */
    guint32 data_off;         /* see source */
    guint32 src_first;        /* its source frames: srp_record.srcs[src_first..] */
    guint32 n_src;
    guint8 dir;
    guint8 flags;             /* SR_CHUNK_* */
    guint8 source;            /* srp_chunk_source */
    guint8 tcp_ordinal;       /* for SRP_BYTES_FRAME */
} srp_chunk;

/* A frame whose segment carried bytes of a released run, and how many of
 * the run's bytes it supplied (the first copy of each byte, by offset). */
typedef struct srp_src {
    guint32 frame;
    guint32 bytes;
} srp_src;

/* A completed connection's totals (in wmem_file_scope()). */
typedef struct srp_close_totals {
    guint64 delivered[2];
    guint64 skipped[2];
    guint64 dropped[2];
    guint64 dropped_segs[2];
} srp_close_totals;

/* A connection the core completed while this frame was processed. */
typedef struct srp_close {
    guint64 conn_id;
    /* NULL while all are zero: a connection evicted or timed out before it
     * carried data (every frame of a SYN flood closes one) costs 24 bytes. */
    const srp_close_totals *totals;
    guint8 reason;            /* sr_close_reason */
} srp_close;

/* Overlapping segments a divergence names at most. */
#define SRP_DIV_MAX_FRAMES 16
/* Bytes of each policy group a divergence keeps at most. */
#define SRP_DIV_MAX_BYTES 4096u

/* Stream bytes released at this frame that the overlap policies resolve
 * differently (detect_divergence): within one released run of one
 * direction, from the first to the last byte on which they disagree. */
typedef struct srp_div {
    guint64 conn_id;
    guint64 offset;           /* stream offset of the first differing byte */
    guint64 len;              /* up to and including the last differing byte */
    guint32 data_len;         /* bytes kept per group: MIN(len, SRP_DIV_MAX_BYTES) */
    guint32 data_off[SR_POLICY_COUNT_]; /* group -> its bytes in srp_record.div_data */
    guint32 frames[SRP_DIV_MAX_FRAMES]; /* overlapping segments buffered for this run */
    guint8 n_frames;
    guint8 n_groups;
    guint8 group_of[SR_POLICY_COUNT_]; /* policy -> group (0: the shown policy's) */
    guint8 dir;
    guint8 first_in_dir;      /* the direction's first divergence */
} srp_div;

typedef enum srp_record_kind {
    SRP_REC_FRAME = 0,        /* built while the frame itself was dissected */
    SRP_REC_END_FLUSH = 1,    /* built by the end-of-capture flush */
} srp_record_kind;

typedef struct srp_record srp_record;
struct srp_record {
    guint32 frame;
    guint8 kind;              /* srp_record_kind */
    guint8 n_segs;
    guint8 segs_ignored;      /* top-level TCP layers past SRP_MAX_SEGS_PER_FRAME */
    guint8 has_snapshot;      /* snap is valid (always for FRAME records) */
    guint8 setup_error;       /* sr_error: the core could not be set up */
    guint8 retained_limit_hit; /* the first record whose released bytes the
                                  retained-bytes limit did not keep */
    guint32 n_chunks;
    guint32 n_closes;
    guint32 data_len;
    guint32 n_srcs;
    guint32 n_divs;
    srp_seg *segs;            /* n_segs of them (in the record's own block) */
    srp_chunk *chunks;
    srp_close *closes;
    const guint8 *data;       /* copied chunk bytes (SRP_BYTES_RECORD), concatenated */
    const srp_src *srcs;      /* the chunks' source frames */
    const srp_div *divs;
    const guint8 *div_data;   /* the groups' bytes of divs */
    /* The previous record that has a snapshot, in first-pass order: the
     * statistics tap adds this record's change, so summing over all records
     * gives the last snapshot. */
    const srp_record *prev;
    /* Global counters after this frame, delta-encoded against prev's
     * (counters.h; in the record's own block): a few bytes on an ordinary
     * frame instead of the whole table. Read with srp_record_snapshot. */
    const guint8 *snap;
    /* Or, in a record that lives only while its frame is dissected (frames
     * not kept, record transient): the same counters plain, absolute and
     * changed, in the record's block, and snap NULL. Nothing is encoded or
     * decoded per frame then. Read either form with srp_record_abs and
     * srp_record_delta. */
    const srp_snapshot *snap_abs;
    const srp_snapshot *snap_delta;
};

/* Rebuilding a record's absolute snapshot walks back to the last key
 * snapshot (at most SRP_SNAP_KEY_EVERY records) or to the record a cache
 * holds, so reading records in order costs one decode each. A cache is
 * valid while srp_record_generation has the value it saw: the init and
 * cleanup routines bump it, because records are freed with the file. */
typedef struct srp_snap_cache {
    const srp_record *r;
    guint gen;
    srp_snapshot abs;
} srp_snap_cache;

extern guint srp_record_generation;

/* r's counters after its frame (r->has_snapshot must be set). cache may
 * be NULL. */
void srp_record_snapshot(const srp_record *r, srp_snap_cache *cache, srp_snapshot *out);

/* The same, without a copy when r holds them plain: a pointer into r, or
 * buf filled by srp_record_snapshot. */
const srp_snapshot *srp_record_abs(const srp_record *r, srp_snap_cache *cache,
                                   srp_snapshot *buf);

/* What changed at r's frame (r->has_snapshot must be set): a pointer into
 * r, or buf filled from the encoding. */
const srp_snapshot *srp_record_delta(const srp_record *r, srp_snapshot *buf);

/* Limit booleans of a record (any segment). */
static inline gboolean
srp_record_status_any(const srp_record *r, unsigned mask)
{
    for (guint i = 0; i < r->n_segs; i++)
        if (r->segs[i].status & mask)
            return TRUE;
    return FALSE;
}

#endif /* SRP_RECORD_H */
