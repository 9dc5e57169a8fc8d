/* SPDX-License-Identifier: MIT */
/*
 * minica_req.c - what the requester does, on its own machine: make a key,
 * make a certificate signing request (CSR) for it. The key never leaves; the
 * CSR (public key + names + a signature made with the key) goes to the CA.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cli.h"
#include "minica.h"

int mc_key(mc_opts *o)
{
    EVP_PKEY *key = NULL;
    char *pass = NULL, desc[64];
    int rc = EXIT_FAILED;

    if (!o->out)
        cli_usage_error("key needs --out FILE");
    if (o->n_args)
        cli_usage_error("unexpected argument '%s'", o->args[0]);
    if (o->pass_file && !o->encrypt)
        cli_usage_error("--pass-file goes with --encrypt");
    if (o->encrypt && !(pass = mc_passphrase(o->pass_file, 1)))
        goto end;
    if (!(key = pki_key_generate(o->type))) {
        rc = mc_fail("key");
        goto end;
    }
    if (pki_key_write(o->out, key, pass)) {
        rc = mc_fail("key");
        goto end;
    }
    pki_key_describe(key, desc, sizeof desc);
    result("wrote %s  (%s private key, PKCS#8%s, mode 0600)", o->out, desc,
           pass ? ", encrypted with the passphrase" : "");
    rc = EXIT_OK;
end:
    mc_free_pass(pass);
    EVP_PKEY_free(key);
    return rc;
}

int mc_csr(mc_opts *o)
{
    EVP_PKEY *key = NULL;
    X509_REQ *csr = NULL;
    GENERAL_NAMES *sans = NULL;
    char names[1024] = "", subj[512];
    int rc = EXIT_FAILED;

    if (!o->key || !o->out)
        cli_usage_error("csr needs --key FILE and --out FILE");
    if (!o->subj.cn && !o->n_sans)
        cli_usage_error("csr needs --cn NAME or --san NAMES (a certificate names something)");
    if (o->n_args)
        cli_usage_error("unexpected argument '%s' (names go in --san DNS:x,IP:y)", o->args[0]);
    /* a key encrypted with `key --encrypt` needs its passphrase from the same places */
    if (!(key = pki_key_read(o->key, getenv("MINICA_PASSPHRASE")))) {
        rc = mc_fail("key");
        goto end;
    }
    if (!(csr = pki_csr_create(key, &o->subj, o->sans, (size_t)o->n_sans))) {
        rc = mc_fail("CSR");
        goto end;
    }
    if (pki_csr_write(o->out, csr)) {
        rc = mc_fail("CSR");
        goto end;
    }
    pki_name_text(X509_REQ_get_subject_name(csr), subj, sizeof subj);
    sans = pki_csr_sans(csr);
    pki_sans_describe(sans, names, sizeof names);
    note("subject %s; names %s; signed with the key to prove possession", subj,
         names[0] ? names : "(none)");
    result("wrote %s  (certificate signing request: send it to the CA; the key stays here)",
           o->out);
    rc = EXIT_OK;
end:
    GENERAL_NAMES_free(sans);
    EVP_PKEY_free(key);
    X509_REQ_free(csr);
    return rc;
}
