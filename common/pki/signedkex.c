/* SPDX-License-Identifier: MIT */
/*
 * signedkex.c - the transcript signature of common/pki/signedkex.h: what the
 * server signs, how the client checks it. The client's narrated HTTP flow
 * is in 04_pki_ca/signedkex_flow.c.
 */
#include "pki/signedkex.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "core/encoding.h"
#include "pki/pki.h"

/* 2-byte length, then the bytes: no two (name, session) pairs sign alike */
static uint8_t *put_field(uint8_t *p, const char *s, size_t n)
{
    p[0] = (uint8_t)(n >> 8);
    p[1] = (uint8_t)n;
    memcpy(p + 2, s, n);
    return p + 2 + n;
}

int signedkex_tbs(const exchange *ex, const char *server_name, const char *session, uint8_t **out,
                  size_t *len)
{
    uint8_t *t = NULL, *buf = NULL;
    size_t tn = 0, nn = server_name ? strlen(server_name) : 0, sn = session ? strlen(session) : 0;

    *out = NULL;
    if (nn == 0 || nn > SIGNEDKEX_MAX_NAME || sn == 0 || sn > SIGNEDKEX_MAX_SESSION ||
        exchange_transcript(ex, &t, &tn) != 0)
        return -1;
    if ((buf = malloc(tn + 2 + nn + 2 + sn)) != NULL) {
        memcpy(buf, t, tn);
        put_field(put_field(buf + tn, server_name, nn), session, sn);
        *out = buf;
        *len = tn + 2 + nn + 2 + sn;
    }
    free(t);
    return buf ? 0 : -1;
}

/* SHA-256 for EC and RSA; Ed25519 hashes inside the signature itself. */
static const char *md_for(EVP_PKEY *key)
{
    return EVP_PKEY_is_a(key, "ED25519") ? NULL : "SHA256";
}

/* 1 if the certificate carries name as a DNS name or as an IP address. */
static int cert_names(X509 *cert, const char *name)
{
    unsigned char ip[16];
    if (inet_pton(AF_INET, name, ip) == 1 || inet_pton(AF_INET6, name, ip) == 1)
        return X509_check_ip_asc(cert, name, 0) == 1;
    return X509_check_host(cert, name, 0, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, NULL) == 1;
}

int signedkex_sign_reply(json_t *reply, const exchange *ex, const char *server_name,
                         const char *session, EVP_PKEY *key, STACK_OF(X509) *chain, char *err,
                         size_t err_len)
{
    EVP_MD_CTX *md = NULL;
    uint8_t *tbs = NULL, *sig = NULL;
    size_t tbs_len = 0, sig_len = 0;
    char *b64 = NULL;
    json_t *certs = json_array();
    int rc = -1;

    if (!certs || !chain || sk_X509_num(chain) < 1)
        goto end;
    if (!server_name || !cert_names(sk_X509_value(chain, 0), server_name)) {
        snprintf(err, err_len, "this server's certificate is not for \"%.64s\"",
                 server_name ? server_name : "");
        goto end;
    }
    for (int i = 0; i < sk_X509_num(chain) && i < SIGNEDKEX_MAX_CERTS; i++) {
        char *pem = pki_cert_to_pem(sk_X509_value(chain, i), NULL);
        if (!pem || json_array_append_new(certs, json_string(pem)) != 0) {
            free(pem);
            goto end;
        }
        free(pem);
    }
    if (signedkex_tbs(ex, server_name, session, &tbs, &tbs_len) != 0 || !(md = EVP_MD_CTX_new()) ||
        EVP_DigestSignInit_ex(md, NULL, md_for(key), NULL, NULL, key, NULL) != 1 ||
        EVP_DigestSign(md, NULL, &sig_len, tbs, tbs_len) != 1 || !(sig = malloc(sig_len)) ||
        EVP_DigestSign(md, sig, &sig_len, tbs, tbs_len) != 1 ||
        !(b64 = b64url_encode(sig, sig_len, B64_NO_PAD)))
        goto end;
    if (json_object_set_new(reply, "session", json_string(session)) != 0 ||
        json_object_set(reply, "certificates", certs) != 0 ||
        json_object_set_new(reply, "signature", json_string(b64)) != 0)
        goto end;
    rc = 0;
end:
    if (rc != 0 && err[0] == '\0')
        snprintf(err, err_len, "could not sign the exchange");
    EVP_MD_CTX_free(md);
    json_decref(certs);
    free(tbs);
    free(sig);
    free(b64);
    return rc;
}

