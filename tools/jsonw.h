/* jsonw.h - a small JSON writer for safereasm-pcap --json: appends to a
 * GString, inserts the commas itself, escapes every string (RFC 8259:
 * quote, backslash and control characters; bytes that are not UTF-8 become
 * U+FFFD), so output is valid JSON whatever the input names contain.
 *
 * Copyright (c) 2026 The safereasm authors. SPDX-License-Identifier: BSD-3-Clause
 *
 * Not thread-safe per writer; writers share nothing.
 */
#ifndef SP_JSONW_H
#define SP_JSONW_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#define SP_JSONW_DEPTH 16

typedef struct sp_jsonw {
    GString *s;                    /* borrowed: the caller's buffer */
    int depth;
    bool first[SP_JSONW_DEPTH];    /* nothing written yet at this level */
    bool after_key;                /* a key was written: the value follows */
} sp_jsonw;

void sp_jsonw_init(sp_jsonw *w, GString *s);
void sp_jsonw_begin_object(sp_jsonw *w);
void sp_jsonw_end_object(sp_jsonw *w);
void sp_jsonw_begin_array(sp_jsonw *w);
void sp_jsonw_end_array(sp_jsonw *w);
void sp_jsonw_key(sp_jsonw *w, const char *key);
void sp_jsonw_string(sp_jsonw *w, const char *v);  /* NULL writes null */
void sp_jsonw_u64(sp_jsonw *w, uint64_t v);
void sp_jsonw_bool(sp_jsonw *w, bool v);
void sp_jsonw_null(sp_jsonw *w);
/* Microseconds as seconds with six decimals (exact, no float rounding). */
void sp_jsonw_usec(sp_jsonw *w, int64_t usec);

/* Escaped JSON string of s (with the quotes) appended to out. */
void sp_jsonw_append_string(GString *out, const char *s);

#endif
