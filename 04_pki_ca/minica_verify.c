/* SPDX-License-Identifier: MIT */
/*
 * minica_verify.c - the decision a client makes before it trusts a
 * certificate, with the reason in plain words when it says no.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>

#include "core/cli.h"
#include "minica.h"

static const char *hint_for(pki_verdict v)
{
    switch (v) {
    case PKI_VERIFY_EXPIRED:
        return "the certificate's validity has ended: issue a new one (minica issue ...)";
    case PKI_VERIFY_NOT_YET_VALID:
        return "the certificate starts in the future: check the clocks, or wait";
    case PKI_VERIFY_UNKNOWN_ISSUER:
        return "no chain to a CA in --ca: pass the root, and the intermediate with --untrusted";
    case PKI_VERIFY_NAME_MISMATCH:
        return "the certificate does not name that host or address: see its names with "
               "minica inspect";
    case PKI_VERIFY_REVOKED:
        return "the CA revoked it (see the CRL with minica inspect): issue a new one";
    case PKI_VERIFY_WRONG_PURPOSE:
        return "its extended key usage does not allow that use (a client certificate "
               "cannot serve TLS)";
    case PKI_VERIFY_NO_CRL:
        return "--crl must hold the CRL of the CA that issued the certificate";
    default:
        return "see minica inspect on each file";
    }
}

/* Every CRL in a PEM file (a CA may publish several). */
static STACK_OF(X509_CRL) *read_crls(const char *path)
{
    STACK_OF(X509_CRL) *crls = sk_X509_CRL_new_null();
    X509_CRL *one = pki_crl_read(path);
    if (!crls || !one) {
        sk_X509_CRL_free(crls);
        X509_CRL_free(one);
        return NULL;
    }
    sk_X509_CRL_push(crls, one);
    return crls;
}

int mc_verify(mc_opts *o)
{
    STACK_OF(X509) *trusted = NULL, *untrusted = NULL;
    STACK_OF(X509_CRL) *crls = NULL;
    X509 *cert = NULL;
    pki_verify_opts vo = {0};
    pki_verdict v;
    char detail[512], what[600];
    int rc = EXIT_FAILED;

    if (!o->ca || o->n_args != 1)
        cli_usage_error("verify needs --ca FILE and one CERT");
    if (o->host && o->ip)
        cli_usage_error("--host and --ip exclude each other");
    if (o->purpose) {
        vo.purpose = pki_profile_parse(o->purpose);
        if (vo.purpose != PKI_PROFILE_SERVER && vo.purpose != PKI_PROFILE_CLIENT)
            cli_usage_error("--purpose: server or client");
    }
    vo.host = o->host;
    vo.ip = o->ip;
    if (!(trusted = pki_certs_read(o->ca)) ||
        (o->untrusted && !(untrusted = pki_certs_read(o->untrusted))) ||
        (o->crl && !(crls = read_crls(o->crl))) || !(cert = pki_cert_read(o->args[0]))) {
        rc = mc_fail("verify");
        goto end;
    }
    /* a chain file holds the leaf first: the rest can serve as intermediates */
    if (!untrusted)
        untrusted = pki_certs_read(o->args[0]);
    vo.crls = crls;
    v = pki_verify(cert, trusted, untrusted, &vo, detail, sizeof detail);
    if (v != PKI_VERIFY_OK) {
        snprintf(what, sizeof what, "verify %s", o->args[0]);
        errorf(what, "%s (%s)", pki_verdict_reason(v), detail);
        hint("%s", hint_for(v));
        goto end;
    }
    result("OK: %s is valid%s%s%s%s%s (%s)", o->args[0], o->host ? " for " : "",
           o->host ? o->host : "", o->ip ? " for " : "", o->ip ? o->ip : "",
           vo.purpose ? (vo.purpose == PKI_PROFILE_SERVER ? " as a TLS server" : " as a TLS client")
                      : "",
           detail);
    if (crls)
        note("not revoked according to %s", o->crl);
    rc = EXIT_OK;
end:
    sk_X509_pop_free(trusted, X509_free);
    sk_X509_pop_free(untrusted, X509_free);
    sk_X509_CRL_pop_free(crls, X509_CRL_free);
    X509_free(cert);
    return rc;
}
