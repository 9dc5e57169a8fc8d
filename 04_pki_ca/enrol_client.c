/* SPDX-License-Identifier: MIT */
/*
 * enrol_client.c - the requester's side of enrolment (see enrol.h): the key
 * is made here and never leaves; only the CSR and the one-time code travel.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/pem.h>

#include "core/cli.h"
#include "enrol.h"
#include "net/httpclient.h"
#include "core/json.h"
#include "pki/pki.h"

/* GET base+path; the body (malloc'ed) or NULL after an error. */
static char *fetch(const char *base, const char *path, const char *method, const char *body)
{
    http_request req = http_request_defaults();
    http_response res;
    char url[2048], *out = NULL;

    if (http_url_join(url, sizeof url, base, path))
        cli_usage_error("--url is too long");
    req.url = url;
    if (body) {
        req.method = method;
        req.body = body;
        req.body_len = strlen(body);
        req.content_type = "application/json";
    }
    if (http_do(&req, &res) != 0) {
        http_report_failure(path, &req, &res);
        return NULL;
    }
    if (res.status != 200) {
        errorf(path, "the server answered %ld: %.*s", res.status, (int)strcspn(res.body, "\n"),
               res.body);
        if (res.status == 403)
            hint("an enrolment code works once: ask the server's operator for a new one");
    } else
        out = strdup(res.body);
    http_response_free(&res);
    return out;
}

static X509 *cert_from_pem(const char *pem)
{
    BIO *bio = pem && strlen(pem) < PKI_MAX_FILE ? BIO_new_mem_buf(pem, -1) : NULL;
    X509 *x = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    return x;
}

/* Compare the root served at /ca.crt with our trusted copy: a lesson, not a
 * check we rely on (over plain HTTP the served one could be anybody's). */
static void compare_root(const char *base, X509 *trusted)
{
    char *pem = fetch(base, "/ca.crt", NULL, NULL);
    X509 *served = cert_from_pem(pem);
    char a[100] = "?", b[100] = "?";
    step("GET /ca.crt: the root the server says it uses");
    if (served && X509_cmp(served, trusted) == 0) {
        pki_fingerprint(served, a, sizeof a);
        note("it is the one in --ca (SHA-256 %s); we trust our copy, not this download", a);
    } else if (served) {
        pki_fingerprint(served, a, sizeof a);
        pki_fingerprint(trusted, b, sizeof b);
        warning("the root served at /ca.crt (%s) is not the one in --ca (%s): someone may be "
                "in the middle; trusting only --ca", a, b);
    }
    X509_free(served);
    free(pem);
}

static int save(const char *dir, EVP_PKEY *key, X509 *cert, STACK_OF(X509) *chain)
{
    char path[4096];
    X509 *all[8];
    size_t n = 0;
    long days;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        errorf(dir, "cannot create the folder: %s", strerror(errno));
        return -1;
    }
    all[n++] = cert;
    for (int i = 0; i < sk_X509_num(chain) && n < 8; i++)
        all[n++] = sk_X509_value(chain, i);
    snprintf(path, sizeof path, "%s/client.key", dir);
    if (pki_key_write(path, key, NULL))
        goto fail;
    result("wrote %s  (private key, mode 0600: it never left this machine)", path);
    snprintf(path, sizeof path, "%s/client.crt", dir);
    if (pki_cert_write(path, cert))
        goto fail;
    days = pki_days_until(X509_get0_notAfter(cert));
    result("wrote %s  (client certificate; expires in %ld day%s)", path, days,
           days == 1 ? "" : "s");
    snprintf(path, sizeof path, "%s/client-chain.crt", dir);
    if (pki_certs_write(path, all, n))
        goto fail;
    result("wrote %s  (the certificate and its intermediate)", path);
    return 0;
fail:
    errorf("save", "%s", pki_last_error());
    return -1;
}

