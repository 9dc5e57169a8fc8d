/* SPDX-License-Identifier: MIT */
/* Unit tests for common/tls and chapter 05's TLS files: the server's policy as
 * it lands on an SSL_CTX, the client's chain watcher in a real (in-memory)
 * handshake, and every reason tls_explain_failure gives.
 *
 * Chapter 05's policy.c and mtls.c are chapter files, not a module, so they
 * are compiled in here: the policy is what 05-server applies, and civetweb's
 * own ssl_protocol_version option would hide a missing floor from any test
 * that goes through the network. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "../../05_https_server/mtls.c"
#include "../../05_https_server/policy.c"
#include "tls/tls.h"

/* A self-signed P-256 certificate for localhost and its key, as files. */
static char g_cert[64], g_key[64];
static X509 *g_x509;

static int write_pem(char *path, X509 *x, EVP_PKEY *k)
{
    int fd = mkstemp(path), ok;
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f)
        return -1;
    ok = x ? PEM_write_X509(f, x) : PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
    fclose(f);
    return ok == 1 ? 0 : -1;
}

static int setup(void **state)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    X509_NAME *name = x ? X509_get_subject_name(x) : NULL;
    (void)state;
    if (!key || !name || X509_set_version(x, 2) != 1 ||
        ASN1_INTEGER_set(X509_get_serialNumber(x), 1) != 1 ||
        !X509_gmtime_adj(X509_getm_notBefore(x), -60) ||
        !X509_gmtime_adj(X509_getm_notAfter(x), 3600) ||
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"localhost",
                                   -1, -1, 0) != 1 ||
        X509_set_issuer_name(x, name) != 1 || X509_set_pubkey(x, key) != 1 ||
        X509_sign(x, key, EVP_sha256()) <= 0)
        return -1;
    snprintf(g_cert, sizeof g_cert, "/tmp/test_tls_crt_XXXXXX");
    snprintf(g_key, sizeof g_key, "/tmp/test_tls_key_XXXXXX");
    if (write_pem(g_cert, x, NULL) || write_pem(g_key, NULL, key))
        return -1;
    EVP_PKEY_free(key);
    g_x509 = x;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(g_cert);
    unlink(g_key);
    X509_free(g_x509);
    return 0;
}

/* What 05-server's init_ssl does to civetweb's fresh context. */
static SSL_CTX *server_ctx(int tls13_only)
{
    tls_server_policy pol = {g_cert, g_key, tls13_only, -1};
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    assert_non_null(ctx);
    assert_int_equal(policy_apply(ctx, &pol), 0);
    assert_int_equal(tls_server_configure(ctx, &pol), 0);
    return ctx;
}

/* ---- the server's policy on the SSL_CTX ---------------------------------- */

static void policy_sets_the_floor(void **state)
{
    SSL_CTX *ctx;
    (void)state;
    ctx = server_ctx(0);
    assert_int_equal(SSL_CTX_get_min_proto_version(ctx), TLS1_2_VERSION);
    SSL_CTX_free(ctx);
    ctx = server_ctx(1);
    assert_int_equal(SSL_CTX_get_min_proto_version(ctx), TLS1_3_VERSION);
    SSL_CTX_free(ctx);
}

