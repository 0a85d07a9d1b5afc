/* packet-safereasm.c - the "Safe TCP Reassembly" post-dissector.
 *
 * First pass (!pinfo->fd->visited): read the frame's top-level TCP
 * segments (extract.c), feed them to the core (driver.c) and store the
 * resulting immutable record with p_add_proto_data(wmem_file_scope()).
 * Every pass: draw the tree, add expert infos and queue the tap from the
 * record, so one-pass, two-pass and random-access dissection agree. The
 * only extra in two-pass runs is the end-of-capture flush, filed by the
 * postseq routine under each connection's last frame.
 *
 * Copyright (c) 2026 The safereasm authors. SPDX-License-Identifier: GPL-2.0-or-later
 */
/* Trace with: wireshark --log-debug safereasm (the GUI tests read it). */
#define WS_LOG_DOMAIN "safereasm"

#include <wireshark.h>
#include <epan/expert.h>
#include <epan/packet.h>
#include <epan/proto.h>
#include <epan/proto_data.h>
#include <epan/strutil.h>
#include <epan/tfs.h>
#include <epan/tap.h>

#include "counters.h"
#include "driver.h"
#include "extract.h"
#include "prefs.h"
#include "record.h"
#include "safereasm-plugin.h"
#include "safereasm.h"
#include "ws-compat.h"

static int proto_sr = -1;
static int sr_tap = -1;
static dissector_handle_t sr_handle;
static srp_driver *sr_driver;

/* ------------------------------------------------------------ fields */

static int hf_segment = -1;
static int hf_conn_id = -1;
static int hf_dir = -1;
static int hf_zone = -1;
static int hf_captured_len = -1;
static int hf_claimed_len = -1;
static int hf_payload_source = -1;
static int hf_status = -1;
static int hf_status_in_order = -1;
static int hf_status_out_of_order = -1;
static int hf_status_retransmission = -1;
static int hf_status_overlap = -1;
static int hf_status_conflict = -1;
static int hf_status_limit_connection = -1;
static int hf_status_limit_total = -1;
static int hf_status_evicted_other = -1;
static int hf_status_after_close = -1;
static int hf_status_out_of_window = -1;
static int hf_status_new_connection = -1;
static int hf_status_closed = -1;
static int hf_status_dropped = -1;
static int hf_status_before_start = -1;
static int hf_status_isn_changed = -1;
static int hf_dropped_len = -1;
static int hf_error = -1;
static int hf_conn_pages = -1;
static int hf_conn_delivered_c2s = -1;
static int hf_conn_delivered_s2c = -1;
static int hf_conn_skipped_c2s = -1;
static int hf_conn_skipped_s2c = -1;
static int hf_conn_dropped_c2s = -1;
static int hf_conn_dropped_s2c = -1;
static int hf_conn_dropped_segs_c2s = -1;
static int hf_conn_dropped_segs_s2c = -1;
static int hf_conn_close_reason = -1;
static int hf_segs_ignored = -1;
static int hf_limit_connection = -1;
static int hf_limit_total = -1;
static int hf_limit_table = -1;
static int hf_delivered = -1;
static int hf_skipped = -1;
static int hf_tcp_stream = -1;
static int hf_released_in = -1;
static int hf_chunk_frames = -1;
static int hf_chunk_frame = -1;
static int hf_chunk_frame_count = -1;
static int hf_chunk = -1;
static int hf_chunk_conn_id = -1;
static int hf_chunk_dir = -1;
static int hf_chunk_offset = -1;
static int hf_chunk_len = -1;
static int hf_chunk_skipped = -1;
static int hf_chunk_flags = -1;
static int hf_chunk_flag_start = -1;
static int hf_chunk_flag_end = -1;
static int hf_chunk_flag_conflict = -1;
static int hf_chunk_flag_buffered = -1;
static int hf_chunk_flag_flushed = -1;
static int hf_chunk_data = -1;
static int hf_chunk_data_dropped = -1;
static int hf_closed = -1;
static int hf_closed_conn_id = -1;
static int hf_closed_reason = -1;
static int hf_closed_delivered_c2s = -1;
static int hf_closed_delivered_s2c = -1;
static int hf_closed_skipped_c2s = -1;
static int hf_closed_skipped_s2c = -1;
static int hf_closed_dropped_c2s = -1;
static int hf_closed_dropped_s2c = -1;
static int hf_closed_dropped_segs_c2s = -1;
static int hf_closed_dropped_segs_s2c = -1;
static int hf_end_flush = -1;
static int hf_div = -1;
static int hf_div_release = -1;
static int hf_div_released_in = -1;
static int hf_div_conn_id = -1;
static int hf_div_dir = -1;
static int hf_div_offset = -1;
static int hf_div_len = -1;
static int hf_div_groups = -1;
static int hf_div_group = -1;
static int hf_div_policies = -1;
static int hf_div_bytes = -1;
static int hf_div_segment = -1;
static int hf_global = -1;
static int hf_change = -1;
static int hf_retained = -1;
static int hf_global_ctr[SRP_N_COUNTERS];
static int hf_change_ctr[SRP_N_COUNTERS];

static gint ett_sr = -1;
static gint ett_segment = -1;
static gint ett_status = -1;
static gint ett_chunk = -1;
static gint ett_chunk_flags = -1;
static gint ett_closed = -1;
static gint ett_end_flush = -1;
static gint ett_global = -1;
static gint ett_change = -1;
static gint ett_div = -1;
static gint ett_chunk_frames = -1;
static gint ett_div_group = -1;

static expert_field ei_conflict = EI_INIT;
static expert_field ei_limit_connection = EI_INIT;
static expert_field ei_limit_total = EI_INIT;
static expert_field ei_limit_table = EI_INIT;
static expert_field ei_skipped = EI_INIT;
static expert_field ei_error = EI_INIT;
static expert_field ei_evicted = EI_INIT;
static expert_field ei_timeout = EI_INIT;
static expert_field ei_dropped = EI_INIT;
static expert_field ei_isn_changed = EI_INIT;
static expert_field ei_divergence = EI_INIT;
static expert_field ei_retained_limit = EI_INIT;
static expert_field ei_no_memory = EI_INIT;

/* Rebuilding a frame's global counters from the delta-encoded snapshots:
 * drawing frames in order costs one decode each. */
static srp_snap_cache draw_snap_cache;

/* The record keeps the status in 16 bits. */
G_STATIC_ASSERT(SR_SEG_ISN_CHANGED <= G_MAXUINT16 && SR_SEG_BEFORE_START <= G_MAXUINT16);

static const value_string dir_vals[] = {
    { SR_DIR_CLIENT_TO_SERVER, "client to server" },
    { SR_DIR_SERVER_TO_CLIENT, "server to client" },
    { 0, NULL }
};

static const value_string error_vals[] = {
#define SRP__XX(name, msg) { SR_##name, "SR_" #name ": " msg },
    SR_ERROR_MAP(SRP__XX)
#undef SRP__XX
    { 0, NULL }
};

static const value_string payload_source_vals[] = {
    { SRP_PAYLOAD_NONE, "none captured" },
    { SRP_PAYLOAD_FIELD, "tcp.payload" },
    { SRP_PAYLOAD_RST_TVB, "bytes after the TCP header of a RST" },
    { 0, NULL }
};

/* Filled from sr_close_reason_name() at registration. */
static value_string close_reason_vals[SR_CLOSE_REASON_COUNT_ + 1];

/* ------------------------------------------------------------ drawing */

/* Whether this dissection shows any of our items: FALSE when there is no
 * tree, or the tree is not visible and no filter, tap or column refers to
 * a safereasm field (priming a field marks its protocol referenced too).
 * Then Wireshark fakes every item we add (proto_tree_add_* returns the
 * parent, which for the faked top item is the root, and labels go
 * nowhere), so the drawing skips the labels and the items no expert info
 * hangs on, and adds only what carries an expert info, exactly as before.
 * Dissection is single-threaded; set at the start of each call. */
static gboolean draw_items = TRUE;


static proto_item *
add_u64(proto_tree *t, int hf, tvbuff_t *tvb, guint64 v)
{
    proto_item *it = proto_tree_add_uint64(t, hf, tvb, 0, 0, v);

    proto_item_set_generated(it);
    return it;
}

static proto_item *
add_uint(proto_tree *t, int hf, tvbuff_t *tvb, guint32 v)
{
    proto_item *it = proto_tree_add_uint(t, hf, tvb, 0, 0, v);

    proto_item_set_generated(it);
    return it;
}

static proto_item *
add_bool(proto_tree *t, int hf, tvbuff_t *tvb, guint64 v)
{
    proto_item *it = proto_tree_add_boolean(t, hf, tvb, 0, 0, v);

    proto_item_set_generated(it);
    return it;
}

static const char *
dir_words(guint8 dir)
{
    return dir == SR_DIR_SERVER_TO_CLIENT ? "server\u2192client" : "client\u2192server";
}

/* The expert texts stay below ITEM_LABEL_LENGTH (240), so the tree shows
 * them whole. */

/* Bytes of the segment that were lost to the stream, for the expert info:
 * what the core counted as dropped, or, for a segment out of window that
 * the core did not count, its claimed length. */
static guint32
dropped_bytes(const srp_seg *s)
{
    if (s->dropped_len > 0)
        return s->dropped_len;
    if (s->status & SR_SEG_OUT_OF_WINDOW)
        return s->claimed_len;
    return 0;
}