int enrol_client(const char *base_url, const char *code, const char *cn, const char *dir,
                 const char *ca_file)
{
    STACK_OF(X509) *trusted = NULL, *chain = sk_X509_new_null();
    STACK_OF(X509_CRL) *crls = NULL;
    EVP_PKEY *key = NULL;
    X509_REQ *csr = NULL;
    X509 *cert = NULL;
    X509_CRL *crl = NULL;
    json_t *req = NULL, *reply = NULL;
    char *body = NULL, *answer = NULL, *csr_pem = NULL, *crl_pem = NULL, err[256], detail[400];
    pki_name subj = {.cn = cn};
    pki_verify_opts vo = {.purpose = PKI_PROFILE_CLIENT};
    pki_verdict v;
    BIO *bio = NULL;
    long n;
    int rc = EXIT_FAILED;

    if (!(trusted = pki_certs_read(ca_file))) {
        errorf("--ca", "%s", pki_last_error());
        hint("run 'make pki' (it makes build/pki/root.crt), or give --ca FILE");
        goto end;
    }
    compare_root(base_url, sk_X509_value(trusted, 0));
    step("making our key (EC P-256) and a CSR for CN=%s, signed with that key", cn);
    if (!(key = pki_key_generate("ec")) || !(csr = pki_csr_create(key, &subj, NULL, 0)) ||
        !(bio = BIO_new(BIO_s_mem())) || !PEM_write_bio_X509_REQ(bio, csr) ||
        (n = BIO_get_mem_data(bio, &csr_pem)) <= 0) {
        errorf("CSR", "%s", pki_last_error());
        goto end;
    }
    if (!(req = json_pack("{s:s, s:s%}", "code", code, "csr", csr_pem, (size_t)n)) ||
        !(body = json_compact(req)))
        goto end;
    step("POST /enrol: the CSR and the one-time code (in the clear here; chapter 05 adds TLS)");
    if (!(answer = fetch(base_url, "/enrol", "POST", body)))
        goto end;
    if (!(reply = json_parse(answer, strlen(answer), JSON_DEFAULT_MAX_DEPTH, err, sizeof err)) ||
        !(cert = cert_from_pem(json_get_str(reply, "certificate")))) {
        errorf("enrol", "the reply holds no certificate");
        goto end;
    }
    for (size_t i = 0; i < json_array_size(json_object_get(reply, "chain")) && i < 4; i++) {
        X509 *x = cert_from_pem(json_string_value(json_array_get(json_object_get(reply, "chain"), i)));
        if (x && !sk_X509_push(chain, x))
            X509_free(x);
    }
    step("checking what came back: our own public key, a chain to --ca, a client certificate");
    if (EVP_PKEY_eq(X509_get0_pubkey(cert), key) != 1) {
        errorf("enrol", "the certificate is not for our key: refusing it");
        goto end;
    }
    /* the CRL is signed by the CA: fetched over plain HTTP it is still trustworthy */
    if ((crl_pem = fetch(base_url, "/crl", NULL, NULL)) != NULL) {
        BIO *cb = BIO_new_mem_buf(crl_pem, -1);
        crl = cb ? PEM_read_bio_X509_CRL(cb, NULL, NULL, NULL) : NULL;
        BIO_free(cb);
        if (crl && (crls = sk_X509_CRL_new_null()) && sk_X509_CRL_push(crls, crl))
            crl = NULL, vo.crls = crls;
    }
    v = pki_verify(cert, trusted, chain, &vo, detail, sizeof detail);
    if (v != PKI_VERIFY_OK) {
        errorf("enrol", "the new certificate does not verify: %s (%s)", pki_verdict_reason(v),
               detail);
        goto end;
    }
    note("%s%s", detail, vo.crls ? "; not revoked according to /crl" : "");
    if (save(dir, key, cert, chain) == 0) {
        result("enrolled as CN=%s, serial %s", cn, json_get_str(reply, "serial") ? json_get_str(reply, "serial") : "?");
        rc = EXIT_OK;
    }
end:
    sk_X509_pop_free(trusted, X509_free);
    sk_X509_pop_free(chain, X509_free);
    sk_X509_CRL_pop_free(crls, X509_CRL_free);
    X509_CRL_free(crl);
    EVP_PKEY_free(key);
    X509_REQ_free(csr);
    X509_free(cert);
    BIO_free(bio);
    json_decref(req);
    json_decref(reply);
    free(body);
    free(answer);
    free(crl_pem);
    return rc;
}
