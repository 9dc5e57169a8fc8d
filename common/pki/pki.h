/* SPDX-License-Identifier: MIT */
/*
 * pki.h - a small certificate authority: keys, CSRs, signing with a policy,
 * verification with plain-word reasons, revocation lists.
 *
 * Chapter 04 introduces it: `minica` and 04-server's enrolment are built on
 * it, and `make pki` uses minica to make the course PKI under build/pki/
 * that chapter 05 serves (05 reads those files with common/tls/, not with
 * this module).
 *
 * Files: pki.c (keys, files, serials, fingerprints), pki_csr.c (subject
 * names, CSRs, the subject checks, the challengePassword), pki_san.c (SANs),
 * pki_sign.c (the root, the signing policy, device certificates), pki_pem.c
 * (reading PEM), pki_out.c (writing PEM, names as text), pki_verify.c
 * (verification), pki_index.c (the CA's index, its lock, revocation),
 * pki_crl.c (CRLs from the index or from a caller's list), pki_internal.h
 * (what they share);
 * signedkex.h/.c (the signed key exchange of chapter 04, on this module).
 *
 * Every function that can fail returns NULL or -1 and records one readable
 * sentence, kept per thread, in pki_last_error(); OpenSSL's own error queue is
 * left for the caller's errorf() to print. Nothing here prints.
 *
 *     EVP_PKEY *key = pki_key_generate("ec");
 *     pki_name subj = {.cn = "localhost", .o = "Course"};
 *     const char *sans[] = {"DNS:localhost", "IP:127.0.0.1", "IP:::1"};
 *     X509_REQ *csr = pki_csr_create(key, &subj, sans, 3);
 *     pki_sign_opts so = pki_sign_defaults(PKI_PROFILE_SERVER);
 *     X509 *cert = pki_sign_csr(csr, ca_cert, ca_key, &so, NULL);
 *
 * Only OpenSSL 3 non-deprecated calls (EVP_PKEY_Q_keygen, X509_*, PEM_*).
 */
#ifndef COURSE_PKI_H
#define COURSE_PKI_H

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stddef.h>
#include <time.h>

/* The reason of the last failure in this thread ("" if none). */
const char *pki_last_error(void);

/* ---- files ---- */

/* Largest PEM file the loaders read (certificates, CSRs, keys, CRLs). */
#define PKI_MAX_FILE (1024 * 1024)

/* Write data to path atomically: a temporary file in the same folder created
 * with `mode` (0600 for keys), fsync, rename. Readers see the old file or the
 * new one, never half of it, and a key is never readable by others. */
int pki_write_file(const char *path, const void *data, size_t len, unsigned mode);

/* ---- keys ---- */

/* spec: "ec" or "p256" (default when NULL), "rsa2048", "rsa3072", "rsa4096",
 * "ed25519". */
EVP_PKEY *pki_key_generate(const char *spec);
/* PKCS#8 PEM, mode 0600. With a passphrase (non-empty) the key is encrypted:
 * PBES2, AES-256-CBC, key from the passphrase with PBKDF2-HMAC-SHA256. */
int pki_key_write(const char *path, EVP_PKEY *key, const char *passphrase);
/* Reads a PEM private key. An encrypted key needs the passphrase; a wrong or
 * missing one fails ("the key is encrypted: wrong or missing passphrase"). */
EVP_PKEY *pki_key_read(const char *path, const char *passphrase);
/* 1 if the PEM file at path holds an encrypted private key. */
int pki_key_file_is_encrypted(const char *path);
/* "EC P-256", "RSA 3072", "Ed25519" into out. */
void pki_key_describe(const EVP_PKEY *key, char *out, size_t out_len);

/* ---- names ---- */

/* Subject fields; NULL or "" leaves a field out. */
typedef struct pki_name {
    const char *c, *st, *l, *o, *ou, *cn;
} pki_name;

/* One subject alternative name, "KIND:VALUE" with KIND DNS, IP, email or URI,
 * or a bare value whose kind is guessed (an IPv4/IPv6 address is IP, a@b is
 * email, scheme://... is URI, anything else DNS). Returns a GENERAL_NAME
 * (IP addresses as real iPAddress entries, 4 or 16 bytes), or NULL. */