static const char *
dropped_why(const srp_seg *s)
{
    if (s->status & SR_SEG_BEFORE_START)
        return "before the start of this direction, which was picked up without its SYN "
               "(segments reordered at capture start)";
    if (s->status & SR_SEG_OUT_OF_WINDOW)
        return "out of window, the segment starts max_window or more bytes beyond the "
               "highest byte seen";
    return "beyond this direction's FIN, or buffering them failed (out of memory)";
}

/* What happened to a segment, in the words of its summary. */
static void
append_what(wmem_strbuf_t *sb, const srp_seg *s, guint32 lost, gboolean lost_any,
            gboolean real_error)
{
    const char *sep = "";

#define SRP__ADD(cond, text) \
    do { if (cond) { wmem_strbuf_append_printf(sb, "%s%s", sep, text); sep = ", "; } } while (0)
    SRP__ADD(s->status & SR_SEG_NEW_CONNECTION, "new connection");
    SRP__ADD(s->status & SR_SEG_IN_ORDER, "in order");
    SRP__ADD(s->status & SR_SEG_OUT_OF_ORDER, "buffered (out of order)");
    SRP__ADD(s->status & SR_SEG_RETRANSMISSION, "retransmission");
    SRP__ADD((s->status & SR_SEG_OVERLAP) && !(s->status & SR_SEG_RETRANSMISSION), "overlap");
    SRP__ADD(s->status & SR_SEG_CONFLICT, "with different content");
    SRP__ADD(s->status & SR_SEG_AFTER_CLOSE, "after the connection closed");
    SRP__ADD(s->status & SR_SEG_ISN_CHANGED, "server ISN changed");
    if (lost > 0) {
        wmem_strbuf_append_printf(sb, "%s%u bytes dropped", sep, lost);
        sep = ", ";
    } else {
        SRP__ADD(lost_any, "bytes dropped");
    }
    if (s->close_reason >= 0) {
        wmem_strbuf_append_printf(sb, "%sclosed (%s)", sep,
                                  sr_close_reason_name((sr_close_reason)s->close_reason));
        sep = ", ";
    }
    if (real_error) {
        wmem_strbuf_append_printf(sb, "%s%s", sep, sr_err_name((sr_error)s->error));
        sep = ", ";
    }
    SRP__ADD(*sep == '\0', "no payload");
#undef SRP__ADD
}

static void
draw_segment(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, proto_item *top,
             const srp_seg *s, guint idx, const srp_record *r)
{
    static int *const status_bits[] = {
        &hf_status_in_order, &hf_status_out_of_order, &hf_status_retransmission,
        &hf_status_overlap, &hf_status_conflict, &hf_status_limit_connection,
        &hf_status_limit_total, &hf_status_evicted_other, &hf_status_after_close,
        &hf_status_out_of_window, &hf_status_new_connection, &hf_status_closed,
        &hf_status_dropped, &hf_status_before_start, &hf_status_isn_changed,
    };
    proto_item *si, *it;
    proto_tree *st, *bt;
    gboolean real_error = s->error != SR_OK && s->error != SR_ERR_CONNECTION_CLOSED;
    gboolean lost_any = (s->status & SR_SEG_DROPPED) ||
                        ((s->status & SR_SEG_OUT_OF_WINDOW) && s->claimed_len > 0);
    guint32 lost = lost_any ? dropped_bytes(s) : 0;
    wmem_strbuf_t *what = NULL;
    guint32 release;

    if (!draw_items) {
        /* Every item faked: only what the expert infos hang on, and
         * nothing when none is added (the conditions below). */
        if (!real_error && !lost_any && s->error != SR_ERR_CONNECTION_LIMIT &&
            !(s->status & (SR_SEG_CONFLICT | SR_SEG_LIMIT_CONNECTION | SR_SEG_LIMIT_TOTAL |
                           SR_SEG_EVICTED_OTHER | SR_SEG_ISN_CHANGED)))
            return;
        si = proto_tree_add_item(tree, hf_segment, tvb, 0, 0, ENC_NA);
        st = proto_item_add_subtree(si, ett_segment);
        it = s->error != SR_OK ? add_uint(st, hf_error, tvb, s->error) : NULL;
        goto experts;
    }
    what = wmem_strbuf_new(pinfo->pool, "");
    append_what(what, s, lost, lost_any, real_error);
    si = proto_tree_add_item(tree, hf_segment, tvb, 0, 0, ENC_NA);
    proto_item_set_generated(si);
    if (s->conn_id != 0)
        proto_item_append_text(si, " %u: connection %" PRIu64 " %s, %s", idx + 1, s->conn_id,
                               dir_words(s->dir), wmem_strbuf_get_str(what));
    else
        proto_item_append_text(si, " %u: no connection, %s", idx + 1,
                               wmem_strbuf_get_str(what));
    st = proto_item_add_subtree(si, ett_segment);

    add_u64(st, hf_conn_id, tvb, s->conn_id);
    add_uint(st, hf_dir, tvb, s->dir);
    if (s->tcp_stream != G_MAXUINT32)
        add_uint(st, hf_tcp_stream, tvb, s->tcp_stream);
    add_uint(st, hf_zone, tvb, s->zone);
    add_uint(st, hf_captured_len, tvb, s->captured_len);
    add_uint(st, hf_claimed_len, tvb, s->claimed_len);
    add_uint(st, hf_dropped_len, tvb, s->dropped_len);
    add_uint(st, hf_payload_source, tvb, s->payload_source);

    it = add_uint(st, hf_status, tvb, s->status);
    bt = proto_item_add_subtree(it, ett_status);
    /* Like tcp.analysis.*: a flag is there only when set, so its bare name
     * is a filter for exactly the segments it describes. */
    for (size_t i = 0; i < G_N_ELEMENTS(status_bits); i++)
        if (s->status & proto_registrar_get_nth(*status_bits[i])->bitmask)
            add_bool(bt, *status_bits[i], tvb, s->status);

    /* Like tcp.reassembled_in: where this segment's buffered bytes came
     * out. Known once that frame has been processed, so in two passes and
     * in the GUI, not in a one-pass run (the only field that differs). */
    if ((s->status & SR_SEG_OUT_OF_ORDER) && idx == 0 &&
        srp_driver_released_in(sr_driver, r->frame, &release)) {
        it = proto_tree_add_uint(st, hf_released_in, tvb, 0, 0, release);
        proto_item_set_generated(it);
    }

    it = s->error != SR_OK ? add_uint(st, hf_error, tvb, s->error) : NULL;
    add_uint(st, hf_conn_pages, tvb, s->conn_pages);
    add_u64(st, hf_conn_delivered_c2s, tvb, s->delivered[SR_DIR_CLIENT_TO_SERVER]);
    add_u64(st, hf_conn_delivered_s2c, tvb, s->delivered[SR_DIR_SERVER_TO_CLIENT]);
    add_u64(st, hf_conn_skipped_c2s, tvb, s->skipped[SR_DIR_CLIENT_TO_SERVER]);
    add_u64(st, hf_conn_skipped_s2c, tvb, s->skipped[SR_DIR_SERVER_TO_CLIENT]);
    {
        static const srp_seg_drops none;
        const srp_seg_drops *sd = s->drops != NULL ? s->drops : &none;

        add_u64(st, hf_conn_dropped_c2s, tvb, sd->dropped[SR_DIR_CLIENT_TO_SERVER]);
        add_u64(st, hf_conn_dropped_s2c, tvb, sd->dropped[SR_DIR_SERVER_TO_CLIENT]);
        add_u64(st, hf_conn_dropped_segs_c2s, tvb, sd->dropped_segs[SR_DIR_CLIENT_TO_SERVER]);
        add_u64(st, hf_conn_dropped_segs_s2c, tvb, sd->dropped_segs[SR_DIR_SERVER_TO_CLIENT]);
    }
    if (s->close_reason >= 0)
        add_uint(st, hf_conn_close_reason, tvb, (guint32)s->close_reason);

experts:
    if (real_error)
        expert_add_info_format(pinfo, it, &ei_error, "Core error %s: %s",
                               sr_err_name((sr_error)s->error),
                               sr_strerror((sr_error)s->error));
    if (s->status & SR_SEG_CONFLICT)
        expert_add_info(pinfo, si, &ei_conflict);
    if (s->status & SR_SEG_LIMIT_CONNECTION)
        expert_add_info(pinfo, si, &ei_limit_connection);
    if (s->status & SR_SEG_LIMIT_TOTAL)
        expert_add_info(pinfo, si, &ei_limit_total);
    if ((s->status & SR_SEG_EVICTED_OTHER) || s->error == SR_ERR_CONNECTION_LIMIT)
        expert_add_info(pinfo, si, &ei_limit_table);
    if (lost_any)
        expert_add_info_format(pinfo, si, &ei_dropped,
                               "%s of connection %" PRIu64 " %s dropped (not delivered, not "
                               "skipped): %s",
                               lost > 0 ? wmem_strdup_printf(pinfo->pool, "%u bytes", lost)
                                        : "Bytes",
                               s->conn_id, dir_words(s->dir), dropped_why(s));
    if (s->status & SR_SEG_ISN_CHANGED)
        expert_add_info_format(pinfo, si, &ei_isn_changed,
                               "Connection %" PRIu64 ": the server's initial sequence number "
                               "changed: a later SYN-ACK replaced the earlier, unacknowledged "
                               "one; its stream counts from the later one",
                               s->conn_id);

    /* The summary names this frame's own segment (the first one). */
    if (idx == 0 && draw_items) {
        if (s->conn_id != 0)
            proto_item_append_text(top, ", connection %" PRIu64 " %s: %s", s->conn_id,
                                   dir_words(s->dir), wmem_strbuf_get_str(what));
        else
            proto_item_append_text(top, ": %s", wmem_strbuf_get_str(what));
    }
}

