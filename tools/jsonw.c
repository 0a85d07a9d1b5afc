/* jsonw.c - the small JSON writer of safereasm-pcap (see jsonw.h).
 *
 * Copyright (c) 2026 The safereasm authors. SPDX-License-Identifier: BSD-3-Clause
 */
#include "jsonw.h"

#include <inttypes.h>
#include <string.h>

void sp_jsonw_append_string(GString *out, const char *s)
{
    g_string_append_c(out, '"');
    const char *p = s, *end = s + strlen(s);
    while (p < end) {
        gunichar c = g_utf8_get_char_validated(p, end - p);
        if (c == (gunichar)-1 || c == (gunichar)-2) {
            /* Not UTF-8: one byte becomes U+FFFD, so the text stays valid. */
            g_string_append(out, "\\ufffd");
            p++;
            continue;
        }
        const char *next = g_utf8_next_char(p);
        switch (c) {
        case '"': g_string_append(out, "\\\""); break;
        case '\\': g_string_append(out, "\\\\"); break;
        case '\n': g_string_append(out, "\\n"); break;
        case '\r': g_string_append(out, "\\r"); break;
        case '\t': g_string_append(out, "\\t"); break;
        default:
            if (c < 0x20 || c == 0x7f)
                g_string_append_printf(out, "\\u%04x", (unsigned)c);
            else
                g_string_append_len(out, p, next - p);
        }
        p = next;
    }
    g_string_append_c(out, '"');
}

void sp_jsonw_init(sp_jsonw *w, GString *s)
{
    memset(w, 0, sizeof *w);
    w->s = s;
    w->first[0] = true;
}

/* Before any value or key: the comma that separates it from the last. */
static void sep(sp_jsonw *w)
{
    if (w->after_key) {
        w->after_key = false;
        return;
    }
    if (!w->first[w->depth])
        g_string_append_c(w->s, ',');
    w->first[w->depth] = false;
}

static void open_level(sp_jsonw *w, char c)
{
    sep(w);
    g_string_append_c(w->s, c);
    g_assert(w->depth + 1 < SP_JSONW_DEPTH);
    w->first[++w->depth] = true;
}

void sp_jsonw_begin_object(sp_jsonw *w) { open_level(w, '{'); }
void sp_jsonw_begin_array(sp_jsonw *w) { open_level(w, '['); }

void sp_jsonw_end_object(sp_jsonw *w)
{
    g_assert(w->depth > 0 && !w->after_key);
    w->depth--;
    g_string_append_c(w->s, '}');
}

void sp_jsonw_end_array(sp_jsonw *w)
{
    g_assert(w->depth > 0 && !w->after_key);
    w->depth--;
    g_string_append_c(w->s, ']');
}

void sp_jsonw_key(sp_jsonw *w, const char *key)
{
    sep(w);
    sp_jsonw_append_string(w->s, key);
    g_string_append_c(w->s, ':');
    w->after_key = true;
}

void sp_jsonw_string(sp_jsonw *w, const char *v)
{
    sep(w);
    if (v)
        sp_jsonw_append_string(w->s, v);
    else
        g_string_append(w->s, "null");
}

void sp_jsonw_u64(sp_jsonw *w, uint64_t v)
{
    sep(w);
    g_string_append_printf(w->s, "%" PRIu64, v);
}

void sp_jsonw_bool(sp_jsonw *w, bool v)
{
    sep(w);
    g_string_append(w->s, v ? "true" : "false");
}

void sp_jsonw_null(sp_jsonw *w)
{
    sep(w);
    g_string_append(w->s, "null");
}

void sp_jsonw_usec(sp_jsonw *w, int64_t usec)
{
    sep(w);
    uint64_t u = usec < 0 ? (uint64_t)0 - (uint64_t)usec : (uint64_t)usec;
    g_string_append_printf(w->s, "%s%" PRIu64 ".%06" PRIu64, usec < 0 ? "-" : "", u / 1000000,
                           u % 1000000);
}