GENERAL_NAME *pki_san_parse(const char *text);
/* "DNS:localhost, IP:127.0.0.1, IP:::1" (all SANs of a certificate or CSR). */
int pki_sans_describe(const GENERAL_NAMES *sans, char *out, size_t out_len);
/* The SANs of a certificate or CSR (NULL and no error if it has none). */
GENERAL_NAMES *pki_cert_sans(X509 *cert);
GENERAL_NAMES *pki_csr_sans(X509_REQ *csr);

/* ---- CSRs, certificates ---- */

typedef enum pki_profile {
    PKI_PROFILE_ROOT,         /* CA:TRUE, keyCertSign + cRLSign */
    PKI_PROFILE_INTERMEDIATE, /* CA:TRUE pathlen 0, keyCertSign + cRLSign */
    PKI_PROFILE_SERVER,       /* CA:FALSE, digitalSignature, serverAuth */
    PKI_PROFILE_CLIENT,       /* CA:FALSE, digitalSignature, clientAuth */
} pki_profile;

/* "server" / "client" / "intermediate" / "root" -> profile; -1 if unknown. */
int pki_profile_parse(const char *name);
const char *pki_profile_name(pki_profile p);

typedef struct pki_sign_opts {
    pki_profile profile;
    int days;           /* validity from now (default 825 leaf, 3650 root) */
    time_t not_before;  /* lab option: explicit window; 0 = now */
    time_t not_after;   /* lab option: explicit end; 0 = not_before + days */
    const char *crl_url; /* CRL distribution point, or NULL */
    /* intermediate only: 0, or PKI_PROFILE_CLIENT / PKI_PROFILE_SERVER to give
     * the CA that one extended key usage (clientAuth / serverAuth). OpenSSL
     * checks the purpose along the whole chain, so nothing under a clientAuth
     * CA passes as a TLS server, whatever the leaf says. */
    int ca_purpose;
} pki_sign_opts;

pki_sign_opts pki_sign_defaults(pki_profile profile);

/* A CSR for key with the subject and SANs ("KIND:VALUE" each), signed by key. */
X509_REQ *pki_csr_create(EVP_PKEY *key, const pki_name *subject, const char *const *sans,
                         size_t n_sans);
/* 0 if the CSR's self-signature is valid (proof that its maker holds the key). */
int pki_csr_verify(X509_REQ *csr);

/* A self-signed root CA certificate for key. */
X509 *pki_root_create(EVP_PKEY *key, const pki_name *subject, const pki_sign_opts *opts);

/* What the policy did with a CSR's requested extensions: each extension it
 * ignored, by name ("basicConstraints"), so the caller can say so. */
typedef struct pki_sign_report {
    char ignored[512];  /* "basicConstraints, keyUsage" or "" */
    int capped;         /* 1 if the validity was cut to the issuer's notAfter */
} pki_sign_report;

/* What the policy signs at most: names are the requester's bytes, and every
 * program that shows them (logs, inspect, a web page) must not be made to
 * show 5,000 characters, 2,000 CNs or a 175 KB list of names. */
#define PKI_MAX_NAME_CHARS 64  /* per subject field: RFC 5280's ub-common-name */
#define PKI_MAX_NAME_FIELDS 16 /* fields in a subject */
#define PKI_MAX_SANS 100       /* subject alternative names in one certificate */

/* Sign a CSR with the policy: verify its self-signature first; take subject
 * and SANs from it and nothing else; BasicConstraints, KU and EKU come from the
 * profile; AKI/SKI; a random 128-bit positive serial; validity capped by the
 * issuer's. The subject must hold exactly one CN and at most
 * PKI_MAX_NAME_FIELDS fields of at most PKI_MAX_NAME_CHARS characters each,
 * with no control characters and no '<' or '>'; at most PKI_MAX_SANS names,
 * each well formed. A server certificate needs at least one SAN. Each refusal
 * has its own reason in pki_last_error(). report may be NULL. */
X509 *pki_sign_csr(X509_REQ *csr, X509 *issuer, EVP_PKEY *issuer_key, const pki_sign_opts *opts,
                   pki_sign_report *report);