/* One buffer with the bytes of all the record's chunks, in packet scope
 * (it lives as long as the tree that shows it): copied bytes from the
 * record, the frame's own bytes from the frame. *pos[i] is where chunk i
 * starts in it, or -1 if its bytes are not available. */
static guint8 *
gather_bytes(packet_info *pinfo, proto_tree *root, const srp_record *r, gint64 *pos,
             guint *total)
{
    guint64 n = 0;
    guint8 *buf;

    for (guint i = 0; i < r->n_chunks; i++)
        if (SRP_CHUNK_KEPT(&r->chunks[i]))
            n += r->chunks[i].len;
    *total = 0;
    if (n == 0 || n > SRP_MAX_RECORD_DATA * 2u)
        return NULL;
    buf = (guint8 *)wmem_alloc(pinfo->pool, (size_t)n);
    for (guint i = 0; i < r->n_chunks; i++) {
        const srp_chunk *c = &r->chunks[i];
        const guint8 *src = NULL;

        pos[i] = -1;
        if (c->len == 0)
            continue;
        if (c->source == SRP_BYTES_RECORD && r->data != NULL &&
            c->data_off <= r->data_len && c->len <= r->data_len - c->data_off)
            src = r->data + c->data_off;
        else if (c->source == SRP_BYTES_FRAME)
            src = srp_extract_frame_bytes(root, c->tcp_ordinal, c->data_off, c->len);
        if (src == NULL)
            continue;
        memcpy(buf + *total, src, (size_t)c->len);
        pos[i] = *total;
        *total += (guint)c->len;
    }
    return buf;
}

static void
draw_chunks(tvbuff_t *tvb, packet_info *pinfo, proto_tree *root, proto_tree *tree,
            const srp_record *r)
{
    tvbuff_t *data_tvb = NULL;
    gint64 *pos;
    guint total = 0;

    if (r->n_chunks == 0)
        return;
    if (!draw_items) {
        /* Every item faked (and no bytes gathered: a tree that is shown or
         * a referenced chunk field makes draw_items TRUE): only what the
         * expert infos hang on. */
        for (guint i = 0; i < r->n_chunks; i++) {
            const srp_chunk *c = &r->chunks[i];
            proto_item *it;

            if (!c->skipped)
                continue;
            it = proto_tree_add_item(tree, hf_chunk, tvb, 0, 0, ENC_NA);
            it = add_u64(proto_item_add_subtree(it, ett_chunk), hf_chunk_skipped, tvb,
                         c->skipped);
            expert_add_info_format(pinfo, it, &ei_skipped,
                                   "%" PRIu64 " bytes missing, skipped before offset %"
                                   PRIu64 " (connection %" PRIu64 " %s)", c->skipped,
                                   c->offset, c->conn_id, dir_words(c->dir));
        }
        return;
    }
    pos = wmem_alloc0_array(pinfo->pool, gint64, r->n_chunks);
    for (guint i = 0; i < r->n_chunks; i++)
        pos[i] = -1;
    /* Gather the bytes only for a tree that is shown, or when a filter or
     * column asks for them (an invisible tree fakes the item anyway). */
    if (tree != NULL && ((PTREE_DATA(tree) != NULL && PTREE_DATA(tree)->visible) ||
                         proto_field_is_referenced(tree, hf_chunk_data))) {
        guint8 *buf = gather_bytes(pinfo, root, r, pos, &total);

        if (buf != NULL && total > 0) {
            data_tvb = tvb_new_child_real_data(tvb, buf, total, total);
            add_new_data_source(pinfo, data_tvb,
                                r->kind == SRP_REC_END_FLUSH
                                    ? "Reassembled stream (end of capture)"
                                    : "Reassembled stream");
        }
    }
    for (guint i = 0; i < r->n_chunks; i++) {
        static int *const flag_bits[] = {
            &hf_chunk_flag_start, &hf_chunk_flag_end, &hf_chunk_flag_conflict,
            &hf_chunk_flag_buffered, &hf_chunk_flag_flushed,
        };
        const srp_chunk *c = &r->chunks[i];
        proto_item *ci, *it;
        proto_tree *ct, *ft;

        ci = proto_tree_add_item(tree, hf_chunk, tvb, 0, 0, ENC_NA);
        proto_item_set_generated(ci);
        if (c->len > 0)
            proto_item_append_text(ci, ": connection %" PRIu64 " %s, %" PRIu64 " bytes at "
                                   "offset %" PRIu64, c->conn_id, dir_words(c->dir), c->len,
                                   c->offset);
        else
            proto_item_append_text(ci, ": connection %" PRIu64 " %s, offset %" PRIu64,
                                   c->conn_id, dir_words(c->dir), c->offset);
        if (c->skipped)
            proto_item_append_text(ci, ", after %" PRIu64 " bytes skipped", c->skipped);
        if (c->flags & SR_CHUNK_END)
            proto_item_append_text(ci, ", end of the direction");
        ct = proto_item_add_subtree(ci, ett_chunk);
        add_u64(ct, hf_chunk_conn_id, tvb, c->conn_id);
        add_uint(ct, hf_chunk_dir, tvb, c->dir);
        add_u64(ct, hf_chunk_offset, tvb, c->offset);
        add_u64(ct, hf_chunk_len, tvb, c->len);
        it = add_u64(ct, hf_chunk_skipped, tvb, c->skipped);
        if (c->skipped)
            expert_add_info_format(pinfo, it, &ei_skipped,
                                   "%" PRIu64 " bytes missing, skipped before offset %" PRIu64
                                   " (connection %" PRIu64 " %s)", c->skipped, c->offset,
                                   c->conn_id, dir_words(c->dir));
        it = add_uint(ct, hf_chunk_flags, tvb, c->flags);
        ft = proto_item_add_subtree(it, ett_chunk_flags);
        for (size_t k = 0; k < G_N_ELEMENTS(flag_bits); k++)
            if (c->flags & proto_registrar_get_nth(*flag_bits[k])->bitmask)
                add_bool(ft, *flag_bits[k], tvb, c->flags);
        if (c->len > 0) {
            if (data_tvb != NULL && pos[i] >= 0)
                proto_item_set_generated(proto_tree_add_item(ct, hf_chunk_data, data_tvb,
                                                             (gint)pos[i], (gint)c->len,
                                                             ENC_NA));
            else if (data_tvb != NULL || !SRP_CHUNK_KEPT(c))
                add_bool(ct, hf_chunk_data_dropped, tvb, 1);
        }
        /* Like tcp.segments: the frames the run came from, with the bytes
         * each supplied; a link each (Go to Linked Packet). */
        if (c->n_src > 0 && r->srcs != NULL && c->src_first + c->n_src <= r->n_srcs) {
            wmem_strbuf_t *sb = wmem_strbuf_new(pinfo->pool, "");
            proto_tree *fst;

            for (guint k = 0; k < c->n_src; k++)
                wmem_strbuf_append_printf(sb, "%s#%u(%u)", k ? ", " : "",
                                          r->srcs[c->src_first + k].frame,
                                          r->srcs[c->src_first + k].bytes);
            it = proto_tree_add_item(ct, hf_chunk_frames, tvb, 0, 0, ENC_NA);
            proto_item_set_generated(it);
            proto_item_set_text(it, "%u Reassembled TCP Segment%s (%" PRIu64 " bytes): %s",
                                c->n_src, c->n_src == 1 ? "" : "s", c->len,
                                wmem_strbuf_get_str(sb));
            fst = proto_item_add_subtree(it, ett_chunk_frames);
            for (guint k = 0; k < c->n_src; k++) {
                const srp_src *src = &r->srcs[c->src_first + k];

                it = proto_tree_add_uint_format_value(fst, hf_chunk_frame, tvb, 0, 0,
                                                      src->frame, "%u (%u bytes)",
                                                      src->frame, src->bytes);
                proto_item_set_generated(it);
            }
            add_uint(fst, hf_chunk_frame_count, tvb, c->n_src);
        }
    }
}

/* What one divergence says: which bytes, the policy groups and what each
 * kept, the segments that carried them. */
