/* SPDX-License-Identifier: MIT */
/*
 * pki_out.c - what leaves the module: certificates, chains, CSRs and CRLs as
 * PEM, each file written atomically (pki_write_file) so a reader never sees
 * half of one; and a certificate's names as one line of text.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>

#include "pki/pki.h"
#include "pki/pki_internal.h"

typedef int (*pem_writer)(BIO *, const void *);

static int write_one(const char *path, const void *obj, pem_writer wr)
{
    BIO *bio = BIO_new(BIO_s_mem());
    int rc = -1;
    if (bio && wr(bio, obj))
        rc = pki_write_bio(path, bio, 0644);
    else
        pki_fail("%s: cannot encode PEM", path);
    BIO_free(bio);
    return rc;
}

int pki_cert_write(const char *path, X509 *cert)
{
    return write_one(path, cert, (pem_writer)PEM_write_bio_X509);
}

int pki_csr_write(const char *path, X509_REQ *csr)
{
    return write_one(path, csr, (pem_writer)PEM_write_bio_X509_REQ);
}

int pki_crl_write(const char *path, X509_CRL *crl)
{
    return write_one(path, crl, (pem_writer)PEM_write_bio_X509_CRL);
}

int pki_certs_write(const char *path, X509 *const *certs, size_t n)
{
    BIO *bio = BIO_new(BIO_s_mem());
    int rc = -1;
    for (size_t i = 0; bio && i < n; i++)
        if (!PEM_write_bio_X509(bio, certs[i])) {
            pki_fail("%s: cannot encode PEM", path);
            goto end;
        }
    if (bio)
        rc = pki_write_bio(path, bio, 0644);
end:
    BIO_free(bio);
    return rc;
}

void pki_name_text(const X509_NAME *name, char *out, size_t out_len)
{
    BIO *bio = NULL;
    char *data = NULL;
    long len = 0;
    /* RFC 2253 escaping (control characters as \XX, the separators behind a
     * backslash: a CN cannot pose as two fields or start a new log line), but
     * in the certificate's own order (most significant first, as OpenSSL's
     * own `-subject` shows it), ", " between fields, and UTF-8 kept readable */
    unsigned long flags = XN_FLAG_SEP_CPLUS_SPC | XN_FLAG_FN_SN | ASN1_STRFLGS_RFC2253;
    flags &= ~(unsigned long)ASN1_STRFLGS_ESC_MSB;

    if (out_len == 0)
        return;
    snprintf(out, out_len, "(empty)");
    if (!name || X509_NAME_entry_count(name) == 0 || !(bio = BIO_new(BIO_s_mem())))
        goto end;
    if (X509_NAME_print_ex(bio, name, 0, flags) < 0 || (len = BIO_get_mem_data(bio, &data)) <= 0)
        goto end;
    if ((size_t)len < out_len) {
        memcpy(out, data, (size_t)len);
        out[len] = '\0';
    } else if (out_len > 4) {
        /* too long for the caller: cut it, say so, and never in the middle
         * of a UTF-8 character */
        size_t keep = out_len - 4;
        while (keep > 0 && ((unsigned char)data[keep] & 0xc0) == 0x80)
            keep--;
        memcpy(out, data, keep);
        memcpy(out + keep, "...", 4);
    }
end:
    BIO_free(bio);
}

void pki_time_text(const ASN1_TIME *t, char *out, size_t out_len)
{
    struct tm tm;
    if (out_len == 0)
        return;
    if (!t || ASN1_TIME_to_tm(t, &tm) != 1 ||
        strftime(out, out_len, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
        snprintf(out, out_len, "?");
}

char *pki_cert_to_pem(X509 *cert, size_t *len)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data = NULL, *out = NULL;
    long n = 0;
    if (bio && PEM_write_bio_X509(bio, cert) && (n = BIO_get_mem_data(bio, &data)) > 0 &&
        (out = malloc((size_t)n + 1)) != NULL) {
        memcpy(out, data, (size_t)n);
        out[n] = '\0';
        if (len)
            *len = (size_t)n;
    } else {
        pki_fail("cannot encode the certificate as PEM");
    }
    BIO_free(bio);
    return out;
}
