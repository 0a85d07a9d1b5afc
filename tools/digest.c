/* digest.c - SHA-256 per direction, see digest.h.
 *
 * Copyright (c) 2026 The safereasm authors. SPDX-License-Identifier: BSD-3-Clause */
#include "digest.h"

#include <glib.h>

#ifdef SP_HAVE_LIBCRYPTO
#include <openssl/evp.h>
#include <pthread.h>

/* Fetched once: an explicit fetch saves the implicit one at every init.
 * pthread_once, not g_once: ThreadSanitizer sees through the former only. */
static EVP_MD *md_sha256;
static pthread_once_t md_once = PTHREAD_ONCE_INIT;

static void md_fetch(void)
{
    md_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static EVP_MD *sha256_md(void)
{
    pthread_once(&md_once, md_fetch);
    return md_sha256;
}

sp_digest *sp_digest_new(void)
{
    EVP_MD *md = sha256_md();
    EVP_MD_CTX *c = md ? EVP_MD_CTX_new() : NULL;
    if (c && EVP_DigestInit_ex(c, md, NULL) != 1) {
        EVP_MD_CTX_free(c);
        c = NULL;
    }
    return (sp_digest *)c;
}

void sp_digest_update(sp_digest *d, const void *data, size_t len)
{
    if (d && len)
        EVP_DigestUpdate((EVP_MD_CTX *)d, data, len);
}

void sp_digest_finish(sp_digest *d, char hex[65])
{
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    hex[0] = '\0';
    if (!d)
        return;
    static const char digits[] = "0123456789abcdef";
    if (EVP_DigestFinal_ex((EVP_MD_CTX *)d, out, &n) == 1 && n == 32) {
        for (unsigned i = 0; i < n; i++) {
            hex[2 * i] = digits[out[i] >> 4];
            hex[2 * i + 1] = digits[out[i] & 15];
        }
        hex[64] = '\0';
    }
    EVP_MD_CTX_free((EVP_MD_CTX *)d);
}

void sp_digest_free(sp_digest *d)
{
    EVP_MD_CTX_free((EVP_MD_CTX *)d);
}

const char *sp_digest_backend(void)
{
    return "libcrypto";
}

#else

sp_digest *sp_digest_new(void)
{
    return (sp_digest *)g_checksum_new(G_CHECKSUM_SHA256);
}

void sp_digest_update(sp_digest *d, const void *data, size_t len)
{
    if (d && len)
        g_checksum_update((GChecksum *)d, data, (gssize)len);
}

void sp_digest_finish(sp_digest *d, char hex[65])
{
    hex[0] = '\0';
    if (!d)
        return;
    g_strlcpy(hex, g_checksum_get_string((GChecksum *)d), 65);
    g_checksum_free((GChecksum *)d);
}

void sp_digest_free(sp_digest *d)
{
    if (d)
        g_checksum_free((GChecksum *)d);
}

const char *sp_digest_backend(void)
{
    return "glib";
}
#endif