static void
draw_div_body(tvbuff_t *tvb, packet_info *pinfo, proto_tree *dt, const srp_record *r,
              const srp_div *dv)
{
    proto_item *gi;
    proto_tree *gt;

    add_u64(dt, hf_div_conn_id, tvb, dv->conn_id);
    add_uint(dt, hf_div_dir, tvb, dv->dir);
    add_u64(dt, hf_div_offset, tvb, dv->offset);
    add_u64(dt, hf_div_len, tvb, dv->len);
    add_uint(dt, hf_div_groups, tvb, dv->n_groups);
    for (guint g = 0; g < dv->n_groups; g++) {
        wmem_strbuf_t *names = wmem_strbuf_new(pinfo->pool, "");
        const guint8 *bytes = r->div_data ? r->div_data + dv->data_off[g] : NULL;

        for (guint p = 0; p < SR_POLICY_COUNT_; p++)
            if (dv->group_of[p] == g)
                wmem_strbuf_append_printf(names, "%s%s",
                                          wmem_strbuf_get_len(names) ? ", " : "",
                                          sr_overlap_policy_name((sr_overlap_policy)p));
        gi = proto_tree_add_item(dt, hf_div_group, tvb, 0, 0, ENC_NA);
        proto_item_set_generated(gi);
        proto_item_append_text(gi, " %u%s: %s kept \"%s\"%s", g + 1,
                               g == 0 ? " (shown)" : "", wmem_strbuf_get_str(names),
                               bytes ? SRP_FORMAT_TEXT(pinfo->pool, bytes, dv->data_len) : "",
                               dv->data_len < dv->len ? "..." : "");
        gt = proto_item_add_subtree(gi, ett_div_group);
        proto_item_set_generated(proto_tree_add_string(gt, hf_div_policies, tvb, 0, 0,
                                                       wmem_strbuf_get_str(names)));
        if (bytes)
            proto_item_set_generated(proto_tree_add_bytes_with_length(
                gt, hf_div_bytes, tvb, 0, 0, bytes, (gint)dv->data_len));
    }
    for (guint k = 0; k < dv->n_frames; k++)
        proto_item_set_generated(proto_tree_add_uint(dt, hf_div_segment, tvb, 0, 0,
                                                     dv->frames[k]));
}

/* Where the overlap policies kept different bytes (detect_divergence), at
 * the frame that released them. */
static void
draw_divs(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, proto_item *top,
          const srp_record *r)
{
    for (guint i = 0; i < r->n_divs; i++) {
        const srp_div *dv = &r->divs[i];
        proto_item *di;

        di = proto_tree_add_item(tree, hf_div_release, tvb, 0, 0, ENC_NA);
        proto_item_set_generated(di);
        proto_item_append_text(di, ": connection %" PRIu64 " %s, %" PRIu64 " bytes from "
                               "offset %" PRIu64 ", %u versions", dv->conn_id,
                               dir_words(dv->dir), dv->len, dv->offset, dv->n_groups);
        draw_div_body(tvb, pinfo, proto_item_add_subtree(di, ett_div), r, dv);
        expert_add_info_format(pinfo, di, &ei_divergence,
                               "Stream content depends on the receiver's TCP stack: "
                               "connection %" PRIu64 " %s, %" PRIu64 " bytes at offset %"
                               PRIu64 " differ between %u groups of overlap policies",
                               dv->conn_id, dir_words(dv->dir), dv->len, dv->offset,
                               dv->n_groups);
        if (i == 0)
            proto_item_append_text(top, ", content depends on the receiver's TCP stack");
    }
}

/* On a segment whose bytes the policies resolve differently: the
 * divergence, linked to the frame that released them. Known once that
 * frame has been processed (two passes, the GUI). */
static void
draw_segment_div(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, proto_item *top,
                 const srp_record *r)
{
    const srp_record *rel;
    const srp_div *dv;
    guint index;
    proto_item *di;
    proto_tree *dt;

    if (!srp_driver_divergence_of(sr_driver, r->frame, &rel, &index))
        return;
    dv = &rel->divs[index];
    di = proto_tree_add_item(tree, hf_div, tvb, 0, 0, ENC_NA);
    proto_item_set_generated(di);
    proto_item_append_text(di, ": this segment carries bytes that the overlap policies "
                           "resolve differently (connection %" PRIu64 " %s, offset %"
                           PRIu64 ", %u versions)", dv->conn_id, dir_words(dv->dir),
                           dv->offset, dv->n_groups);
    dt = proto_item_add_subtree(di, ett_div);
    proto_item_set_generated(proto_tree_add_uint(dt, hf_div_released_in, tvb, 0, 0,
                                                 rel->frame));
    draw_div_body(tvb, pinfo, dt, rel, dv);
    expert_add_info_format(pinfo, di, &ei_divergence,
                           "Stream content depends on the receiver's TCP stack: this "
                           "segment's bytes are kept by some overlap policies and not by "
                           "others (released in frame %u)", rel->frame);
    proto_item_append_text(top, ", its bytes depend on the receiver's TCP stack");
}

static void
draw_closes(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, const srp_record *r)
{
    for (guint i = 0; i < r->n_closes; i++) {
        static const srp_close_totals zero;
        const srp_close *cl = &r->closes[i];
        const srp_close_totals *c = cl->totals != NULL ? cl->totals : &zero;
        proto_item *ci, *it;
        proto_tree *ct;

        /* Every item faked: only what an expert info hangs on. */
        if (!draw_items && cl->reason != SR_CLOSE_EVICTED && cl->reason != SR_CLOSE_TIMEOUT)
            continue;
        ci = proto_tree_add_item(tree, hf_closed, tvb, 0, 0, ENC_NA);
        ct = proto_item_add_subtree(ci, ett_closed);
        if (!draw_items) {
            it = add_uint(ct, hf_closed_reason, tvb, cl->reason);
            goto experts;
        }
        proto_item_set_generated(ci);
        proto_item_append_text(ci, ": connection %" PRIu64 ", %s", cl->conn_id,
                               sr_close_reason_name((sr_close_reason)cl->reason));
        add_u64(ct, hf_closed_conn_id, tvb, cl->conn_id);
        it = add_uint(ct, hf_closed_reason, tvb, cl->reason);
        add_u64(ct, hf_closed_delivered_c2s, tvb, c->delivered[0]);
        add_u64(ct, hf_closed_delivered_s2c, tvb, c->delivered[1]);
        add_u64(ct, hf_closed_skipped_c2s, tvb, c->skipped[0]);
        add_u64(ct, hf_closed_skipped_s2c, tvb, c->skipped[1]);
        add_u64(ct, hf_closed_dropped_c2s, tvb, c->dropped[0]);
        add_u64(ct, hf_closed_dropped_s2c, tvb, c->dropped[1]);
        add_u64(ct, hf_closed_dropped_segs_c2s, tvb, c->dropped_segs[0]);
        add_u64(ct, hf_closed_dropped_segs_s2c, tvb, c->dropped_segs[1]);
experts:
        if (cl->reason == SR_CLOSE_EVICTED)
            expert_add_info_format(pinfo, it, &ei_evicted,
                                   "Connection %" PRIu64 " evicted at the connection limit",
                                   cl->conn_id);
        else if (cl->reason == SR_CLOSE_TIMEOUT)
            expert_add_info_format(pinfo, it, &ei_timeout,
                                   "Connection %" PRIu64 " closed by idle timeout",
                                   cl->conn_id);
    }
}

static void
draw_snapshot(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, proto_item *top,
              const srp_record *r)
{
    proto_item *it;
    proto_tree *gt, *gt_top;
    gboolean any = FALSE;
    srp_snapshot abs_buf, delta_buf;
    const srp_snapshot *abs, *delta;

    if (!r->has_snapshot)
        return;
    delta = srp_record_delta(r, &delta_buf);
    if (!draw_items)
        goto experts;
    abs = srp_record_abs(r, &draw_snap_cache, &abs_buf);
    it = proto_tree_add_item(tree, hf_global, tvb, 0, 0, ENC_NA);
    proto_item_set_generated(it);
    gt = proto_item_add_subtree(it, ett_global);
    gt_top = gt;
    for (int i = 0; i < SRP_N_COUNTERS; i++)
        add_u64(gt, hf_global_ctr[i], tvb, abs->v[i]);
    add_u64(gt, hf_retained, tvb, abs->v[SRP_SNAP_RETAINED]);

    /* What changed at this frame: lets a filter pick exactly the frames
     * where a counter moved (safereasm.change.evictions, ...). Inside the
     * one statistics subtree, so a frame shows a single collapsed item. */
    for (int i = 0; i < SRP_N_COUNTERS; i++) {
        if (delta->v[i] == 0)
            continue;
        if (!any) {
            it = proto_tree_add_item(gt_top, hf_change, tvb, 0, 0, ENC_NA);
            proto_item_set_generated(it);
            gt = proto_item_add_subtree(it, ett_change);
            any = TRUE;
        }
        proto_item_set_generated(proto_tree_add_int64(
            gt, hf_change_ctr[i], tvb, 0, 0, (gint64)delta->v[i]));
    }
experts:
    /* An allocation the core could not make: say so where it happened, as
     * for any other lost data (the counter alone is easy to miss). */
    if (delta->v[SRP_CTR_no_memory] > 0)
        expert_add_info_format(pinfo, top, &ei_no_memory,
                               "Out of memory: %" PRIu64 " allocation(s) of the core failed at "
                               "this frame: the segment or bytes it was for are refused or "
                               "counted as dropped",
                               delta->v[SRP_CTR_no_memory]);
}

