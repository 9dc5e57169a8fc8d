/* SPDX-License-Identifier: MIT */
/*
 * minica_issue.c - issue (key + CSR + sign in one step, like mkcert),
 * revoke and crl.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/cli.h"
#include "minica.h"

/* BASE.key, BASE.crt and BASE-chain.crt, each reported. */
static int write_issued(const char *base, EVP_PKEY *key, X509 *cert, const mc_ca *ca,
                        const char *what)
{
    char path[4096];
    X509 *chain[8];
    size_t n = 0;

    if (snprintf(path, sizeof path, "%s-chain.crt", base) >= (int)sizeof path ||
        snprintf(path, sizeof path, "%s.key", base) >= (int)sizeof path)
        cli_usage_error("--name is too long");
    if (pki_key_write(path, key, NULL))
        return mc_fail("key");
    result("wrote %s  (private key, mode 0600: keep it on the machine that uses it)", path);
    if (snprintf(path, sizeof path, "%s.crt", base) >= (int)sizeof path)
        return EXIT_FAILED;
    if (pki_cert_write(path, cert))
        return mc_fail("certificate");
    mc_report_cert(path, cert, what);
    /* the leaf first, then each CA certificate up to (not including) the root:
     * what a TLS server sends so clients that trust only the root can verify */
    chain[n++] = cert;
    for (int i = 0; i < sk_X509_num(ca->chain) && n < 8; i++)
        chain[n++] = sk_X509_value(ca->chain, i);
    if (snprintf(path, sizeof path, "%s-chain.crt", base) >= (int)sizeof path)
        return EXIT_FAILED;
    if (pki_certs_write(path, chain, n))
        return mc_fail("chain");
    result("wrote %s  (the certificate followed by %zu CA certificate%s below the root)", path,
           n - 1, mc_s((long)n - 1));
    return EXIT_OK;
}

int mc_issue(mc_opts *o)
{
    pki_sign_opts so = pki_sign_defaults(PKI_PROFILE_SERVER);
    pki_sign_report rep;
    mc_ca ca = {0};
    EVP_PKEY *key = NULL;
    X509_REQ *csr = NULL;
    X509 *cert = NULL;
    char base[4096], names[1024] = "";
    pki_name subj = {.o = "HTTPS from the ground up"};
    GENERAL_NAMES *sans = NULL;
    int rc = EXIT_FAILED, p = pki_profile_parse(o->profile ? o->profile : "");

    if (p != PKI_PROFILE_SERVER && p != PKI_PROFILE_CLIENT)
        cli_usage_error("--profile server|client is needed");
    if (o->n_args < 1)
        cli_usage_error("issue needs at least one name (localhost 127.0.0.1 ::1 alice@example.org)");
    if (o->n_args > MINICA_MAX_SANS)
        cli_usage_error("at most %d names", MINICA_MAX_SANS);
    so = pki_sign_defaults((pki_profile)p);
    if (o->days)
        so.days = o->days;
    so.not_before = o->not_before;
    so.not_after = o->not_after;
    so.crl_url = o->crl_url;
    subj.cn = o->args[0];
    /* default file names from the first name, made safe for a file name */
    snprintf(base, sizeof base, "%s", o->name ? o->name : o->args[0]);
    if (!o->name)
        for (char *c = base; *c; c++)
            if (!isalnum((unsigned char)*c) && *c != '.' && *c != '-' && *c != '_')
                *c = '_';
    if (mc_ca_open(o->dir, o->pass_file, &ca))
        goto end;
    /* no article before the type: "a ec", "a rsa2048" read wrong */
    step("generating the key (%s) and a request for %d name%s", o->type ? o->type : "EC P-256",
         o->n_args, mc_s(o->n_args));
    if (!(key = pki_key_generate(o->type)) ||
        !(csr = pki_csr_create(key, &subj, (const char *const *)o->args, (size_t)o->n_args))) {
        rc = mc_fail("request");
        goto end;
    }
    step("signing it with profile '%s'", pki_profile_name(so.profile));
    if (!(cert = pki_sign_csr(csr, ca.cert, ca.key, &so, &rep))) {
        rc = mc_fail("sign");
        goto end;
    }
    if (rep.capped)
        note("validity cut to the CA's own expiry: nothing outlives its issuer");
    if (pki_index_add(o->dir, cert)) {
        rc = mc_fail("index");
        goto end;
    }
    sans = pki_cert_sans(cert);
    pki_sans_describe(sans, names, sizeof names);
    note("valid for: %s", names);
    rc = write_issued(base, key, cert, &ca,
                      p == PKI_PROFILE_SERVER ? "server certificate" : "client certificate");
end:
    GENERAL_NAMES_free(sans);
    mc_ca_close(&ca);
    EVP_PKEY_free(key);
    X509_REQ_free(csr);
    X509_free(cert);
    return rc;
}

