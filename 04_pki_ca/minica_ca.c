/* SPDX-License-Identifier: MIT */
/*
 * minica_ca.c - the subcommands that make a CA and sign with it: init,
 * intermediate, sign (issue, revoke and crl: minica_issue.c).
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/cli.h"
#include "minica.h"

static const pki_name DEFAULT_ROOT = {.o = "HTTPS from the ground up", .cn = "Course Root CA"};
static const pki_name DEFAULT_INTER = {.o = "HTTPS from the ground up",
                                       .cn = "Course Intermediate CA"};

static pki_name subject_or(const pki_name *given, const pki_name *dflt)
{
    pki_name n = *given;
    if (!n.cn)
        n.cn = dflt->cn;
    if (!n.o)
        n.o = dflt->o;
    return n;
}

/* A fresh CA folder: refuse to overwrite an existing CA key. */
static int make_ca_dir(const char *dir)
{
    char path[4096];
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        errorf(dir, "cannot create the folder: %s", strerror(errno));
        return -1;
    }
    mc_path(path, sizeof path, dir, "ca.key");
    if (access(path, F_OK) == 0) {
        errorf(dir, "already holds a CA key (%s); refusing to overwrite it", path);
        hint("choose another --dir, or delete the folder if you really mean to start again");
        return -1;
    }
    return 0;
}

/* ca.key (encrypted), ca.crt, an empty index.txt and crlnumber. */
static int write_ca_files(const char *dir, EVP_PKEY *key, const char *pass, X509 *cert,
                          X509 *const *chain, size_t n_chain)
{
    char path[4096];
    mc_path(path, sizeof path, dir, "ca.key");
    if (pki_key_write(path, key, pass))
        return mc_fail("CA key");
    result("wrote %s  (CA private key, encrypted with the passphrase, mode 0600)", path);
    mc_path(path, sizeof path, dir, "ca.crt");
    if (pki_cert_write(path, cert))
        return mc_fail("CA certificate");
    mc_report_cert(path, cert, "CA certificate");
    if (n_chain) {
        mc_path(path, sizeof path, dir, "chain.crt");
        if (pki_certs_write(path, chain, n_chain))
            return mc_fail("CA chain");
        result("wrote %s  (this CA's certificate, to send with what it signs)", path);
    }
    mc_path(path, sizeof path, dir, "index.txt");
    if (pki_write_file(path, "", 0, 0644))
        return mc_fail("index");
    mc_path(path, sizeof path, dir, "crlnumber");
    if (pki_write_file(path, "1\n", 2, 0644))
        return mc_fail("crlnumber");
    return EXIT_OK;
}

int mc_init(mc_opts *o)
{
    pki_sign_opts so = pki_sign_defaults(PKI_PROFILE_ROOT);
    pki_name subj = subject_or(&o->subj, &DEFAULT_ROOT);
    EVP_PKEY *key = NULL;
    X509 *cert = NULL;
    char *pass = NULL;
    int rc = EXIT_FAILED;

    if (!o->dir)
        cli_usage_error("init needs --dir DIR (the folder for the new CA)");
    if (o->n_args)
        cli_usage_error("unexpected argument '%s'", o->args[0]);
    if (make_ca_dir(o->dir) || !(pass = mc_passphrase(o->pass_file, 1)))
        goto end;
    if (o->days)
        so.days = o->days;
    step("generating the CA key (%s)", o->type ? o->type : "EC P-256");
    if (!(key = pki_key_generate(o->type))) {
        rc = mc_fail("key");
        goto end;
    }
    step("self-signing the root: CA:TRUE (critical), keyCertSign + cRLSign, %d day%s", so.days,
         mc_s(so.days));
    if (!(cert = pki_root_create(key, &subj, &so))) {
        rc = mc_fail("root certificate");
        goto end;
    }
    rc = write_ca_files(o->dir, key, pass, cert, NULL, 0);
    if (rc == EXIT_OK)
        note("trust it by giving %s/ca.crt to clients (--ca, curl --cacert)", o->dir);
end:
    mc_free_pass(pass);
    EVP_PKEY_free(key);
    X509_free(cert);
    return rc;
}

/* Sign csr under the CA with the options' profile, narrate the policy,
 * record it in the index. Returns the certificate or NULL. */