static void
draw_frame_totals(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, proto_item *top,
                  const srp_record *r)
{
    guint64 delivered = 0, skipped = 0, own = 0, own_skipped = 0;
    guint64 own_conn = r->kind == SRP_REC_FRAME && r->n_segs > 0 ? r->segs[0].conn_id : 0;
    wmem_strbuf_t *others;

    if (!draw_items)
        return;  /* items and labels only, no expert info */
    others = wmem_strbuf_new(pinfo->pool, "");

    for (guint i = 0; i < r->n_chunks; i++) {
        const srp_chunk *c = &r->chunks[i];

        delivered += c->len;
        skipped += c->skipped;
        if (c->conn_id == own_conn) {
            own += c->len;
            own_skipped += c->skipped;
        } else if (c->len > 0 || c->skipped > 0) {
            /* Released here for another connection (an idle flush, an
             * eviction): named as that connection's, not this segment's. */
            wmem_strbuf_append_printf(others, "%sconnection %" PRIu64 " %s %" PRIu64 " bytes",
                                      wmem_strbuf_get_len(others) ? ", " : "", c->conn_id,
                                      dir_words(c->dir), c->len);
            if (c->skipped)
                wmem_strbuf_append_printf(others, " after %" PRIu64 " skipped", c->skipped);
        }
    }
    add_u64(tree, hf_delivered, tvb, delivered);
    add_u64(tree, hf_skipped, tvb, skipped);
    if (own)
        proto_item_append_text(top, "; %" PRIu64 " bytes released", own);
    if (own_skipped)
        proto_item_append_text(top, "; %" PRIu64 " bytes skipped", own_skipped);
    if (wmem_strbuf_get_len(others))
        proto_item_append_text(top, r->kind == SRP_REC_END_FLUSH ? ": released %s"
                                                                 : "; also released: %s",
                               wmem_strbuf_get_str(others));
}

static void
draw_record(tvbuff_t *tvb, packet_info *pinfo, proto_tree *root, proto_tree *tree,
            proto_item *top, const srp_record *r)
{
    proto_tree *t = tree;

    if (r->setup_error != SR_OK)
        expert_add_info_format(pinfo, top, &ei_error,
                               "The core could not be set up: %s (%s)",
                               sr_err_name((sr_error)r->setup_error),
                               sr_strerror((sr_error)r->setup_error));
    if (r->retained_limit_hit)
        expert_add_info_format(pinfo, top, &ei_retained_limit,
                               "Released bytes reached the retained-bytes limit (%" PRIu64
                               " bytes, preference safereasm.max_retained_kib): from here on "
                               "chunks released from buffered pages show their offset and "
                               "length but not their bytes (safereasm.chunk.data_dropped)",
                               srp_prefs_max_retained());

    if (r->kind == SRP_REC_END_FLUSH) {
        /* Everything of the end flush stays inside this subtree (its
         * summary too), so one-pass output equals two-pass output with
         * the subtree removed. */
        top = proto_tree_add_item(tree, hf_end_flush, tvb, 0, 0, ENC_NA);
        proto_item_set_generated(top);
        t = proto_item_add_subtree(top, ett_end_flush);
    } else {
        for (guint i = 0; i < r->n_segs; i++)
            draw_segment(tvb, pinfo, tree, top, &r->segs[i], i, r);
        if (r->segs_ignored)
            add_uint(tree, hf_segs_ignored, tvb, r->segs_ignored);
        /* Like tcp.analysis.*: present only when true, so the bare field
         * name is a filter for the frames that hit the limit. */
        gboolean table = srp_record_status_any(r, SR_SEG_EVICTED_OTHER);

        for (guint i = 0; i < r->n_segs; i++)
            table = table || r->segs[i].error == SR_ERR_CONNECTION_LIMIT;
        if (srp_record_status_any(r, SR_SEG_LIMIT_CONNECTION))
            add_bool(tree, hf_limit_connection, tvb, 1);
        if (srp_record_status_any(r, SR_SEG_LIMIT_TOTAL))
            add_bool(tree, hf_limit_total, tvb, 1);
        if (table)
            add_bool(tree, hf_limit_table, tvb, 1);
    }
    draw_frame_totals(tvb, pinfo, t, top, r);
    draw_chunks(tvb, pinfo, root, t, r);
    if (r->kind == SRP_REC_FRAME)
        draw_segment_div(tvb, pinfo, tree, top, r);
    draw_divs(tvb, pinfo, t, top, r);
    draw_closes(tvb, pinfo, t, r);
    draw_snapshot(tvb, pinfo, t, top, r);
}

/* ------------------------------------------------------------ dissector */

static int
dissect_safereasm(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data _U_)
{
    const srp_record *r, *end;
    proto_item *top;
    proto_tree *t;

    r = p_get_proto_data(wmem_file_scope(), pinfo, proto_sr, 0);
    if (r == NULL && !pinfo->fd->visited && sr_driver != NULL) {
        srp_frame_input in;

        srp_driver_see_frame(sr_driver, pinfo);
        /* Only now are the wanted TCP/IP fields primed (real, not faked). */
        srp_extract_frame(tree, pinfo, &in);
        /* A frame whose TCP layers were all unusable still gets a record,
         * so the tree says why nothing was fed. */
        if (in.n_segs > 0 || in.n_ignored > 0) {
            r = srp_driver_process(sr_driver, pinfo, &in);
            /* A record freed at the next frame (no frame is dissected
             * again) is not attached to this one. */
            if (!srp_driver_record_transient(sr_driver, r))
                p_add_proto_data(wmem_file_scope(), pinfo, proto_sr, 0, (void *)r);
        }
        SRP_TRACE("first pass: frame %u, tree %s, %u segment(s) fed, frames kept %s, "
                 "copies held %" PRIu64, pinfo->num, tree != NULL ? "yes" : "no", in.n_segs,
                 srp_driver_frames_kept(sr_driver) == SRP_FRAMES_NOT_KEPT ? "no"
                 : srp_driver_frames_kept(sr_driver) == SRP_FRAMES_KEPT ? "yes" : "unknown",
                 srp_driver_copies_held(sr_driver));
    }
    end = srp_driver_end_record(sr_driver, pinfo->num);
    if (r == NULL && end == NULL)
        return 0;

    /* proto_field_is_referenced() is TRUE for a visible tree, for a
     * protocol Wireshark does not fake, and for a protocol one of whose
     * fields is primed (a filter, a tap's filter, a custom column). */
    draw_items = proto_field_is_referenced(tree, proto_sr);
    top = proto_tree_add_item(tree, proto_sr, tvb, 0, 0, ENC_NA);
    t = proto_item_add_subtree(top, ett_sr);
    if (r != NULL) {
        draw_record(tvb, pinfo, tree, t, top, r);
        tap_queue_packet(sr_tap, pinfo, r);
    }
    if (end != NULL) {
        draw_record(tvb, pinfo, tree, t, top, end);
        tap_queue_packet(sr_tap, pinfo, end);
    }
    return tvb_captured_length(tvb);
}

/* ------------------------------------------------------------ routines */

/* See sr_init. */
static gboolean was_enabled = TRUE;
static int force_tree_listener;
static gboolean force_tree_registered;

static tap_packet_status
force_tree_packet(void *tapdata _U_, packet_info *pinfo _U_, epan_dissect_t *edt _U_,
                  const void *data _U_, tap_flags_t flags _U_)
{
    return TAP_PACKET_DONT_REDRAW;
}

static void
sr_init(void)
{
    sr_options o;
    size_t max_connections;
    gboolean enabled = proto_is_protocol_enabled(find_protocol_by_id(proto_sr));

    srp_driver_free(sr_driver);
    srp_record_generation++;
    srp_prefs_get(&o, &max_connections);
    sr_driver = srp_driver_new(&o, max_connections, srp_prefs_detect_divergence());
    srp_driver_set_max_retained(sr_driver, srp_prefs_max_retained());
    /* Ask for the TCP/IP fields only while enabled (as transum does):
     * wanting fields forces a tree on the first pass, even for a disabled
     * postdissector. */
    if (enabled)
        set_postdissector_wanted_hfids(sr_handle, srp_extract_wanted_hfids());
    /* Enabled Protocols off -> on (or a profile switch that enables us)
     * re-dissects the file, but Wireshark decides whether that pass builds a
     * tree (rescan_packets in file.c) before it runs the init routines,
     * when nobody wanted fields yet: the pass would run without a tree, we
     * could read no field and the plugin stayed empty until a reload. A tap
     * listener with a filter registered here is checked again after the
     * init routines ("a new Lua tap listener may be registered") and makes
     * that pass build a tree. Only for the pass after the switch: it is
     * removed by the next cleanup. */
    if (enabled && !was_enabled) {
        GString *err = register_tap_listener(SRP_TAP_NAME, &force_tree_listener, "frame",
                                             TL_REQUIRES_NOTHING, NULL, force_tree_packet,
                                             NULL, NULL);

        if (err != NULL)
            g_string_free(err, TRUE);
        else
            force_tree_registered = TRUE;
    }
    was_enabled = enabled;
    SRP_TRACE("init: enabled %d, tree forced %d, policy %s, divergence %d", enabled,
             force_tree_registered, sr_overlap_policy_name(o.overlap_policy),
             srp_prefs_detect_divergence());
}

#if SRP_PRIME_TCP_LATER
/* See sr_postseq. */
static int prime_tcp_listener;
static gboolean prime_tcp_registered;
#endif

static void
sr_cleanup(void)
{
    if (force_tree_registered) {
        remove_tap_listener(&force_tree_listener);
        force_tree_registered = FALSE;
    }
#if SRP_PRIME_TCP_LATER
    if (prime_tcp_registered) {
        remove_tap_listener(&prime_tcp_listener);
        prime_tcp_registered = FALSE;
    }
#endif
    set_postdissector_wanted_hfids(sr_handle, NULL);
    srp_driver_free(sr_driver);
    sr_driver = NULL;
    srp_record_generation++;
}

