/* SPDX-License-Identifier: MIT */
/* pki_internal.h - helpers shared by the pki*.c files; not part of the API. */
#ifndef COURSE_PKI_INTERNAL_H
#define COURSE_PKI_INTERNAL_H

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stddef.h>

#include "core/narrate.h"
#include "pki/pki.h"

/* Record the reason of a failure for pki_last_error(). */
void pki_fail(const char *fmt, ...) COURSE_PRINTF(1, 2);
/* Write a memory BIO's contents to path atomically with mode. */
int pki_write_bio(const char *path, BIO *bio, unsigned mode);
/* Read a whole file of at most PKI_MAX_FILE bytes, NUL-terminated. */
char *pki_read_all(const char *path, size_t *len);

/* 0 if one subject alternative name (from a CSR: anybody's bytes) is of a
 * kind the CA signs and well formed: the same checks as pki_san_parse (a DNS
 * name may only have a leftmost "*." wildcard label). Else -1 and the reason. */
int pki_san_check(const GENERAL_NAME *gn);

/* 0 if a CSR's subject (anybody's bytes) is one the CA signs: 1 to
 * PKI_MAX_NAME_FIELDS fields, exactly one CN, each value 1 to
 * PKI_MAX_NAME_CHARS characters of readable text with no control character
 * and no '<' or '>'. Else -1 and the reason. */
int pki_subject_check(const X509_NAME *name);

/* Hold the CA folder's index lock (DIR/index.lock, flock, plus a mutex for
 * this process's threads) around a read-modify-write of index.txt or
 * crlnumber. Returns a descriptor for pki_index_unlock, or -1. */
int pki_index_lock(const char *dir);
/* 0 if index.txt's text can be read line by line: no NUL byte in it
 * (otherwise -1 and the reason in pki_last_error). */
int pki_index_text_ok(const char *text, size_t len, const char *path);
void pki_index_unlock(int fd);

/* CRL reason code (RFC 5280 CRLReason) of a name, or -1. */
int pki_reason_code(const char *reason);

/* The digest to sign with: SHA-256, or none for Ed25519 (it hashes inside). */
const EVP_MD *pki_digest_for(EVP_PKEY *key);
/* An X509_NAME from the subject fields (C, ST, L, O, OU, CN). */
X509_NAME *pki_build_name(const pki_name *n);

#endif