static void policy_offers_only_ecdhe_aead(void **state)
{
    SSL_CTX *ctx = server_ctx(0);
    STACK_OF(SSL_CIPHER) *ciphers = SSL_CTX_get_ciphers(ctx);
    char list[1024] = "";
    int tls13 = 0;
    (void)state;
    for (int i = 0; i < sk_SSL_CIPHER_num(ciphers); i++) {
        const SSL_CIPHER *c = sk_SSL_CIPHER_value(ciphers, i);
        const char *name = SSL_CIPHER_get_name(c);
        if (strncmp(name, "TLS_", 4) == 0) { /* TLS 1.3: key exchange not in the suite */
            tls13++;
            continue;
        }
        assert_int_equal(SSL_CIPHER_get_kx_nid(c), NID_kx_ecdhe);
        assert_true(SSL_CIPHER_is_aead(c));
        if (list[0])
            strncat(list, ":", sizeof list - strlen(list) - 1);
        strncat(list, name, sizeof list - strlen(list) - 1);
    }
    /* exactly the course's TLS 1.2 list, in its order (the server's preference) */
    assert_string_equal(list, TLS12_CIPHERS);
    assert_int_equal(tls13, 3);
    assert_true(SSL_CTX_get_options(ctx) & SSL_OP_CIPHER_SERVER_PREFERENCE);
    assert_true(SSL_CTX_get_options(ctx) & SSL_OP_NO_RENEGOTIATION);
    assert_true(SSL_CTX_get_options(ctx) & SSL_OP_NO_COMPRESSION);
    assert_true(SSL_CTX_get_options(ctx) & SSL_OP_IGNORE_UNEXPECTED_EOF);
    assert_int_equal(SSL_CTX_get_session_cache_mode(ctx), SSL_SESS_CACHE_SERVER);
    assert_non_null(SSL_CTX_get0_certificate(ctx));
    SSL_CTX_free(ctx);
}

static void policy_sets_tickets_when_asked(void **state)
{
    tls_server_policy pol = {g_cert, g_key, 0, 0};
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    (void)state;
    assert_int_equal(SSL_CTX_get_num_tickets(ctx), 2); /* OpenSSL's default */
    assert_int_equal(policy_apply(ctx, &pol), 0);
    assert_int_equal(SSL_CTX_get_num_tickets(ctx), 0);
    SSL_CTX_free(ctx);
}

static void configure_refuses_a_key_of_another_certificate(void **state)
{
    char other[64] = "/tmp/test_tls_key_XXXXXX";
    EVP_PKEY *k = EVP_EC_gen("P-256");
    tls_server_policy pol = {g_cert, other, 0, -1};
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    (void)state;
    assert_int_equal(write_pem(other, NULL, k), 0);
    assert_int_equal(tls_server_configure(ctx, &pol), -1);
    assert_int_equal(tls_check_server_files(&pol), -1);
    ERR_clear_error();
    unlink(other);
    EVP_PKEY_free(k);
    SSL_CTX_free(ctx);
}

/* ---- chapter 05's civetweb options ------------------------------------------ */

static void mtls_options_never_overflow(void **state)
{
    mtls m = MTLS_DEFAULTS;
    const char *opts[16] = {"tcp_nodelay", "1", "ssl_protocol_version", "4"};
    (void)state;
    /* no --client-ca: nothing added */
    assert_int_equal(mtls_civetweb_options(&m, opts, 16), 0);
    assert_null(opts[4]);
    m.client_ca = "ca.crt";
    /* 4 used + 8 + the NULL need 13: a table of 12 is refused, untouched */
    for (int i = 4; i < 16; i++)
        opts[i] = NULL;
    opts[12] = "sentinel";
    assert_int_equal(mtls_civetweb_options(&m, opts, 12), -1);
    assert_null(opts[4]);
    assert_string_equal(opts[12], "sentinel");
    opts[12] = NULL;
    assert_int_equal(mtls_civetweb_options(&m, opts, 13), 0);
    assert_string_equal(opts[4], "ssl_verify_peer");
    assert_string_equal(opts[5], "yes");
    assert_string_equal(opts[7], "ca.crt");
    assert_string_equal(opts[9], "no"); /* ssl_default_verify_paths: never the system's CAs */
    assert_null(opts[12]);
}

/* ---- the client's watcher in a real handshake ----------------------------- */

static int g_server_alert_read = -1; /* the alert the server received */

static void server_info(const SSL *ssl, int where, int ret)
{
    (void)ssl;
    if ((where & SSL_CB_READ_ALERT) == SSL_CB_READ_ALERT && (ret >> 8) == SSL3_AL_FATAL)
        g_server_alert_read = ret & 0xff;
}

