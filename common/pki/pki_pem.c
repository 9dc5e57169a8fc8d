/* SPDX-License-Identifier: MIT */
/*
 * pki_pem.c - reading PEM files (writing them: pki_out.c).
 *
 * Loaders read the whole file under a size limit first, then parse from
 * memory: a learner pointing --ca at /dev/zero gets an error, not a hang.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "pki/pki.h"
#include "pki/pki_internal.h"

char *pki_read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t n = 0;

    if (!f) {
        pki_fail("%s: %s", path, strerror(errno));
        return NULL;
    }
    buf = malloc(PKI_MAX_FILE + 1);
    if (!buf) {
        pki_fail("out of memory");
        goto end;
    }
    n = fread(buf, 1, PKI_MAX_FILE + 1, f);
    if (ferror(f) || n > PKI_MAX_FILE) {
        pki_fail(ferror(f) ? "%s: read error" : "%s: larger than 1 MiB: not a PEM file", path);
        OPENSSL_cleanse(buf, n > PKI_MAX_FILE ? PKI_MAX_FILE : n);
        free(buf);
        buf = NULL;
        goto end;
    }
    buf[n] = '\0';
    *len = n;
end:
    fclose(f);
    return buf;
}

/* ---- PEM in ---- */

typedef void *(*pem_reader)(BIO *, void **, pem_password_cb *, void *);

static void *read_one(const char *path, const char *what, pem_reader rd)
{
    size_t len = 0;
    char *pem = pki_read_all(path, &len);
    BIO *bio = pem ? BIO_new_mem_buf(pem, (int)len) : NULL;
    void *obj = bio ? rd(bio, NULL, NULL, NULL) : NULL;
    if (pem && !obj)
        pki_fail("%s: no PEM %s in it", path, what);
    BIO_free(bio);
    free(pem);
    return obj;
}

X509 *pki_cert_read(const char *path)
{
    return read_one(path, "certificate", (pem_reader)PEM_read_bio_X509);
}

X509_REQ *pki_csr_read(const char *path)
{
    return read_one(path, "certificate request", (pem_reader)PEM_read_bio_X509_REQ);
}

X509_CRL *pki_crl_read(const char *path)
{
    return read_one(path, "CRL", (pem_reader)PEM_read_bio_X509_CRL);
}

X509_REQ *pki_csr_from_pem(const char *pem, size_t len)
{
    BIO *bio = NULL;
    X509_REQ *csr = NULL;
    if (len > PKI_MAX_FILE) {
        pki_fail("the CSR is larger than 1 MiB");
        return NULL;
    }
    bio = BIO_new_mem_buf(pem, (int)len);
    csr = bio ? PEM_read_bio_X509_REQ(bio, NULL, NULL, NULL) : NULL;
    if (!csr)
        pki_fail("not a PEM certificate request (-----BEGIN " PEM_STRING_X509_REQ "-----)");
    BIO_free(bio);
    return csr;
}

STACK_OF(X509) *pki_certs_read(const char *path)
{
    size_t len = 0;
    char *pem = pki_read_all(path, &len);
    BIO *bio = pem ? BIO_new_mem_buf(pem, (int)len) : NULL;
    STACK_OF(X509) *certs = bio ? sk_X509_new_null() : NULL;
    X509 *x = NULL;

    while (certs && (x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
        if (!sk_X509_push(certs, x)) {
            X509_free(x);
            break;
        }
    }
    ERR_clear_error(); /* the loop ends on "no start line": that is not an error */
    if (certs && sk_X509_num(certs) == 0) {
        pki_fail("%s: no PEM certificate in it", path);
        sk_X509_free(certs);
        certs = NULL;
    }
    BIO_free(bio);
    free(pem);
    return certs;
}
