/* pki_internal.h - helpers shared by the pki*.c files; not part of the API. */
#ifndef COURSE_PKI_INTERNAL_H
#define COURSE_PKI_INTERNAL_H

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stddef.h>

#include "narrate.h"
#include "pki.h"

/* Record the reason of a failure for pki_last_error(). */
void pki_fail(const char *fmt, ...) COURSE_PRINTF(1, 2);
/* Write a memory BIO's contents to path atomically with mode. */
int pki_write_bio(const char *path, BIO *bio, unsigned mode);
/* Read a whole file of at most PKI_MAX_FILE bytes, NUL-terminated. */
char *pki_read_all(const char *path, size_t *len);

/* CRL reason code (RFC 5280 CRLReason) of a name, or -1. */
int pki_reason_code(const char *reason);

/* The digest to sign with: SHA-256, or none for Ed25519 (it hashes inside). */
const EVP_MD *pki_digest_for(EVP_PKEY *key);
/* An X509_NAME from the subject fields (C, ST, L, O, OU, CN). */
X509_NAME *pki_build_name(const pki_name *n);

#endif