/* ---- devices (chapter 06: enrolment shaped like EST, RFC 7030) ---- */

/* RFC 2985's upper bound for a challengePassword (ub-challengePassword). */
#define PKI_MAX_CHALLENGE 255
/* The longest device certificate pki_issue_device signs (06 uses 30). */
#define PKI_MAX_DEVICE_DAYS 397

/* The request's challengePassword (PKCS#9, NID_pkcs9_challengePassword) as
 * text into out: 0, or -1 (and a reason) if it is absent, present twice, not
 * a PrintableString or UTF8String, holds a NUL or invalid UTF-8, or does not
 * fit out. EST (RFC 7030 section 3.5) puts the TLS channel binding there, so
 * a request made for one connection is refused on another. */
int pki_csr_challenge_get(X509_REQ *csr, char *out, size_t out_len);
/* Set it (a UTF8String, replacing any there), before signing the request:
 * the self-signature then covers it. 1 to PKI_MAX_CHALLENGE bytes of UTF-8. */
int pki_csr_challenge_set(X509_REQ *csr, const char *value);

/* A device certificate (EST, RFC 7030): verify the request's self-signature
 * (proof of possession); the key must be Ed25519 or EC P-256 (anything else,
 * RSA-1024 included, is refused with a reason naming what it is); the
 * request's subject and extensions are ignored: subject CN=cn only, the
 * client profile (CA:FALSE, digitalSignature, EKU clientAuth only, SKI/AKI),
 * valid `days` (1..PKI_MAX_DEVICE_DAYS) from now, capped by the issuer, and a
 * random positive 128-bit serial, which is the device id: written to
 * serial_hex as lower-case hex (33 bytes are enough). NULL and
 * pki_last_error() on refusal. */
X509 *pki_issue_device(X509_REQ *csr, X509 *ca, EVP_PKEY *ca_key, const char *cn, int days,
                       char *serial_hex, size_t serial_len);

/* ---- loading and saving PEM ---- */

X509 *pki_cert_read(const char *path);
/* Every certificate in a PEM file (a chain or a bundle), at least one. */
STACK_OF(X509) *pki_certs_read(const char *path);
X509_REQ *pki_csr_read(const char *path);
X509_CRL *pki_crl_read(const char *path);
/* The same from memory (a CSR that arrived over the network). */
X509_REQ *pki_csr_from_pem(const char *pem, size_t len);
/* PEM text of a certificate (malloc'ed, NUL-terminated), or NULL. */
char *pki_cert_to_pem(X509 *cert, size_t *len);
/* PEM files, mode 0644, written atomically. */
int pki_cert_write(const char *path, X509 *cert);
int pki_certs_write(const char *path, X509 *const *certs, size_t n);
int pki_csr_write(const char *path, X509_REQ *csr);
int pki_crl_write(const char *path, X509_CRL *crl);

/* A subject or issuer name as one line: "O=HTTPS from the ground up,
 * CN=localhost" (the certificate's order, most significant first; RFC 2253
 * escapes for control characters and separators; UTF-8 kept). "(empty)" for
 * a name without fields or NULL; cut with "..." if out is too small. The one
 * formatter for names: minica uses it, and so should every chapter. */
void pki_name_text(const X509_NAME *name, char *out, size_t out_len);
/* "2026-12-22 19:33:43 UTC", or "?" for a time that cannot be read. The one
 * formatter for certificate and CRL times. */
void pki_time_text(const ASN1_TIME *t, char *out, size_t out_len);
/* "3a:..." serial in hex (lower case, no colons) into out. */
int pki_serial_hex(const ASN1_INTEGER *serial, char *out, size_t out_len);
/* SHA-256 fingerprint "AB:CD:..." of a certificate's DER. */
int pki_fingerprint(X509 *cert, char *out, size_t out_len);
/* Days from now until t, to the nearest day (negative when t is past). */
long pki_days_until(const ASN1_TIME *t);

/* ---- verification ---- */