/* Handshake client and server over a memory BIO pair, then let the client
 * read once (a TLS 1.3 server judges the client certificate after the client
 * is done). Returns 1 if the client's handshake completed. */
static int handshake(SSL_CTX *cctx, SSL_CTX *sctx)
{
    SSL *c = SSL_new(cctx), *s = SSL_new(sctx);
    BIO *bc = NULL, *bs = NULL;
    int cdone = 0, sdone = 0, cfail = 0, sfail = 0;
    char buf[16];
    assert_non_null(c);
    assert_non_null(s);
    assert_int_equal(BIO_new_bio_pair(&bc, 0, &bs, 0), 1);
    SSL_set_bio(c, bc, bc);
    SSL_set_bio(s, bs, bs);
    SSL_set_connect_state(c);
    SSL_set_accept_state(s);
    SSL_set_info_callback(s, server_info);
    for (int i = 0; i < 50 && !(cdone || cfail) + !(sdone || sfail); i++) {
        if (!cdone && !cfail) {
            int r = SSL_do_handshake(c);
            cdone = r == 1;
            cfail = r <= 0 && SSL_get_error(c, r) != SSL_ERROR_WANT_READ;
        }
        if (!sdone && !sfail) {
            int r = SSL_do_handshake(s);
            sdone = r == 1;
            sfail = r <= 0 && SSL_get_error(s, r) != SSL_ERROR_WANT_READ;
        }
    }
    if (cdone)
        (void)SSL_read(c, buf, sizeof buf);
    ERR_clear_error();
    SSL_free(c);
    SSL_free(s);
    return cdone;
}

static SSL_CTX *watched_client(tls_chain *chain, int trust_server)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    assert_non_null(ctx);
    /* what libcurl sets: verify the peer */
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    if (trust_server)
        assert_int_equal(X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), g_x509), 1);
    tls_chain_init(chain);
    assert_int_equal(tls_chain_watch(ctx, chain), 0);
    return ctx;
}

/* The watcher records and must keep OpenSSL's verdict: an unknown CA fails
 * the client's handshake and the server hears "unknown CA" (alert 48). A
 * watcher that accepted everything would let the handshake complete. */
static void watcher_keeps_the_verdict(void **state)
{
    tls_chain chain;
    SSL_CTX *sctx = server_ctx(0), *cctx = watched_client(&chain, 0);
    char reason[256], hint_text[512];
    (void)state;
    g_server_alert_read = -1;
    assert_int_equal(handshake(cctx, sctx), 0);
    assert_int_equal(g_server_alert_read, SSL_AD_UNKNOWN_CA);
    assert_int_equal(chain.first_error, X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT);
    assert_int_equal(chain.depth_max, 0);
    assert_string_equal(chain.cert[0].subject, "CN=localhost");
    assert_int_equal(tls_explain_failure(CURLE_PEER_FAILED_VERIFICATION, &chain, "https://x/",
                                         reason, sizeof reason, hint_text, sizeof hint_text),
                     1);
    assert_non_null(strstr(reason, "unknown CA: "));
    SSL_CTX_free(cctx);
    SSL_CTX_free(sctx);
}