/* The reply's certificates: leaf first, at most SIGNEDKEX_MAX_CERTS. */
static STACK_OF(X509) *reply_certs(const json_t *reply)
{
    const json_t *arr = json_object_get(reply, "certificates");
    STACK_OF(X509) *certs = NULL;
    size_t n = json_is_array(arr) ? json_array_size(arr) : 0;

    if (n == 0 || n > SIGNEDKEX_MAX_CERTS || !(certs = sk_X509_new_null()))
        return NULL;
    for (size_t i = 0; i < n; i++) {
        const char *pem = json_string_value(json_array_get(arr, i));
        BIO *bio = pem && strlen(pem) < 16384 ? BIO_new_mem_buf(pem, -1) : NULL;
        X509 *x = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
        BIO_free(bio);
        if (!x || !sk_X509_push(certs, x)) {
            X509_free(x);
            sk_X509_pop_free(certs, X509_free);
            return NULL;
        }
    }
    return certs;
}

signedkex_status signedkex_check_reply(const json_t *reply, const exchange *ex,
                                       const char *server_name, STACK_OF(X509) *trusted,
                                       char *err, size_t err_len)
{
    const char *b64 = json_string_value(json_object_get(reply, "signature"));
    const char *session = json_string_value(json_object_get(reply, "session"));
    STACK_OF(X509) *certs = reply_certs(reply);
    pki_verify_opts vo = {.purpose = PKI_PROFILE_SERVER};
    EVP_MD_CTX *md = NULL;
    uint8_t *sig = NULL, *tbs = NULL;
    size_t sig_len = 0, tbs_len = 0;
    unsigned char ip[16];
    char detail[400];
    signedkex_status st = SIGNEDKEX_ERROR;
    pki_verdict v;
    EVP_PKEY *pub;

    if (!b64 || !certs) {
        snprintf(err, err_len, "the answer is not signed (no %s): someone is in the middle, or "
                 "this is not a chapter 04 server", b64 ? "readable certificates" : "signature");
        st = SIGNEDKEX_UNSIGNED;
        goto end;
    }
    /* the name WE wanted, never one the reply suggests */
    if (inet_pton(AF_INET, server_name, ip) == 1 || inet_pton(AF_INET6, server_name, ip) == 1)
        vo.ip = server_name;
    else
        vo.host = server_name;
    v = pki_verify(sk_X509_value(certs, 0), trusted, certs, &vo, detail, sizeof detail);
    if (v != PKI_VERIFY_OK) {
        snprintf(err, err_len, "the server's certificate is not trusted for %s: %s (%s)",
                 server_name, pki_verdict_reason(v), detail);
        st = SIGNEDKEX_UNTRUSTED;
        goto end;
    }
    pub = X509_get0_pubkey(sk_X509_value(certs, 0));
    if (b64url_decode(b64, strlen(b64), B64_NO_PAD, &sig, &sig_len) != 0 || sig_len > 1024 ||
        !session || signedkex_tbs(ex, server_name, session, &tbs, &tbs_len) != 0 || !pub ||
        !(md = EVP_MD_CTX_new()) ||
        EVP_DigestVerifyInit_ex(md, NULL, md_for(pub), NULL, NULL, pub, NULL) != 1) {
        snprintf(err, err_len, "the signature is unreadable");
        st = SIGNEDKEX_BAD_SIGNATURE;
        goto end;
    }
    if (EVP_DigestVerify(md, sig, sig_len, tbs, tbs_len) != 1) {
        ERR_clear_error(); /* OpenSSL's words add nothing to ours here */
        snprintf(err, err_len, "the signature does not match: someone is in the middle");
        st = SIGNEDKEX_BAD_SIGNATURE;
        goto end;
    }
    st = SIGNEDKEX_OK;
end:
    EVP_MD_CTX_free(md);
    sk_X509_pop_free(certs, X509_free);
    free(sig);
    free(tbs);
    return st;
}
