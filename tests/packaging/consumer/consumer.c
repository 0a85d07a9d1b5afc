/* consumer.c - a tiny program built against an INSTALLED libsafereasm (by
 * tests/packaging/install.sh, once with pkg-config and once with
 * find_package): prints the library's version, then reassembles a SYN and
 * two data segments that arrive out of order and prints the stream.
 *
 * Copyright (c) 2026 The safereasm authors. SPDX-License-Identifier: BSD-3-Clause
 */
#include <safereasm.h>

#include <stdio.h>
#include <string.h>

#if !defined(SR_VERSION_NUM) || SR_VERSION_NUM < 0x000100
#error "safereasm.h without SR_VERSION_NUM >= 0.1.0"
#endif

static char stream[64];
static size_t stream_len;

static void *new_stream(void *user_data, const sr_conn_info *info, void *packet_ctx)
{
    (void)info; (void)packet_ctx;
    return user_data;
}

static int on_data(void *user_data, void *s, const sr_conn_info *info,
                   const sr_chunk *chunk, void *packet_ctx)
{
    (void)user_data; (void)s; (void)info; (void)packet_ctx;
    if (chunk->dir == SR_DIR_CLIENT_TO_SERVER && chunk->len <= sizeof stream - 1 - stream_len) {
        memcpy(stream + stream_len, chunk->data, chunk->len);
        stream_len += chunk->len;
    }
    return 0;
}

static void on_complete(void *user_data, void *s, const sr_conn_info *info,
                        sr_close_reason reason, void *packet_ctx)
{
    (void)user_data; (void)s; (void)info; (void)packet_ctx;
    printf("closed: %s\n", sr_close_reason_name(reason));
}

int main(void)
{
    printf("sr_version: %s (header %s)\n", sr_version(), SR_VERSION_STRING);
    if (strcmp(sr_version(), SR_VERSION_STRING) != 0)
        return 2;

    static int token;
    sr_stream_factory f = {new_stream, on_data, on_complete, &token};
    sr_error err;
    sr_pool *pool = sr_pool_new(&f, 16, &err);
    sr_assembler *a = NULL;
    if (!pool || sr_assembler_new(pool, NULL, &a) != SR_OK) {
        fprintf(stderr, "setup: %s\n", sr_strerror(pool ? SR_ERR_INVALID_OPTIONS : err));
        return 1;
    }
    sr_flow flow;
    sr_flow_set_ipv4(&flow, 0x0100000a, 40000, 0x0200000a, 80); /* 10.0.0.1 -> 10.0.0.2 */
    const sr_segment segs[] = {
        {.seq = 1000, .flags = SR_TCP_SYN, .timestamp = 1},
        {.seq = 1006, .flags = SR_TCP_ACK, .payload = (const uint8_t *)"WORLD",
         .payload_len = 5, .timestamp = 2},   /* out of order: buffered */
        {.seq = 1001, .flags = SR_TCP_ACK, .payload = (const uint8_t *)"HELLO",
         .payload_len = 5, .timestamp = 3},   /* fills the hole */
    };
    for (size_t i = 0; i < sizeof segs / sizeof segs[0]; i++) {
        sr_result r;
        err = sr_assemble_ex(a, &flow, &segs[i], NULL, &r);
        printf("segment %zu: %s status 0x%x\n", i, sr_err_name(err), r.status);
        if (err != SR_OK)
            return 1;
    }
    sr_assembler_free(a);
    sr_pool_free(pool);
    printf("stream: %.*s\n", (int)stream_len, stream);
    return strcmp(stream, "HELLOWORLD") == 0 ? 0 : 1;
}