static void watcher_records_the_servers_alert(void **state)
{
    tls_chain chain;
    SSL_CTX *sctx = server_ctx(0), *cctx = watched_client(&chain, 1);
    char reason[256], hint_text[512];
    (void)state;
    /* mutual TLS required, and the client has no certificate */
    SSL_CTX_set_verify(sctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    assert_int_equal(handshake(cctx, sctx), 1); /* TLS 1.3: the client is done first */
    assert_int_equal(chain.first_error, X509_V_OK);
    assert_true(chain.cert_requested);
    assert_int_equal(chain.alert, SSL_AD_CERTIFICATE_REQUIRED);
    assert_int_equal(tls_explain_failure(CURLE_RECV_ERROR, &chain, "https://x/", reason,
                                         sizeof reason, hint_text, sizeof hint_text),
                     1);
    assert_non_null(strstr(reason, "requires a client certificate (mutual TLS) and we sent none"));
    SSL_CTX_free(cctx);
    SSL_CTX_free(sctx);
}

/* ---- every reason tls_explain_failure gives -------------------------------- */

typedef struct {
    CURLcode code;
    int verr, alert, cert_requested, have_client_cert;
    unsigned long ssl_error;
    const char *reason; /* NULL: not recognised */
    const char *hint;   /* a part of the hint */
} explain_case;

static void explain_gives_each_reason(void **state)
{
#define SSL_ERR(r) ERR_PACK(ERR_LIB_SSL, 0, (r))
    static const explain_case cases[] = {
        {CURLE_PEER_FAILED_VERIFICATION, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY, -1, 0, 0, 0,
         "unknown CA: the server's certificate does not lead to a CA we trust", "--cacert"},
        {CURLE_PEER_FAILED_VERIFICATION, X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN, -1, 0, 0, 0,
         "unknown CA: ", "man in the middle"},
        {CURLE_PEER_FAILED_VERIFICATION, X509_V_ERR_CERT_HAS_EXPIRED, -1, 0, 0, 0,
         "expired: the server's certificate is past its notAfter date", "clock"},
        {CURLE_PEER_FAILED_VERIFICATION, X509_V_ERR_CERT_NOT_YET_VALID, -1, 0, 0, 0,
         "not yet valid: ", "notBefore"},
        {CURLE_PEER_FAILED_VERIFICATION, X509_V_ERR_CERT_REVOKED, -1, 0, 0, 0,
         "revoked: the CA has withdrawn the server's certificate (it is on the CRL)", "thief"},
        {CURLE_PEER_FAILED_VERIFICATION, X509_V_ERR_CRL_HAS_EXPIRED, -1, 0, 0, 0,
         "the CRL is out of date (its nextUpdate has passed)", "fresh CRL"},
        {CURLE_PEER_FAILED_VERIFICATION, X509_V_ERR_CERT_SIGNATURE_FAILURE, -1, 0, 0, 0,
         "the server's certificate failed verification: certificate signature failure",
         "-showcerts"},
        /* libcurl checks the name itself: the chain verified, the peer refused */
        {CURLE_PEER_FAILED_VERIFICATION, X509_V_OK, -1, 0, 0, 0,
         "wrong host name: the certificate is valid, but not for the host in the URL",
         "the certificate names DNS:www.example.com; use one of those in the URL (not "
         "https://localhost:1/)"},
        /* or OpenSSL does, when asked */
        {CURLE_PEER_FAILED_VERIFICATION, X509_V_ERR_HOSTNAME_MISMATCH, -1, 0, 0, 0,
         "wrong host name: ", "DNS:www.example.com"},
        /* the server's alerts */
        {CURLE_RECV_ERROR, X509_V_OK, SSL_AD_CERTIFICATE_REVOKED, 1, 1, 0,
         "the server refused our client certificate: it is revoked (on the server's CRL)",
         "new client certificate"},
        {CURLE_RECV_ERROR, X509_V_OK, SSL_AD_CERTIFICATE_REQUIRED, 1, 0, 0,
         "the server requires a client certificate (mutual TLS) and we sent none",
         "--cert build/pki/client-chain.crt"},
        {CURLE_SSL_CONNECT_ERROR, X509_V_OK, SSL_AD_UNKNOWN_CA, 1, 1, 0,
         "the server refused our client certificate: it does not trust the CA that issued it",
         "course CA"},
        {CURLE_SSL_CONNECT_ERROR, X509_V_OK, SSL_AD_BAD_CERTIFICATE, 1, 1, 0,
         "the server refused our client certificate: it does not trust", "course CA"},
        {CURLE_SSL_CONNECT_ERROR, X509_V_OK, SSL_AD_CERTIFICATE_UNKNOWN, 1, 1, 0,
         "the server refused our client certificate: it does not trust", "course CA"},
        {CURLE_SSL_CONNECT_ERROR, X509_V_OK, SSL_AD_PROTOCOL_VERSION, 0, 0, 0,
         "no TLS version in common: the server refused every version we offered", "RFC 8996"},
        {CURLE_SSL_CONNECT_ERROR, X509_V_OK, SSL_AD_HANDSHAKE_FAILURE, 0, 0, 0,
         "the handshake failed: no cipher suite or group in common", "-msg"},
        /* TLS 1.2's answer to a missing client certificate */
        {CURLE_SSL_CONNECT_ERROR, X509_V_OK, SSL_AD_HANDSHAKE_FAILURE, 1, 0, 0,
         "the server requires a client certificate (mutual TLS) and we sent none", "--key"},
        /* the alert from OpenSSL's error code when the callback missed it */
        {CURLE_SSL_CONNECT_ERROR, X509_V_OK, -1, 1, 1,
         SSL_ERR(SSL_AD_REASON_OFFSET + SSL_AD_CERTIFICATE_REVOKED),
         "the server refused our client certificate: it is revoked", "thief"},
        /* TLS 1.3: the server hung up before its alert was read */
        {CURLE_RECV_ERROR, X509_V_OK, -1, 1, 1, 0,
         "the server refused our client certificate: it does not trust the CA that issued it, "
         "or the certificate is revoked (the server hung up before its alert could be read)",
         "--tls-version 1.2"},
        {CURLE_SEND_ERROR, X509_V_OK, -1, 1, 0, 0,
         "the server requires a client certificate (mutual TLS) and we sent none", "--cert"},
        {CURLE_GOT_NOTHING, X509_V_OK, -1, 1, 0, 0, "the server requires a client certificate",
         "--cert"},
        /* a timeout is not a refusal, even with mutual TLS */
        {CURLE_OPERATION_TIMEDOUT, X509_V_OK, -1, 1, 1, 0, NULL, NULL},
        /* our side gave up */
        {CURLE_SSL_CONNECT_ERROR, X509_V_OK, -1, 0, 0, SSL_ERR(SSL_R_WRONG_VERSION_NUMBER),
         "the server did not answer in TLS (is it a plain HTTP server?)", "http://"},
        {CURLE_SSL_CONNECT_ERROR, X509_V_OK, -1, 0, 0, SSL_ERR(SSL_R_PACKET_LENGTH_TOO_LONG),
         "the server did not answer in TLS", "05-server"},
        {CURLE_SSL_CONNECT_ERROR, X509_V_OK, -1, 0, 0, SSL_ERR(SSL_R_UNSUPPORTED_PROTOCOL),
         "no TLS version in common: ", "TLS 1.2 or later"},
        {CURLE_SSL_CONNECT_ERROR, X509_V_OK, -1, 0, 0, SSL_ERR(SSL_R_NO_PROTOCOLS_AVAILABLE),
         "no TLS version in common: ", "TLS 1.2 or later"},
        /* not TLS problems */
        {CURLE_COULDNT_CONNECT, X509_V_OK, -1, 0, 0, 0, NULL, NULL},
        {CURLE_SSL_CONNECT_ERROR, X509_V_OK, -1, 0, 0, ERR_PACK(ERR_LIB_SYS, 0, 104), NULL, NULL},
        {CURLE_OK, X509_V_ERR_CERT_HAS_EXPIRED, -1, 0, 0, 0, NULL, NULL},
    };
#undef SSL_ERR
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const explain_case *k = &cases[i];
        tls_chain chain;
        char reason[256], hint_text[512];
        tls_chain_init(&chain);
        chain.depth_max = 0;
        snprintf(chain.cert[0].names, sizeof chain.cert[0].names, "DNS:www.example.com");
        chain.first_error = chain.cert[0].error = k->verr;
        chain.alert = k->alert;
        chain.cert_requested = k->cert_requested;
        chain.have_client_cert = k->have_client_cert;
        chain.ssl_error = k->ssl_error;
        int got = tls_explain_failure(k->code, &chain, "https://localhost:1/", reason,
                                      sizeof reason, hint_text, sizeof hint_text);
        if (got != (k->reason != NULL))
            fail_msg("case %zu: recognised %d, reason '%s'", i, got, reason);
        if (!k->reason)
            continue;
        if (strncmp(reason, k->reason, strlen(k->reason)) != 0)
            fail_msg("case %zu: reason '%s', wanted '%s'", i, reason, k->reason);
        if (!strstr(hint_text, k->hint))
            fail_msg("case %zu: hint '%s' lacks '%s'", i, hint_text, k->hint);
    }
}

