/* stats.c - flow helpers. (Statistics are read in pool.c and assembler.c,
 * generated from the public X-macro tables.) */
#include "sr-internal.h"

#include <string.h>

void sr_flow_set_ipv4(sr_flow *f, uint32_t src_be, uint16_t sport, uint32_t dst_be,
                      uint16_t dport)
{
    if (!f)
        return;
    memset(f, 0, sizeof *f);
    f->ip_version = 4;
    memcpy(f->src.addr, &src_be, 4);
    memcpy(f->dst.addr, &dst_be, 4);
    f->src.port = sport;
    f->dst.port = dport;
}

void sr_flow_set_ipv6(sr_flow *f, const uint8_t src[16], uint16_t sport, const uint8_t dst[16],
                      uint16_t dport)
{
    if (!f)
        return;
    memset(f, 0, sizeof *f);
    f->ip_version = 6;
    if (src)
        memcpy(f->src.addr, src, 16);
    if (dst)
        memcpy(f->dst.addr, dst, 16);
    f->src.port = sport;
    f->dst.port = dport;
}
