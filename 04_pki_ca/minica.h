/* SPDX-License-Identifier: MIT */
/* minica.h - what the parts of the minica tool share (see minica.c). */
#ifndef MINICA_H
#define MINICA_H

#include <time.h>

#include "pki/pki.h"

#define MINICA_MAX_SANS 32

typedef struct mc_opts {
    const char *dir, *pass_file, *out, *csr, *key, *type, *profile, *reason, *crl_url;
    const char *ca, *untrusted, *host, *ip, *purpose, *crl, *new_pass_file, *name;
    const char *sans[MINICA_MAX_SANS];
    int n_sans;
    pki_name subj;
    int days;           /* 0 = the profile's default */
    time_t not_before;  /* lab options, 0 = unset */
    time_t not_after;
    int encrypt;        /* `key --encrypt` */
    char **args;        /* positional arguments after the subcommand */
    int n_args;
} mc_opts;

/* subcommands: each returns the exit status */
int mc_init(mc_opts *o);
int mc_intermediate(mc_opts *o);
int mc_key(mc_opts *o);
int mc_csr(mc_opts *o);
int mc_sign(mc_opts *o);
int mc_issue(mc_opts *o);
int mc_inspect(mc_opts *o);
int mc_verify(mc_opts *o);
int mc_revoke(mc_opts *o);
int mc_crl(mc_opts *o);

/* The CA passphrase: --pass-file F (first line), else $MINICA_PASSPHRASE,
 * else a prompt when stdin is a terminal (twice when `confirm`).
 * Returns a malloc'ed string (free with mc_free_pass) or NULL after an error. */
char *mc_passphrase(const char *pass_file, int confirm);
void mc_free_pass(char *pass);

/* A CA folder opened for signing: its certificate, key and chain. */
typedef struct mc_ca {
    X509 *cert;
    EVP_PKEY *key;
    STACK_OF(X509) *chain; /* DIR/chain.crt, may be empty */
} mc_ca;
int mc_ca_open(const char *dir, const char *pass_file, mc_ca *ca);
void mc_ca_close(mc_ca *ca);

/* The plural ending of a count: "1 day", "2 days", "1 certificate". */
static inline const char *mc_s(long n)
{
    return n == 1 || n == -1 ? "" : "s";
}

/* "DIR/NAME" into out (exits 2 when too long). */
void mc_path(char *out, size_t n, const char *dir, const char *name);
/* "wrote FILE (WHAT, expires DATE: in N days)" for a certificate. */
void mc_report_cert(const char *path, X509 *cert, const char *what);
/* Print pki_last_error() as an error about `what`. Returns EXIT_FAILED. */
int mc_fail(const char *what);

#endif