/* "certificate expired" from the server: our certificate, or its stale CRL
 * (OpenSSL sends that alert for both), told apart by our certificate's dates.
 * libcurl calls it PEER_FAILED_VERIFICATION: never "wrong host name". */
static void explain_tells_an_expired_client_cert_from_a_stale_crl(void **state)
{
    static const struct {
        int dates;
        const char *reason, *hint;
    } cases[] = {
        {TLS_CLIENT_CERT_IN_DATE, "the server's CRL is out of date (past its nextUpdate)", "make pki"},
        {TLS_CLIENT_CERT_EXPIRED, "the server refused our client certificate: it is expired",
         "new client certificate"},
        {TLS_CLIENT_CERT_UNKNOWN, "either it is past its notAfter date, or the server's CRL",
         "openssl x509 -noout -dates"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        tls_chain chain;
        char reason[256], hint_text[512];
        tls_chain_init(&chain);
        chain.depth_max = 0;
        chain.alert = SSL_AD_CERTIFICATE_EXPIRED;
        chain.cert_requested = chain.have_client_cert = 1;
        chain.client_cert_dates = cases[i].dates;
        assert_int_equal(tls_explain_failure(CURLE_PEER_FAILED_VERIFICATION, &chain, "https://h/",
                                             reason, sizeof reason, hint_text, sizeof hint_text),
                         1);
        if (!strstr(reason, cases[i].reason) || strstr(reason, "wrong host name"))
            fail_msg("case %zu: reason '%s', wanted '%s'", i, reason, cases[i].reason);
        if (!strstr(hint_text, cases[i].hint))
            fail_msg("case %zu: hint '%s' lacks '%s'", i, hint_text, cases[i].hint);
    }
}

static void explain_names_the_ca_without_a_crl(void **state)
{
    tls_chain chain;
    char reason[256], hint_text[512];
    (void)state;
    tls_chain_init(&chain);
    chain.depth_max = 1;
    chain.first_error = chain.cert[1].error = X509_V_ERR_UNABLE_TO_GET_CRL;
    snprintf(chain.cert[1].issuer, sizeof chain.cert[1].issuer, "CN=Course Root CA");
    assert_int_equal(tls_explain_failure(CURLE_PEER_FAILED_VERIFICATION, &chain, "https://h/",
                                         reason, sizeof reason, hint_text, sizeof hint_text),
                     1);
    assert_non_null(strstr(reason, "no CRL: revocation checking was asked for"));
    assert_non_null(strstr(hint_text, "missing: the CRL of CN=Course Root CA"));
    /* no chain at all: still an answer, and no crash */
    assert_int_equal(tls_explain_failure(CURLE_COULDNT_CONNECT, NULL, "https://h/", reason,
                                         sizeof reason, hint_text, sizeof hint_text),
                     0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(policy_sets_the_floor),
        cmocka_unit_test(policy_offers_only_ecdhe_aead),
        cmocka_unit_test(policy_sets_tickets_when_asked),
        cmocka_unit_test(configure_refuses_a_key_of_another_certificate),
        cmocka_unit_test(mtls_options_never_overflow),
        cmocka_unit_test(watcher_keeps_the_verdict),
        cmocka_unit_test(watcher_records_the_servers_alert),
        cmocka_unit_test(explain_gives_each_reason),
        cmocka_unit_test(explain_tells_an_expired_client_cert_from_a_stale_crl),
        cmocka_unit_test(explain_names_the_ca_without_a_crl),
    };
    return cmocka_run_group_tests_name("tls", tests, setup, teardown);
}