/* After the sequential first pass (tshark -2, the GUI, sharkd): release
 * what is still buffered, with its gaps, at each connection's last frame. */
static void
sr_postseq(void)
{
    srp_driver_end_flush(sr_driver);
#if SRP_PRIME_TCP_LATER
    /* Later passes draw chunk bytes from the frame's top-level tcp nodes,
     * but only the first pass primes our wanted fields, and 4.6 gives an
     * unprimed node no field_info (ws-compat.h). Tap listener filters are
     * primed on every dissection that builds a tree, so this one keeps the
     * tcp protocol real in the second pass of tshark -2 and in the GUI's
     * filtering; registered this late, it makes no pass build a tree that
     * would not have built one. */
    if (!prime_tcp_registered && sr_driver != NULL) {
        GString *err = register_tap_listener(SRP_TAP_NAME, &prime_tcp_listener, "tcp",
                                             TL_REQUIRES_NOTHING, NULL, force_tree_packet,
                                             NULL, NULL);

        if (err != NULL)
            g_string_free(err, TRUE);
        else
            prime_tcp_registered = TRUE;
    }
#endif
}

/* ------------------------------------------------------------ registration */

#define BOOL_BIT(var, name, abbrev, mask, desc) \
    { &var, { name, abbrev, FT_BOOLEAN, 16, TFS(&tfs_set_notset), mask, desc, HFILL } }
#define FLAG_BIT(var, name, abbrev, mask, desc) \
    { &var, { name, abbrev, FT_BOOLEAN, 8, TFS(&tfs_set_notset), mask, desc, HFILL } }

static void
register_counter_fields(void)
{
    /* Kept for the life of the process: Wireshark keeps pointers into it.
     * In the epan scope, which Wireshark frees at exit after the fields. */
    wmem_allocator_t *ep = wmem_epan_scope();
    hf_register_info *hf = wmem_alloc0_array(ep, hf_register_info, 2 * SRP_N_COUNTERS);

    for (int i = 0; i < SRP_N_COUNTERS; i++) {
        const srp_counter_info *c = &srp_counters[i];
        header_field_info g = {
            c->desc, wmem_strdup_printf(ep, "safereasm.global.%s", c->name), FT_UINT64,
            BASE_DEC, NULL, 0x0,
            wmem_strdup_printf(ep, "Core %s counter %s after this frame",
                               c->from_pool ? "pool" : "assembler", c->name),
            HFILL
        };
        header_field_info d = {
            wmem_strdup_printf(ep, "%s (change)", c->desc),
            wmem_strdup_printf(ep, "safereasm.change.%s", c->name), FT_INT64, BASE_DEC, NULL,
            0x0,
            wmem_strdup_printf(ep, "How much core counter %s changed at this frame "
                               "(present only when it changed)", c->name),
            HFILL
        };

        hf_global_ctr[i] = -1;
        hf_change_ctr[i] = -1;
        hf[2 * i].p_id = &hf_global_ctr[i];
        hf[2 * i].hfinfo = g;
        hf[2 * i + 1].p_id = &hf_change_ctr[i];
        hf[2 * i + 1].hfinfo = d;
    }
    proto_register_field_array(proto_sr, hf, 2 * SRP_N_COUNTERS);
}