typedef enum pki_verdict {
    PKI_VERIFY_OK = 0,
    PKI_VERIFY_EXPIRED,
    PKI_VERIFY_NOT_YET_VALID,
    PKI_VERIFY_UNKNOWN_ISSUER,
    PKI_VERIFY_NAME_MISMATCH,
    PKI_VERIFY_REVOKED,
    PKI_VERIFY_WRONG_PURPOSE,
    PKI_VERIFY_BAD_SIGNATURE,
    PKI_VERIFY_NO_CRL,
    PKI_VERIFY_OTHER,
} pki_verdict;

typedef struct pki_verify_opts {
    const char *host;    /* DNS name the certificate must carry, or NULL */
    const char *ip;      /* IP address (v4 or v6) it must carry, or NULL */
    int purpose;         /* 0 none, PKI_PROFILE_SERVER or PKI_PROFILE_CLIENT */
    STACK_OF(X509_CRL) *crls; /* check the leaf against these, or NULL */
    time_t at;           /* verify at this time; 0 = now */
} pki_verify_opts;

/* Verify cert against the trusted roots, with intermediates from untrusted.
 * Returns the verdict; detail gets OpenSSL's own words and the depth. */
pki_verdict pki_verify(X509 *cert, STACK_OF(X509) *trusted, STACK_OF(X509) *untrusted,
                       const pki_verify_opts *opts, char *detail, size_t detail_len);
/* "expired", "not yet valid", "unknown issuer", "name mismatch", "revoked",
 * "wrong purpose", "bad signature", "no CRL for the issuer", "failed". */
const char *pki_verdict_reason(pki_verdict v);

/* ---- the CA's folder: index of issued certificates, revocation, CRL ---- */

/* CA folder layout (minica --dir DIR):
 *   DIR/ca.key     the CA's private key, encrypted, 0600
 *   DIR/ca.crt     its certificate
 *   DIR/chain.crt  this CA's certificate and any above it except the root (what
 *                  goes after a leaf in a chain file); absent for a root
 *   DIR/index.txt  one line per issued certificate, OpenSSL `ca` format:
 *                  V|R <TAB> notAfter <TAB> revoked-at[,reason] <TAB> serial <TAB> unknown <TAB> subject
 *   DIR/crlnumber  the next CRL number (decimal)
 *   DIR/index.lock empty; flock()ed around every change of index.txt and
 *                  crlnumber, so minica and 04-server may share the folder
 */
int pki_index_add(const char *dir, X509 *cert);
/* Mark serial (hex) revoked with reason ("keyCompromise", ...). 0 done,
 * -1 error (unknown serial, already revoked, bad reason, or a serial the
 * index lists more than once: nothing is changed then). */
int pki_index_revoke(const char *dir, const char *serial_hex, const char *reason);
/* A CRL signed by the CA listing every revoked entry of the index, valid for
 * days, with the next CRL number and the issuer's AKI. */
X509_CRL *pki_crl_create(const char *dir, X509 *ca_cert, EVP_PKEY *ca_key, int days);
/* The same with a chosen window (lab option: a CRL that is already out of
 * date, or nearly so): thisUpdate and nextUpdate, at most 3650 days apart. */
X509_CRL *pki_crl_create_at(const char *dir, X509 *ca_cert, EVP_PKEY *ca_key, time_t this_update,
                            time_t next_update);
/* One revoked certificate of a list the caller keeps (06-server's devices
 * table): serial in hex (as pki_serial_hex writes it), when, and a reason
 * name (NULL or "unspecified": no reason extension, RFC 5280 5.3.1). */
typedef struct pki_revoked {
    const char *serial_hex;
    time_t revoked_at;
    const char *reason;
} pki_revoked;
/* The most entries pki_crl_from_list puts in one CRL. */
#define PKI_MAX_CRL_ENTRIES 100000
/* A CRL of exactly these n entries, signed by ca_key, numbered crl_number
 * (>= 1: the caller keeps the counter, and it only goes up), valid for days
 * (1..3650) from now, with the issuer's AKI. A serial that is not hex, a
 * serial listed twice or an unknown reason is refused. */
X509_CRL *pki_crl_from_list(X509 *ca, EVP_PKEY *ca_key, const pki_revoked *list, size_t n,
                            long crl_number, int days);
/* 1 if the reason name is a CRL reason we accept. */
int pki_crl_reason_valid(const char *reason);

#endif