int mc_revoke(mc_opts *o)
{
    char serial[128];
    const char *reason = o->reason ? o->reason : "unspecified";
    X509 *cert = NULL;
    size_t j = 0;

    if (!o->dir)
        cli_usage_error("revoke needs --dir DIR (the CA that issued it)");
    if (o->n_args != 1)
        cli_usage_error("revoke needs one SERIAL (hex) or certificate FILE");
    if (!pki_crl_reason_valid(reason))
        cli_usage_error("--reason: '%s' is not one of keyCompromise, cACompromise, "
                        "affiliationChanged, superseded, cessationOfOperation, "
                        "privilegeWithdrawn, unspecified", reason);
    if (access(o->args[0], F_OK) == 0) {
        if (!(cert = pki_cert_read(o->args[0])))
            return mc_fail("certificate");
        pki_serial_hex(X509_get0_serialNumber(cert), serial, sizeof serial);
        X509_free(cert);
    } else {
        /* a serial as printed by inspect or openssl: hex, colons allowed */
        for (const char *s = o->args[0]; *s && j + 1 < sizeof serial; s++)
            if (*s != ':')
                serial[j++] = *s;
        serial[j] = '\0';
        if (!j || strspn(serial, "0123456789abcdefABCDEF") != j)
            cli_usage_error("'%s' is neither a certificate file nor a hex serial", o->args[0]);
    }
    if (pki_index_revoke(o->dir, serial, reason))
        return mc_fail("revoke");
    result("revoked %s (%s) in %s/index.txt", serial, reason, o->dir);
    note("clients learn it only from a new CRL: minica crl --dir %s", o->dir);
    return EXIT_OK;
}

int mc_crl(mc_opts *o)
{
    char path[4096], next[40];
    mc_ca ca = {0};
    X509_CRL *crl = NULL;
    int rc = EXIT_FAILED, days = o->days ? o->days : 30, n_revoked;
    time_t this_update = o->not_before ? o->not_before : time(NULL);
    time_t next_update = o->not_after ? o->not_after : this_update + (time_t)days * 86400;
    STACK_OF(X509_REVOKED) *revs = NULL;
    long left;

    if (o->n_args)
        cli_usage_error("unexpected argument '%s'", o->args[0]);
    if (mc_ca_open(o->dir, o->pass_file, &ca))
        goto end;
    if (o->out)
        snprintf(path, sizeof path, "%s", o->out);
    else
        mc_path(path, sizeof path, o->dir, "crl.pem");
    /* --not-before/--not-after (lab options) choose thisUpdate/nextUpdate:
     * a CRL that is out of date, or nearly, for make-pki.sh's renewal */
    crl = o->not_before || o->not_after
              ? pki_crl_create_at(o->dir, ca.cert, ca.key, this_update, next_update)
              : pki_crl_create(o->dir, ca.cert, ca.key, days);
    if (!crl || pki_crl_write(path, crl)) {
        rc = mc_fail("CRL");
        goto end;
    }
    revs = X509_CRL_get_REVOKED(crl);
    n_revoked = revs ? sk_X509_REVOKED_num(revs) : 0;
    pki_time_text(X509_CRL_get0_nextUpdate(crl), next, sizeof next);
    left = pki_days_until(X509_CRL_get0_nextUpdate(crl));
    if (next_update > time(NULL))
        result("wrote %s  (CRL listing %d revoked certificate%s; next update due %s, in %ld day%s)",
               path, n_revoked, mc_s(n_revoked), next, left, mc_s(left));
    else
        result("wrote %s  (CRL listing %d revoked certificate%s; OUT OF DATE since %s, %ld day%s "
               "ago: clients that check revocation refuse it)",
               path, n_revoked, mc_s(n_revoked), next, -left, mc_s(left));
    rc = EXIT_OK;
end:
    mc_ca_close(&ca);
    X509_CRL_free(crl);
    return rc;
}