void
srp_proto_register(void)
{
    static hf_register_info hf[] = {
        { &hf_segment, { "Segment", "safereasm.segment", FT_NONE, BASE_NONE, NULL, 0x0,
            "A top-level TCP segment of this frame and what the core did with it", HFILL } },
        { &hf_conn_id, { "Connection", "safereasm.conn_id", FT_UINT64, BASE_DEC, NULL, 0x0,
            "The core's connection id (1, 2, ...; 0 = none)", HFILL } },
        { &hf_dir, { "Direction", "safereasm.dir", FT_UINT8, BASE_DEC, VALS(dir_vals), 0x0,
            "0: client to server (the SYN's sender, else the first sender seen); 1: server to client", HFILL } },
        { &hf_zone, { "Zone", "safereasm.zone", FT_UINT32, BASE_HEX, NULL, 0x0,
            "Hash of the VLAN ids, VXLAN ids and outer (tunnel) IP addresses; 0 = none", HFILL } },
        { &hf_captured_len, { "Captured payload", "safereasm.captured_len", FT_UINT32, BASE_DEC, NULL, 0x0,
            "Payload bytes handed to the core", HFILL } },
        { &hf_claimed_len, { "Claimed payload", "safereasm.claimed_len", FT_UINT32, BASE_DEC, NULL, 0x0,
            "Payload length the headers claim (tcp.len); the uncaptured rest is skipped", HFILL } },
        { &hf_dropped_len, { "Payload dropped", "safereasm.dropped_len", FT_UINT32, BASE_DEC,
            NULL, 0x0, "Bytes of this segment neither delivered nor skipped (out of window, "
            "before the direction's start, beyond its FIN, out of memory)", HFILL } },
        { &hf_payload_source, { "Payload source", "safereasm.payload_source", FT_UINT8, BASE_DEC,
            VALS(payload_source_vals), 0x0, "Where the payload handed to the core was read: none captured, tcp.payload, or after the header of a RST", HFILL } },
        { &hf_status, { "Status", "safereasm.status", FT_UINT16, BASE_HEX, NULL, 0x0,
            "What the core reported for this segment (SR_SEG_*)", HFILL } },
        BOOL_BIT(hf_status_in_order, "In order", "safereasm.status.in_order",
                 SR_SEG_IN_ORDER, "Some bytes were delivered at once"),
        BOOL_BIT(hf_status_out_of_order, "Out of order (buffered)", "safereasm.status.out_of_order",
                 SR_SEG_OUT_OF_ORDER, "Some bytes were buffered for later"),
        BOOL_BIT(hf_status_retransmission, "Retransmission", "safereasm.status.retransmission",
                 SR_SEG_RETRANSMISSION, "All bytes were already seen"),
        BOOL_BIT(hf_status_overlap, "Overlap", "safereasm.status.overlap",
                 SR_SEG_OVERLAP, "Some bytes were already seen"),
        BOOL_BIT(hf_status_conflict, "Overlap with conflicting data", "safereasm.status.conflict",
                 SR_SEG_CONFLICT, "Already seen bytes came again with different content; the first copy is kept"),
        BOOL_BIT(hf_status_limit_connection, "Per-connection page limit hit",
                 "safereasm.status.limit_connection", SR_SEG_LIMIT_CONNECTION,
                 "The connection was flushed (missing bytes skipped) to stay within its page limit"),
        BOOL_BIT(hf_status_limit_total, "Total page limit hit", "safereasm.status.limit_total",
                 SR_SEG_LIMIT_TOTAL, "A connection was flushed to stay within the total page limit"),
        BOOL_BIT(hf_status_evicted_other, "Evicted another connection",
                 "safereasm.status.evicted_other", SR_SEG_EVICTED_OTHER,
                 "The connection table was full; the least recently used connection was evicted"),
        BOOL_BIT(hf_status_after_close, "After close", "safereasm.status.after_close",
                 SR_SEG_AFTER_CLOSE, "The connection was already closed"),
        BOOL_BIT(hf_status_out_of_window, "Out of window (dropped)", "safereasm.status.out_of_window",
                 SR_SEG_OUT_OF_WINDOW, "Dropped: far outside the window"),
        BOOL_BIT(hf_status_new_connection, "New connection", "safereasm.status.new_connection",
                 SR_SEG_NEW_CONNECTION, "This segment created the connection"),
        BOOL_BIT(hf_status_closed, "Closed", "safereasm.status.closed",
                 SR_SEG_CLOSED, "This segment completed the connection"),
        BOOL_BIT(hf_status_dropped, "Bytes dropped", "safereasm.status.dropped",
                 SR_SEG_DROPPED, "Some bytes of this segment are neither delivered nor skipped: "
                 "no stream position can hold them (out of window, before the direction's start, "
                 "beyond its FIN, or out of memory)"),
        BOOL_BIT(hf_status_before_start, "Before the direction's start",
                 "safereasm.status.before_start", SR_SEG_BEFORE_START,
                 "Bytes dropped because they lie before the start of a direction picked up "
                 "without its SYN (reordered at capture start)"),
        BOOL_BIT(hf_status_isn_changed, "Server ISN changed", "safereasm.status.isn_changed",
                 SR_SEG_ISN_CHANGED,
                 "A later SYN-ACK's ISN replaced the unacknowledged earlier one's here"),
        { &hf_error, { "Core error code", "safereasm.error", FT_UINT8, BASE_DEC, VALS(error_vals), 0x0,
            "What sr_assemble_ex() returned, when not SR_OK", HFILL } },
        { &hf_conn_pages, { "Connection pages buffered", "safereasm.conn.pages", FT_UINT32, BASE_DEC,
            NULL, 0x0, "Pages the connection holds after this segment", HFILL } },
        { &hf_conn_delivered_c2s, { "Connection bytes delivered (client to server)",
            "safereasm.conn.delivered_c2s", FT_UINT64, BASE_DEC, NULL, 0x0, "Bytes the connection delivered client to server so far", HFILL } },
        { &hf_conn_delivered_s2c, { "Connection bytes delivered (server to client)",
            "safereasm.conn.delivered_s2c", FT_UINT64, BASE_DEC, NULL, 0x0, "Bytes the connection delivered server to client so far", HFILL } },
        { &hf_conn_skipped_c2s, { "Connection bytes skipped (client to server)",
            "safereasm.conn.skipped_c2s", FT_UINT64, BASE_DEC, NULL, 0x0, "Bytes missing from the capture the connection skipped client to server so far", HFILL } },
        { &hf_conn_skipped_s2c, { "Connection bytes skipped (server to client)",
            "safereasm.conn.skipped_s2c", FT_UINT64, BASE_DEC, NULL, 0x0, "Bytes missing from the capture the connection skipped server to client so far", HFILL } },
        { &hf_conn_dropped_c2s, { "Connection bytes dropped (client to server)",
            "safereasm.conn.dropped_c2s", FT_UINT64, BASE_DEC, NULL, 0x0,
            "Bytes neither delivered nor skipped so far: out of window, before the start, "
            "beyond the FIN, out of memory", HFILL } },
        { &hf_conn_dropped_s2c, { "Connection bytes dropped (server to client)",
            "safereasm.conn.dropped_s2c", FT_UINT64, BASE_DEC, NULL, 0x0,
            "Bytes neither delivered nor skipped so far: out of window, before the start, "
            "beyond the FIN, out of memory", HFILL } },
        { &hf_conn_dropped_segs_c2s, { "Connection segments with dropped bytes (client to server)",
            "safereasm.conn.dropped_segments_c2s", FT_UINT64, BASE_DEC, NULL, 0x0, "Client to server segments that dropped bytes so far", HFILL } },
        { &hf_conn_dropped_segs_s2c, { "Connection segments with dropped bytes (server to client)",
            "safereasm.conn.dropped_segments_s2c", FT_UINT64, BASE_DEC, NULL, 0x0, "Server to client segments that dropped bytes so far", HFILL } },
        { &hf_conn_close_reason, { "Connection close reason", "safereasm.conn.close_reason",
            FT_UINT8, BASE_DEC, VALS(close_reason_vals), 0x0,
            "Present when this segment completed its connection", HFILL } },
        { &hf_segs_ignored, { "Top-level TCP layers ignored", "safereasm.segments_ignored",
            FT_UINT8, BASE_DEC, NULL, 0x0,
            "TCP layers of this frame not fed to the core (header cut short, or more than 4)", HFILL } },
        { &hf_limit_connection, { "Per-connection limit hit", "safereasm.limit.connection",
            FT_BOOLEAN, BASE_NONE, NULL, 0x0,
            "A segment of this frame hit the per-connection page limit (present only then)", HFILL } },
        { &hf_limit_total, { "Total limit hit", "safereasm.limit.total",
            FT_BOOLEAN, BASE_NONE, NULL, 0x0,
            "A segment of this frame hit the total page limit (present only then)", HFILL } },
        { &hf_limit_table, { "Connection table limit hit", "safereasm.limit.table",
            FT_BOOLEAN, BASE_NONE, NULL, 0x0,
            "A connection was evicted, or refused, because the table was full (present only then)", HFILL } },
        { &hf_delivered, { "Bytes delivered at this frame", "safereasm.delivered", FT_UINT64,
            BASE_DEC, NULL, 0x0, "Sum of the chunk lengths below (any connection)", HFILL } },
        { &hf_skipped, { "Bytes skipped at this frame", "safereasm.skipped", FT_UINT64,
            BASE_DEC, NULL, 0x0, "Bytes missing from the capture that the runs below skip "
            "(sum of their safereasm.chunk.skipped)", HFILL } },
        { &hf_tcp_stream, { "TCP stream index", "safereasm.tcp_stream", FT_UINT32, BASE_DEC,
            NULL, 0x0, "Wireshark's tcp.stream of this segment: for Follow TCP Stream and "
            "conversation filters", HFILL } },
        { &hf_released_in, { "Released in", "safereasm.released_in", FT_FRAMENUM, BASE_NONE,
            FRAMENUM_TYPE(FT_FRAMENUM_NONE), 0x0, "The frame where the bytes this segment "
            "left in a page were released, like tcp.reassembled_in (two passes and the GUI "
            "only)", HFILL } },
        { &hf_chunk_frames, { "Source segments", "safereasm.chunk.frames", FT_NONE, BASE_NONE,
            NULL, 0x0, "The frames whose segments supplied this run, with the bytes each "
            "supplied", HFILL } },
        { &hf_chunk_frame, { "Source segment", "safereasm.chunk.frame", FT_FRAMENUM, BASE_NONE,
            FRAMENUM_TYPE(FT_FRAMENUM_NONE), 0x0, "A frame whose segment supplied bytes of "
            "this run (the first copy of each byte)", HFILL } },
        { &hf_chunk_frame_count, { "Source segment count", "safereasm.chunk.frame_count",
            FT_UINT32, BASE_DEC, NULL, 0x0, "How many frames supplied this run", HFILL } },
        { &hf_chunk, { "Released stream data", "safereasm.chunk", FT_NONE, BASE_NONE, NULL, 0x0,
            "One contiguous run of in-order stream data the core released while this frame was processed (any connection)", HFILL } },
        { &hf_chunk_conn_id, { "Released for connection", "safereasm.chunk.conn_id", FT_UINT64, BASE_DEC,
            NULL, 0x0, "The connection this run belongs to (not necessarily this frame's)", HFILL } },
        { &hf_chunk_dir, { "Released direction", "safereasm.chunk.dir", FT_UINT8, BASE_DEC, VALS(dir_vals),
            0x0, "The direction this run belongs to", HFILL } },
        { &hf_chunk_offset, { "Stream offset", "safereasm.chunk.offset", FT_UINT64, BASE_DEC,
            NULL, 0x0, "Offset of the first byte in the direction's stream (64-bit, no wrap)", HFILL } },
        { &hf_chunk_len, { "Run length", "safereasm.chunk.len", FT_UINT64, BASE_DEC, NULL, 0x0, "Bytes in this run", HFILL } },
        { &hf_chunk_skipped, { "Skipped before", "safereasm.chunk.skipped", FT_UINT64, BASE_DEC,
            NULL, 0x0, "Bytes missing from the capture, skipped just before this run", HFILL } },
        { &hf_chunk_flags, { "Run flags", "safereasm.chunk.flags", FT_UINT8, BASE_HEX, NULL, 0x0,
            "The core's SR_CHUNK_* bits of this run", HFILL } },
        FLAG_BIT(hf_chunk_flag_start, "Start", "safereasm.chunk.flags.start", SR_CHUNK_START,
                 "First bytes of a direction whose start is known (its SYN, or the SYN-ACK acknowledging it)"),
        FLAG_BIT(hf_chunk_flag_end, "End", "safereasm.chunk.flags.end", SR_CHUNK_END,
                 "The direction's FIN has been reached"),
        FLAG_BIT(hf_chunk_flag_conflict, "Conflict", "safereasm.chunk.flags.conflict",
                 SR_CHUNK_CONFLICT, "Some of these bytes came again later with different content"),
        FLAG_BIT(hf_chunk_flag_buffered, "Buffered", "safereasm.chunk.flags.buffered",
                 SR_CHUNK_BUFFERED, "Released from buffered pages"),
        FLAG_BIT(hf_chunk_flag_flushed, "Flushed", "safereasm.chunk.flags.flushed",
                 SR_CHUNK_FLUSHED, "Released by a limit, timeout or flush"),
        { &hf_chunk_data, { "Run bytes", "safereasm.chunk.data", FT_BYTES, BASE_NONE, NULL, 0x0,
            "The bytes (also in the \"Reassembled stream\" tab)", HFILL } },
        { &hf_chunk_data_dropped, { "Bytes not available", "safereasm.chunk.data_dropped",
            FT_BOOLEAN, BASE_NONE, NULL, 0x0,
            "The bytes cannot be shown (more than 256 MiB released at one frame); length and offset are right", HFILL } },
        { &hf_closed, { "Connection closed", "safereasm.closed", FT_NONE, BASE_NONE, NULL, 0x0,
            "A connection the core completed while this frame was processed", HFILL } },
        { &hf_closed_conn_id, { "Closed connection", "safereasm.closed.conn_id", FT_UINT64, BASE_DEC,
            NULL, 0x0, "A connection the core completed while this frame was processed", HFILL } },
        { &hf_closed_reason, { "Close reason", "safereasm.closed.reason", FT_UINT8, BASE_DEC,
            VALS(close_reason_vals), 0x0, "Why it was completed", HFILL } },
        { &hf_closed_delivered_c2s, { "Bytes delivered (client to server)",
            "safereasm.closed.delivered_c2s", FT_UINT64, BASE_DEC, NULL, 0x0, "Its bytes delivered client to server", HFILL } },
        { &hf_closed_delivered_s2c, { "Bytes delivered (server to client)",
            "safereasm.closed.delivered_s2c", FT_UINT64, BASE_DEC, NULL, 0x0, "Its bytes delivered server to client", HFILL } },
        { &hf_closed_skipped_c2s, { "Bytes skipped (client to server)",
            "safereasm.closed.skipped_c2s", FT_UINT64, BASE_DEC, NULL, 0x0, "Its bytes skipped client to server", HFILL } },
        { &hf_closed_skipped_s2c, { "Bytes skipped (server to client)",
            "safereasm.closed.skipped_s2c", FT_UINT64, BASE_DEC, NULL, 0x0, "Its bytes skipped server to client", HFILL } },
        { &hf_closed_dropped_c2s, { "Bytes dropped (client to server)",
            "safereasm.closed.dropped_c2s", FT_UINT64, BASE_DEC, NULL, 0x0, "Its bytes dropped client to server", HFILL } },
        { &hf_closed_dropped_s2c, { "Bytes dropped (server to client)",
            "safereasm.closed.dropped_s2c", FT_UINT64, BASE_DEC, NULL, 0x0, "Its bytes dropped server to client", HFILL } },
        { &hf_closed_dropped_segs_c2s, { "Segments with dropped bytes (client to server)",
            "safereasm.closed.dropped_segments_c2s", FT_UINT64, BASE_DEC, NULL, 0x0, "Its client to server segments that dropped bytes", HFILL } },
        { &hf_closed_dropped_segs_s2c, { "Segments with dropped bytes (server to client)",
            "safereasm.closed.dropped_segments_s2c", FT_UINT64, BASE_DEC, NULL, 0x0, "Its server to client segments that dropped bytes", HFILL } },
        { &hf_end_flush, { "End-of-capture flush", "safereasm.end_flush", FT_NONE, BASE_NONE,
            NULL, 0x0, "Released when the capture ended (two-pass only), filed at the connection's last frame", HFILL } },
        { &hf_div, { "Overlap policy divergence", "safereasm.divergence", FT_NONE, BASE_NONE,
            NULL, 0x0, "This segment carries bytes that the overlap policies resolve "
            "differently: what the receiving application got depends on its TCP stack "
            "(detect_divergence; present only then, and known once the releasing frame "
            "has been seen: two passes and the GUI)", HFILL } },
        { &hf_div_release, { "Divergent release", "safereasm.divergent_release", FT_NONE,
            BASE_NONE, NULL, 0x0, "Bytes released at this frame that the overlap policies "
            "resolve differently (detect_divergence; present only then)", HFILL } },
        { &hf_div_released_in, { "Contested bytes released in", "safereasm.divergence.released_in",
            FT_FRAMENUM, BASE_NONE, FRAMENUM_TYPE(FT_FRAMENUM_NONE), 0x0,
            "The frame that released this segment's contested bytes, where the divergence "
            "is shown", HFILL } },
        { &hf_div_conn_id, { "Divergent connection", "safereasm.divergence.conn_id", FT_UINT64,
            BASE_DEC, NULL, 0x0, "Connection whose released bytes the policies resolve "
            "differently", HFILL } },
        { &hf_div_dir, { "Divergent direction", "safereasm.divergence.dir", FT_UINT8, BASE_DEC,
            VALS(dir_vals), 0x0, "Direction whose released bytes the policies resolve "
            "differently", HFILL } },
        { &hf_div_offset, { "Divergence offset", "safereasm.divergence.offset", FT_UINT64,
            BASE_DEC, NULL, 0x0, "Stream offset of the first byte the policies resolve "
            "differently", HFILL } },
        { &hf_div_len, { "Divergence length", "safereasm.divergence.len", FT_UINT64, BASE_DEC,
            NULL, 0x0, "Bytes from the first to the last byte the policies resolve "
            "differently in this release", HFILL } },
        { &hf_div_groups, { "Versions", "safereasm.divergence.groups", FT_UINT8, BASE_DEC,
            NULL, 0x0, "Number of different contents (groups of agreeing policies)", HFILL } },
        { &hf_div_group, { "Version", "safereasm.divergence.group", FT_NONE, BASE_NONE,
            NULL, 0x0, "One content and the policies that keep it; the first is the shown "
            "policy's", HFILL } },
        { &hf_div_policies, { "Policies", "safereasm.divergence.policies", FT_STRING,
            BASE_NONE, NULL, 0x0, "Overlap policies that keep this content", HFILL } },
        { &hf_div_bytes, { "Kept bytes", "safereasm.divergence.bytes", FT_BYTES, BASE_NONE,
            NULL, 0x0, "What these policies keep from the divergence offset (at most "
            "4096 bytes)", HFILL } },
        { &hf_div_segment, { "Contested segment", "safereasm.divergence.segment",
            FT_FRAMENUM, BASE_NONE, FRAMENUM_TYPE(FT_FRAMENUM_NONE), 0x0,
            "A segment that carried at least one of the bytes the policies resolve "
            "differently (at most 16 listed)", HFILL } },
        { &hf_global, { "Global statistics after this frame", "safereasm.global", FT_NONE,
            BASE_NONE, NULL, 0x0, "The core's counters right after this frame (safereasm.global.*), and what changed at it (safereasm.change.*)", HFILL } },
        { &hf_retained, { "Released bytes kept by the plugin", "safereasm.retained_bytes",
            FT_UINT64, BASE_DEC, NULL, 0x0, "Bytes released from the core's pages that the "
            "plugin copied into its per-frame records so far (all frames); at most the "
            "preference safereasm.max_retained_kib", HFILL } },
        { &hf_change, { "Changed at this frame", "safereasm.change", FT_NONE, BASE_NONE,
            NULL, 0x0, "The counters that changed at this frame, by how much", HFILL } },
    };
    static gint *ett[] = {
        &ett_sr, &ett_segment, &ett_status, &ett_chunk, &ett_chunk_flags,
        &ett_closed, &ett_end_flush, &ett_global, &ett_change, &ett_div, &ett_div_group, &ett_chunk_frames,
    };
    static ei_register_info ei[] = {
        { &ei_conflict, { "safereasm.expert.conflict", PI_SECURITY, PI_WARN,
            "Overlap with conflicting data (the overlap policy decides which copy is kept)", EXPFILL } },
        { &ei_limit_connection, { "safereasm.expert.limit_connection", PI_REASSEMBLE, PI_WARN,
            "Per-connection page limit hit: connection flushed", EXPFILL } },
        { &ei_limit_total, { "safereasm.expert.limit_total", PI_REASSEMBLE, PI_WARN,
            "Total page limit hit: connection flushed", EXPFILL } },
        { &ei_limit_table, { "safereasm.expert.limit_table", PI_REASSEMBLE, PI_WARN,
            "Connection table full", EXPFILL } },
        { &ei_skipped, { "safereasm.expert.skipped", PI_REASSEMBLE, PI_WARN,
            "Bytes missing from the capture, skipped", EXPFILL } },
        { &ei_error, { "safereasm.expert.error", PI_PROTOCOL, PI_ERROR,
            "Core error", EXPFILL } },
        { &ei_no_memory, { "safereasm.expert.no_memory", PI_REASSEMBLE, PI_WARN,
            "Out of memory: a core allocation failed", EXPFILL } },
        { &ei_evicted, { "safereasm.expert.evicted", PI_REASSEMBLE, PI_NOTE,
            "Connection evicted", EXPFILL } },
        { &ei_timeout, { "safereasm.expert.timeout", PI_REASSEMBLE, PI_NOTE,
            "Connection timed out", EXPFILL } },
        { &ei_dropped, { "safereasm.expert.dropped", PI_REASSEMBLE, PI_WARN,
            "Bytes dropped: neither delivered nor skipped", EXPFILL } },
        { &ei_isn_changed, { "safereasm.expert.isn_changed", PI_SEQUENCE, PI_NOTE,
            "Server ISN changed: a later SYN-ACK replaced an unacknowledged one", EXPFILL } },
        { &ei_divergence, { "safereasm.expert.divergence", PI_SECURITY, PI_WARN,
            "Stream content depends on the receiver's TCP stack", EXPFILL } },
        { &ei_retained_limit, { "safereasm.expert.retained_limit", PI_REASSEMBLE, PI_WARN,
            "Retained-bytes limit reached: released bytes not kept", EXPFILL } },
    };

    for (int r = 0; r < SR_CLOSE_REASON_COUNT_; r++) {
        close_reason_vals[r].value = (guint32)r;
        close_reason_vals[r].strptr = sr_close_reason_name((sr_close_reason)r);
    }

    proto_sr = proto_register_protocol("Safe TCP Reassembly", "SafeReasm", "safereasm");
    proto_register_field_array(proto_sr, hf, array_length(hf));
    register_counter_fields();
    proto_register_subtree_array(ett, array_length(ett));
    expert_register_field_array(expert_register_protocol(proto_sr), ei, array_length(ei));
    srp_prefs_register(proto_sr);

    sr_handle = create_dissector_handle(dissect_safereasm, proto_sr);
    register_postdissector(sr_handle);
    sr_tap = register_tap(SRP_TAP_NAME);

    register_init_routine(sr_init);
    register_cleanup_routine(sr_cleanup);
    register_postseq_cleanup_routine(sr_postseq);
}

void
srp_proto_handoff(void)
{
    /* Built-in dissectors are registered before plugins, so their field
     * ids are known here. */
    (void)srp_extract_init();
    /* Wanted from the start too: tshark 4.6 decides which fields to prime
     * before the init routines run (sr_init adjusts it per file after). */
    GArray *wanted = srp_extract_wanted_hfids();
    if (wanted != NULL)
        set_postdissector_wanted_hfids(sr_handle, wanted);
}