static X509 *sign_recorded(const char *dir, mc_ca *ca, X509_REQ *csr, const pki_sign_opts *so)
{
    pki_sign_report rep;
    char names[1024] = "", subj[512];
    GENERAL_NAMES *sans = NULL;
    X509 *cert = NULL;

    step("checking the request's self-signature (proof its maker holds the key)");
    if (pki_csr_verify(csr)) {
        mc_fail("CSR refused");
        hint("the request was altered after it was signed, or made without its key; make a new one");
        return NULL;
    }
    pki_name_text(X509_REQ_get_subject_name(csr), subj, sizeof subj);
    sans = pki_csr_sans(csr);
    pki_sans_describe(sans, names, sizeof names);
    GENERAL_NAMES_free(sans);
    note("valid; subject %s; names %s", subj, names[0] ? names : "(none)");
    step("signing with profile '%s' (the profile, not the request, decides what it may do)",
         pki_profile_name(so->profile));
    if (!(cert = pki_sign_csr(csr, ca->cert, ca->key, so, &rep))) {
        mc_fail("sign");
        return NULL;
    }
    if (rep.ignored[0])
        warning("ignored what the request asked for: %s (the profile decides)", rep.ignored);
    if (rep.capped)
        note("validity cut to the CA's own expiry: nothing outlives its issuer");
    if (pki_index_add(dir, cert)) {
        mc_fail("index");
        X509_free(cert);
        return NULL;
    }
    return cert;
}

int mc_intermediate(mc_opts *o)
{
    pki_sign_opts so = pki_sign_defaults(PKI_PROFILE_INTERMEDIATE);
    pki_name subj = subject_or(&o->subj, &DEFAULT_INTER);
    mc_ca root = {0};
    EVP_PKEY *key = NULL;
    X509_REQ *csr = NULL;
    X509 *cert = NULL;
    char *pass = NULL;
    int rc = EXIT_FAILED;

    if (!o->out)
        cli_usage_error("intermediate needs --out DIR (the folder for the new CA)");
    if (o->days)
        so.days = o->days;
    if (o->purpose) {
        int p = pki_profile_parse(o->purpose);
        if (p != PKI_PROFILE_CLIENT && p != PKI_PROFILE_SERVER)
            cli_usage_error("--purpose: '%s' is not client or server", o->purpose);
        so.ca_purpose = p;
    }
    if (mc_ca_open(o->dir, o->pass_file, &root) || make_ca_dir(o->out))
        goto end;
    if (!(pass = mc_passphrase(o->new_pass_file ? o->new_pass_file : o->pass_file, 1)))
        goto end;
    step("generating the intermediate's key and its request");
    if (!(key = pki_key_generate(o->type)) || !(csr = pki_csr_create(key, &subj, NULL, 0))) {
        rc = mc_fail("intermediate");
        goto end;
    }
    if (!(cert = sign_recorded(o->dir, &root, csr, &so)))
        goto end;
    if (so.ca_purpose)
        note("CA:TRUE, pathlen 0, EKU %s only: it may sign %ss, never another CA, and "
             "nothing it signs passes for a %s", so.ca_purpose == PKI_PROFILE_CLIENT ? "clientAuth"
                                                                       : "serverAuth",
             pki_profile_name(so.ca_purpose),
             so.ca_purpose == PKI_PROFILE_CLIENT ? "TLS server" : "TLS client");
    else
        note("CA:TRUE, pathlen 0: it may sign servers and clients, never another CA");
    rc = write_ca_files(o->out, key, pass, cert, &cert, 1);
end:
    mc_free_pass(pass);
    mc_ca_close(&root);
    EVP_PKEY_free(key);
    X509_REQ_free(csr);
    X509_free(cert);
    return rc;
}

static int leaf_opts(const mc_opts *o, pki_sign_opts *so)
{
    int p = pki_profile_parse(o->profile ? o->profile : "");
    if (p != PKI_PROFILE_SERVER && p != PKI_PROFILE_CLIENT)
        cli_usage_error("--profile server|client is needed");
    *so = pki_sign_defaults((pki_profile)p);
    if (o->days)
        so->days = o->days;
    so->not_before = o->not_before;
    so->not_after = o->not_after;
    so->crl_url = o->crl_url;
    return 0;
}

int mc_sign(mc_opts *o)
{
    pki_sign_opts so;
    mc_ca ca = {0};
    X509_REQ *csr = NULL;
    X509 *cert = NULL;
    int rc = EXIT_FAILED;

    leaf_opts(o, &so);
    if (!o->csr || !o->out)
        cli_usage_error("sign needs --csr FILE and --out FILE");
    if (!(csr = pki_csr_read(o->csr))) {
        rc = mc_fail("CSR");
        goto end;
    }
    if (mc_ca_open(o->dir, o->pass_file, &ca) || !(cert = sign_recorded(o->dir, &ca, csr, &so)))
        goto end;
    if (pki_cert_write(o->out, cert)) {
        rc = mc_fail("certificate");
        goto end;
    }
    mc_report_cert(o->out, cert, so.profile == PKI_PROFILE_SERVER ? "server certificate"
                                                                  : "client certificate");
    rc = EXIT_OK;
end:
    mc_ca_close(&ca);
    X509_REQ_free(csr);
    X509_free(cert);
    return rc;
}
