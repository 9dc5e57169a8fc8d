/*
 * pki_out.c - writing certificates, chains, CSRs and CRLs as PEM, each file
 * written atomically (pki_write_file) so a reader never sees half of one.
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
