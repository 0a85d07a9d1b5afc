/* driver.h - owns the core's pool and assembler for one capture file and
 * turns what the core reports into immutable records.
 *
 * Created by the init routine and freed by the cleanup routine, so every
 * file open, reload or preference change starts from an empty core.
 * Dissection is single-threaded; the driver takes no locks.
 *
 * Copyright (c) 2026 The safereasm authors. SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef SRP_DRIVER_H
#define SRP_DRIVER_H

#include <epan/packet.h>

#include "extract.h"
#include "record.h"
#include "safereasm.h"

typedef struct srp_driver srp_driver;

/* Never NULL. If the core cannot be set up, every record says so
 * (setup_error) and nothing is reassembled. divergence: also run a core
 * per other overlap policy and record where the released bytes differ
 * (srp_record.divs). */
srp_driver *srp_driver_new(const sr_options *options, size_t max_connections,
                           gboolean divergence);

/* The most released bytes all records together keep (copies of data the
 * core released from its pages; a frame's own bytes are not copied).
 * Beyond it a chunk is SRP_BYTES_OVER_LIMIT and the first record that
 * refused bytes has retained_limit_hit. Default SRP_DEFAULT_MAX_RETAINED;
 * set it before the first frame. */
#define SRP_DEFAULT_MAX_RETAINED (G_GUINT64_CONSTANT(256) << 20)
void srp_driver_set_max_retained(srp_driver *d, guint64 max_bytes);

/* Frees the core (whose final callbacks are ignored) and the driver.
 * Records stay valid: they live in wmem_file_scope(). NULL is a no-op. */
void srp_driver_free(srp_driver *d);

/* First pass only: feed the frame's segments to the core and return the
 * frame's record, allocated in wmem_file_scope(). Chunks and closes the
 * core reports while doing so (for any connection) go into this record. */
const srp_record *srp_driver_process(srp_driver *d, const packet_info *pinfo,
                                     const srp_frame_input *in);

/* After the first pass (postseq cleanup): complete every connection, and
 * file what that releases under each connection's last frame, as
 * SRP_REC_END_FLUSH records. The global snapshot after the flush goes to
 * the last frame the driver processed. Runs once; later calls do nothing. */
void srp_driver_end_flush(srp_driver *d);

/* The frame that released (or skipped) the buffered bytes of frame's
 * segment, once that frame has been processed: in two-pass runs and in the
 * GUI, not while a one-pass run prints frame. */
gboolean srp_driver_released_in(const srp_driver *d, guint32 frame, guint32 *release);

/* detect_divergence: when frame's segment carried bytes that the overlap
 * policies resolve differently, the record that shows that divergence
 * (the frame that released the bytes, or its end-flush record) and its
 * index in rec->divs. Known once the releasing frame has been processed:
 * in two-pass runs and in the GUI (and in one pass when a frame releases
 * its own contested bytes). */
gboolean srp_driver_divergence_of(const srp_driver *d, guint32 frame,
                                  const srp_record **rec, guint *index);

/* Does the program dissecting keep every frame, so that a frame may be
 * dissected again (two-pass tshark, the GUI, sharkd), or not (one-pass
 * tshark keeps only the reference, previous displayed and previous
 * captured frames)? Probed from the fifth frame on (driver.c,
 * classify_frames); until then, and for a run that cannot be told,
 * SRP_FRAMES_UNKNOWN, which is treated as kept.
 *
 * When frames are not kept, a frame's record is needed only while that
 * frame is dissected: copies of released bytes (and, without
 * detect_divergence, the whole record) are freed when the next frame is
 * processed, and the caller must not attach the record to the frame
 * (srp_driver_record_transient). What is shown does not change: the
 * retained-bytes bound still counts the copies as if they were kept, so a
 * one-pass run shows the same fields as a two-pass one. */
typedef enum srp_frames_kept {
    SRP_FRAMES_UNKNOWN = 0,
    SRP_FRAMES_KEPT = 1,
    SRP_FRAMES_NOT_KEPT = 2,
} srp_frames_kept;

srp_frames_kept srp_driver_frames_kept(const srp_driver *d);

/* First pass: every frame, before srp_driver_process (which only frames
 * with TCP get), so the classification sees every frame. */
void srp_driver_see_frame(srp_driver *d, const packet_info *pinfo);

/* Is r (just returned by srp_driver_process) freed when the next frame is
 * processed? Then it must not be stored with p_add_proto_data. */
gboolean srp_driver_record_transient(const srp_driver *d, const srp_record *r);

/* Bytes of released-byte copies allocated now (for the debug trace: in one
 * pass, only the current frame's). */
guint64 srp_driver_copies_held(const srp_driver *d);

/* The end-of-capture record of a frame, or NULL. */
const srp_record *srp_driver_end_record(const srp_driver *d, guint32 frame);

#endif /* SRP_DRIVER_H */
