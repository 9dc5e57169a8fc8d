/* SPDX-License-Identifier: MIT */
/* Unit tests for common/envelope/hello.h (chapter 06): the HELLO / HELLO_ACK
 * handshake and the record signatures. Known answers from the independent
 * Python implementation (tests/helpers/06_hello.py -> tests/vectors/06/
 * hello.json) for every TBS, signature, transcript hash and secret; full
 * client <-> server round trips for Ed25519 and P-256 devices; and every
 * refusal, each with its own status: another TLS connection, a stale or
 * future time stamp, another key, another device, each signed field changed,
 * an ACK by another key or for another HELLO, low-order X25519 points, the
 * strict parsing tables, RSA and P-384 keys, tampered records, the audit.
 * Run from the repository root (tests/run.sh does). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "core/encoding.h"
#include "envelope/envelope.h"
#include "envelope/hello.h"
#include "kex/kex.h"

/* made at build time by tests/helpers/06_hello.py (the Makefile's rule): the
 * fixtures hold private keys, and no key is committed, fixtures included */
#define VECTORS "build/vectors/06/hello.json"
#define NAME "localhost"
#define NOW 1767225600123LL /* the vectors' ts */

/* ---- helpers ------------------------------------------------------------------ */

static json_t *load(void)
{
    json_error_t err;
    json_t *root = json_load_file(VECTORS, JSON_REJECT_DUPLICATES, &err);
    if (!root)
        fail_msg("%s: line %d: %s", VECTORS, err.line, err.text);
    return root;
}

static const char *str(const json_t *o, const char *name)
{
    const char *s = json_string_value(json_object_get(o, name));
    if (!s)
        fail_msg("vector has no string field '%s'", name);
    return s;
}

static uint8_t *hexfield(const json_t *o, const char *name, size_t *n)
{
    uint8_t *b = NULL;
    assert_int_equal(hex_decode(str(o, name), &b, n), 0);
    return b;
}

/* a fixed-size field of the vector into out */
static void hexinto(const json_t *o, const char *name, uint8_t *out, size_t want)
{
    size_t n;
    uint8_t *b = hexfield(o, name, &n);
    assert_int_equal(n, want);
    memcpy(out, b, n);
    free(b);
}

static void expect_hex(const json_t *o, const char *name, const uint8_t *got, size_t got_len)
{
    size_t n;
    uint8_t *want = hexfield(o, name, &n);
    assert_int_equal(n, got_len);
    assert_memory_equal(want, got, n);
    free(want);
}

static EVP_PKEY *key_pem(const char *pem)
{
    BIO *b = BIO_new_mem_buf(pem, -1);
    EVP_PKEY *k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
    BIO_free(b);
    assert_non_null(k);
    return k;
}

static X509 *cert_pem(const char *pem)
{
    BIO *b = BIO_new_mem_buf(pem, -1);
    X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
    BIO_free(b);
    assert_non_null(x);
    return x;
}

static EVP_PKEY *gen(const char *kind)
{
    EVP_PKEY *k = NULL;
    if (strcmp(kind, "ed25519") == 0)
        k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    else if (strcmp(kind, "p256") == 0)
        k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    else if (strcmp(kind, "p384") == 0)
        k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
    else if (strcmp(kind, "rsa") == 0)
        k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    assert_non_null(k);
    return k;
}

/* A self-signed certificate for key with the serial given in hex: enough
 * for the handshake, which checks the serial and the key, not the chain
 * (TLS did that). */
static X509 *self_cert(EVP_PKEY *key, const char *serial_hex)
{
    X509 *x = X509_new();
    BIGNUM *bn = NULL;
    X509_NAME *n = X509_NAME_new();
    assert_non_null(x);
    assert_true(BN_hex2bn(&bn, serial_hex) > 0);
    assert_non_null(BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)));
    BN_free(bn);
    assert_int_equal(X509_set_version(x, 2), 1);
    assert_int_equal(X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
                                                (const unsigned char *)"test device", -1, -1, 0),
                     1);
    assert_int_equal(X509_set_subject_name(x, n), 1);
    assert_int_equal(X509_set_issuer_name(x, n), 1);
    X509_NAME_free(n);
    assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), 0));
    assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), 86400));
    assert_int_equal(X509_set_pubkey(x, key), 1);
    assert_true(X509_sign(x, key, EVP_PKEY_is_a(key, "ED25519") ? NULL : EVP_sha256()) > 0);
    return x;
}

static void random_cb(uint8_t cb[HELLO_CB_LEN])
{
    assert_int_equal(RAND_bytes(cb, HELLO_CB_LEN), 1);
}

static json_t *parse(const char *text)
{
    json_error_t e;
    json_t *o = json_loads(text, JSON_REJECT_DUPLICATES, &e);
    if (!o)
        fail_msg("test JSON: %s: %s", e.text, text);
    return o;
}

static char *dumps(const json_t *o)
{
    char *s = json_dumps(o, JSON_COMPACT);
    assert_non_null(s);
    return s;
}

static uint8_t *b64_member(const json_t *o, const char *name, size_t *n)
{
    uint8_t *b = NULL;
    const char *s = json_string_value(json_object_get(o, name));
    assert_non_null(s);
    assert_int_equal(b64url_decode(s, strlen(s), B64_NO_PAD, &b, n), 0);
    return b;
}

/* One side of a handshake as a test needs it: a device, its certificate,
 * a server key, and a TLS exporter value. */
typedef struct fixture {
    EVP_PKEY *dev, *srv;
    X509 *cert;
    uint8_t cb[HELLO_CB_LEN];
} fixture;

static void fixture_new(fixture *f, const char *kind, const char *serial)
{
    f->dev = gen(kind);
    f->srv = gen("p256");
    f->cert = self_cert(f->dev, serial);
    random_cb(f->cb);
}

static void fixture_free(fixture *f)
{
    EVP_PKEY_free(f->dev);
    EVP_PKEY_free(f->srv);
    X509_free(f->cert);
}

/* The server's half on a HELLO text: parse, verify, accept. */
static hello_status server_side(const fixture *f, const char *hello, int64_t now, char **ack,
                                envelope_secrets *s)
{
    hello_request *r = NULL;
    hello_status st = hello_parse(hello, strlen(hello), &r);
    *ack = NULL;
    if (st == HELLO_OK)
        st = hello_verify(r, f->cert, NAME, f->cb, now);
    if (st == HELLO_OK) {
        json_t *counters = parse("{\"unread\":2,\"notifications\":0}");
        st = hello_accept(r, f->srv, "sessionSessionSession1", 10, NOW / 1000 + 1800,
                          "aaa.bbb.ccc", counters, ack, s);
        json_decref(counters);
    }
    hello_request_free(r);
    return st;
}

/* ---- known answers (build/vectors/06/hello.json) ------------------------------- */

static void tbs_and_schedule_match_python(void **state)
{
    json_t *v = load(), *devs = json_object_get(v, "devices"), *d;
    uint8_t cb[32], pub_c[32], nonce_c[32], pub_s[32], nonce_s[32], priv_c[32], th[32], h[32];
    size_t i, nshared, nsig_c, nsig_s, ntbs_h, ntbs_a;
    kex_key *kc = NULL;
    uint8_t *shared = hexfield(v, "shared", &nshared), *ss = NULL;
    size_t nss = 0;

    hexinto(v, "cb", cb, 32);
    hexinto(v, "client_x25519_public", pub_c, 32);
    hexinto(v, "client_nonce", nonce_c, 32);
    hexinto(v, "server_x25519_public", pub_s, 32);
    hexinto(v, "server_nonce", nonce_s, 32);
    hexinto(v, "client_x25519_private", priv_c, 32);
    /* the X25519 secret, recomputed through kex */
    assert_int_equal(kex_from_private(KEX_X25519, priv_c, 32, &kc), KEX_OK);
    assert_int_equal(kex_derive(kc, pub_s, 32, &ss, &nss), KEX_OK);
    assert_int_equal(nss, nshared);
    assert_memory_equal(ss, shared, nss);
    encoding_free_secret(ss, nss);
    kex_free(kc);

    json_array_foreach(devs, i, d) {
        X509 *cert = cert_pem(str(d, "cert_pem"));
        char serial[HELLO_DEVICE_MAX + 1];
        uint8_t *tbs_h = NULL, *tbs_a = NULL, *sig_c = hexfield(d, "sig_c", &nsig_c),
                *sig_s = hexfield(d, "sig_s", &nsig_s);
        envelope_secrets s;

        assert_int_equal(hello_cert_serial(cert, serial), HELLO_OK);
        assert_string_equal(serial, str(d, "serial"));
        assert_int_equal(hello_cert_hash(cert, h), HELLO_OK);
        expect_hex(d, "cert_sha256", h, 32);
        assert_int_equal(hello_tbs_h(cb, h, str(v, "server_name"), pub_c, nonce_c,
                                     json_integer_value(json_object_get(v, "ts")), &tbs_h, &ntbs_h),
                         HELLO_OK);
        expect_hex(d, "tbs_h", tbs_h, ntbs_h);
        assert_int_equal(
            hello_tbs_a(tbs_h, ntbs_h, sig_c, nsig_c, pub_s, nonce_s, str(v, "session"),
                        (unsigned)json_integer_value(json_object_get(v, "rotate_every")),
                        json_integer_value(json_object_get(v, "expires_at")), str(v, "token"),
                        json_object_get(v, "counters"), &tbs_a, &ntbs_a),
            HELLO_OK);
        expect_hex(d, "tbs_a", tbs_a, ntbs_a);
        /* the counters are the last bytes of TBS_A, in name order */
        {
            size_t nc;
            uint8_t *cbytes = hexfield(v, "counters_bytes", &nc);
            assert_true(ntbs_a > nc);
            assert_memory_equal(tbs_a + ntbs_a - nc, cbytes, nc);
            free(cbytes);
        }
        /* both signatures verify with the keys of the vector's certificates */
        {
            X509 *sc = cert_pem(str(v, "server_cert_pem"));
            assert_int_equal(c06_verify(X509_get0_pubkey(cert), tbs_h, ntbs_h, sig_c, nsig_c),
                             HELLO_OK);
            assert_int_equal(c06_verify(X509_get0_pubkey(sc), tbs_a, ntbs_a, sig_s, nsig_s),
                             HELLO_OK);
            X509_free(sc);
        }
        assert_int_equal(hello_transcript_hash(tbs_h, ntbs_h, sig_c, nsig_c, tbs_a, ntbs_a, sig_s,
                                               nsig_s, th),
                         HELLO_OK);
        expect_hex(d, "th", th, 32);
        assert_int_equal(envelope_schedule(shared, nshared, th, &s), ENVELOPE_OK);
        expect_hex(d, "c2s", s.c2s, 32);
        expect_hex(d, "s2c", s.s2c, 32);
        expect_hex(d, "ntf", s.ntf, 32);
        envelope_secrets_wipe(&s);
        free(tbs_h);
        free(tbs_a);
        free(sig_c);
        free(sig_s);
        X509_free(cert);
    }
    free(shared);
    json_decref(v);
}

/* Our client, with the vector's ephemeral key and nonce, makes Python's
 * HELLO (byte for byte for Ed25519, whose signatures are deterministic)
 * and finishes Python's ACK into Python's th and secrets. */
static void client_matches_python(void **state)
{
    json_t *v = load(), *devs = json_object_get(v, "devices"), *d;
    uint8_t cb[32], priv_c[32], nonce_c[32];
    X509 *sc = cert_pem(str(v, "server_cert_pem"));
    size_t i;

    hexinto(v, "cb", cb, 32);
    hexinto(v, "client_x25519_private", priv_c, 32);
    hexinto(v, "client_nonce", nonce_c, 32);
    json_array_foreach(devs, i, d) {
        EVP_PKEY *key = key_pem(str(d, "key_pem"));
        X509 *cert = cert_pem(str(d, "cert_pem"));
        hello_client *c = NULL;
        hello_ack_info info;
        envelope_secrets s;
        char *hello = NULL;
        const char *ack = str(d, "ack");

        assert_int_equal(hello_client_new_det(key, cert, NAME, cb, NOW, priv_c, nonce_c, &c,
                                              &hello),
                         HELLO_OK);
        if (strcmp(str(d, "alg"), "ed25519") == 0) {
            assert_string_equal(hello, str(d, "hello"));
        } else {
            /* ECDSA is randomised: every member but sig is Python's, and
             * our sig verifies over Python's TBS_H */
            json_t *ours = parse(hello), *theirs = parse(str(d, "hello"));
            size_t nsig, ntbs;
            uint8_t *sig = b64_member(ours, "sig", &nsig), *tbs = hexfield(d, "tbs_h", &ntbs);
            assert_int_equal(c06_verify(X509_get0_pubkey(cert), tbs, ntbs, sig, nsig), HELLO_OK);
            json_object_del(ours, "sig");
            json_object_del(theirs, "sig");
            assert_true(json_equal(ours, theirs));
            free(sig);
            free(tbs);
            json_decref(ours);
            json_decref(theirs);
            /* and Python's ACK answers Python's HELLO, not ours: refused */
            assert_int_equal(hello_client_finish(c, X509_get0_pubkey(sc), ack, strlen(ack), &info,
                                                 &s),
                             HELLO_ERR_SIGNATURE);
            hello_client_free(c);
            free(hello);
            EVP_PKEY_free(key);
            X509_free(cert);
            continue;
        }
        assert_int_equal(hello_client_finish(c, X509_get0_pubkey(sc), ack, strlen(ack), &info, &s),
                         HELLO_OK);
        expect_hex(d, "th", info.th, 32);
        expect_hex(d, "c2s", s.c2s, 32);
        expect_hex(d, "s2c", s.s2c, 32);
        expect_hex(d, "ntf", s.ntf, 32);
        assert_string_equal(info.session, str(v, "session"));
        assert_string_equal(info.token, str(v, "token"));
        assert_int_equal(info.rotate_every, 10);
        assert_int_equal(info.expires_at, json_integer_value(json_object_get(v, "expires_at")));
        assert_true(json_equal(info.counters, json_object_get(v, "counters")));
        /* once only: the ephemeral key is gone */
        {
            hello_ack_info again;
            envelope_secrets s2;
            assert_int_equal(hello_client_finish(c, X509_get0_pubkey(sc), ack, strlen(ack), &again,
                                                 &s2),
                             HELLO_ERR_STATE);
        }
        hello_ack_info_free(&info);
        envelope_secrets_wipe(&s);
        hello_client_free(c);
        free(hello);
        EVP_PKEY_free(key);
        X509_free(cert);
    }
    X509_free(sc);
    json_decref(v);
}

/* Our server takes Python's HELLO from both devices and, with the vector's
 * ephemeral key and nonce, answers with every member of Python's ACK; its
 * signature verifies over Python's TBS_A. */
static void server_matches_python(void **state)
{
    json_t *v = load(), *devs = json_object_get(v, "devices"), *d;
    uint8_t cb[32], priv_s[32], nonce_s[32];
    EVP_PKEY *sk = key_pem(str(v, "server_key_pem"));
    size_t i, nshared;
    uint8_t *shared = hexfield(v, "shared", &nshared);

    hexinto(v, "cb", cb, 32);
    hexinto(v, "server_x25519_private", priv_s, 32);
    hexinto(v, "server_nonce", nonce_s, 32);
    json_array_foreach(devs, i, d) {
        X509 *cert = cert_pem(str(d, "cert_pem"));
        const char *hello = str(d, "hello");
        hello_request *r = NULL;
        envelope_secrets s, want;
        char *ack = NULL;
        json_t *ours, *theirs;
        uint8_t *sig, *tbs_a, *tbs_h, *sig_c, th[32];
        size_t nsig, ntbs_a, ntbs_h, nsig_c;

        assert_int_equal(hello_parse(hello, strlen(hello), &r), HELLO_OK);
        assert_string_equal(hello_request_device(r), str(d, "serial"));
        assert_int_equal(hello_request_ts(r), NOW);
        /* accept refuses a request nobody verified */
        assert_int_equal(hello_accept_det(r, sk, str(v, "session"), 10, 1, "t", NULL, priv_s,
                                          nonce_s, &ack, &s),
                         HELLO_ERR_STATE);
        assert_null(ack);
        assert_int_equal(hello_verify(r, cert, NAME, cb, NOW), HELLO_OK);
        assert_int_equal(hello_accept_det(r, sk, str(v, "session"),
                                          (unsigned)json_integer_value(
                                              json_object_get(v, "rotate_every")),
                                          json_integer_value(json_object_get(v, "expires_at")),
                                          str(v, "token"), json_object_get(v, "counters"), priv_s,
                                          nonce_s, &ack, &s),
                         HELLO_OK);
        ours = parse(ack);
        theirs = parse(str(d, "ack"));
        sig = b64_member(ours, "sig", &nsig);
        tbs_a = hexfield(d, "tbs_a", &ntbs_a);
        assert_int_equal(c06_verify(sk, tbs_a, ntbs_a, sig, nsig),
                         HELLO_OK);
        json_object_del(ours, "sig");
        json_object_del(theirs, "sig");
        assert_true(json_equal(ours, theirs));
        /* the secrets are the schedule of Python's TBS_H and TBS_A with our sig_s */
        tbs_h = hexfield(d, "tbs_h", &ntbs_h);
        sig_c = hexfield(d, "sig_c", &nsig_c);
        assert_int_equal(hello_transcript_hash(tbs_h, ntbs_h, sig_c, nsig_c, tbs_a, ntbs_a, sig,
                                               nsig, th),
                         HELLO_OK);
        assert_int_equal(envelope_schedule(shared, nshared, th, &want), ENVELOPE_OK);
        assert_memory_equal(&s, &want, sizeof s);
        envelope_secrets_wipe(&s);
        envelope_secrets_wipe(&want);
        free(sig);
        free(tbs_a);
        free(tbs_h);
        free(sig_c);
        free(ack);
        json_decref(ours);
        json_decref(theirs);
        hello_request_free(r);
        X509_free(cert);
    }
    free(shared);
    EVP_PKEY_free(sk);
    json_decref(v);
}

static void records_match_python(void **state)
{
    json_t *v = load(), *recs = json_object_get(v, "records"), *devs = json_object_get(v, "devices"),
           *rec;
    size_t i;

    json_array_foreach(recs, i, rec) {
        json_t *d = json_array_get(devs, i);
        EVP_PKEY *key = key_pem(str(d, "key_pem"));
        X509 *cert = cert_pem(str(d, "cert_pem"));
        uint8_t msg_id[16], *payload, *tbs = NULL, *sig;
        size_t npayload, ntbs, nsig;
        int64_t created = json_integer_value(json_object_get(rec, "created"));
        const char *pt = str(rec, "pt"), *pem = str(d, "cert_pem");
        char *ours = NULL;
        signed_op o;

        assert_string_equal(str(rec, "alg"), str(d, "alg"));
        hexinto(rec, "msg_id", msg_id, 16);
        payload = hexfield(rec, "payload", &npayload);
        sig = hexfield(rec, "sig", &nsig);
        assert_int_equal(c06_record_tbs(str(rec, "aud"), cert, str(rec, "op"), msg_id, created,
                                        payload, npayload, &tbs, &ntbs),
                         HELLO_OK);
        expect_hex(rec, "tbs_r", tbs, ntbs);
        /* Python's plaintext parses into Python's fields and verifies */
        assert_int_equal(signed_op_parse((const uint8_t *)pt, strlen(pt), &o), HELLO_OK);
        assert_string_equal(o.op, str(rec, "op"));
        assert_memory_equal(o.msg_id, msg_id, 16);
        assert_int_equal(o.created_ms, created);
        assert_int_equal(o.payload_len, npayload);
        assert_memory_equal(o.payload, payload, npayload);
        assert_int_equal(o.sig_len, nsig);
        assert_memory_equal(o.sig, sig, nsig);
        assert_int_equal(signed_op_verify(&o, cert, str(rec, "aud")), HELLO_OK);
        signed_op_clear(&o);
        /* the audit, from the stored fields and the certificate's PEM */
        assert_int_equal(signed_op_verify_stored(pem, strlen(pem), str(rec, "aud"), str(rec, "op"),
                                                 msg_id, created, payload, npayload, sig, nsig),
                         HELLO_OK);
        /* our plaintext: Python's exactly for Ed25519; for P-256 it verifies */
        assert_int_equal(signed_op_make(key, cert, str(rec, "aud"), str(rec, "op"), msg_id,
                                        created, payload, npayload, &ours),
                         HELLO_OK);
        if (strcmp(str(rec, "alg"), "ed25519") == 0)
            assert_string_equal(ours, pt);
        assert_int_equal(signed_op_parse((const uint8_t *)ours, strlen(ours), &o), HELLO_OK);
        assert_int_equal(c06_verify(X509_get0_pubkey(cert), tbs, ntbs, o.sig, o.sig_len),
                         HELLO_OK);
        signed_op_clear(&o);
        free(ours);
        free(tbs);
        free(payload);
        free(sig);
        EVP_PKEY_free(key);
        X509_free(cert);
    }
    json_decref(v);
}

/* ---- round trips -------------------------------------------------------------------- */

static void round_trip(const char *kind)
{
    fixture f;
    hello_client *c = NULL;
    char *hello = NULL, *ack = NULL;
    envelope_secrets cs, ss;
    hello_ack_info info;
    envelope_dir *tx = NULL, *rx = NULL;
    uint8_t *ct = NULL, *pt = NULL;
    size_t nct = 0, npt = 0;

    fixture_new(&f, kind, "7a01beef");
    assert_int_equal(hello_client_new(f.dev, f.cert, NAME, f.cb, NOW, &c, &hello), HELLO_OK);
    assert_int_equal(server_side(&f, hello, NOW + 1500, &ack, &ss), HELLO_OK);
    assert_int_equal(hello_client_finish(c, f.srv, ack, strlen(ack), &info, &cs), HELLO_OK);
    assert_memory_equal(&cs, &ss, sizeof cs);
    assert_memory_not_equal(cs.c2s, cs.s2c, 32);
    assert_string_equal(info.session, "sessionSessionSession1");
    assert_int_equal(info.rotate_every, 10);
    assert_int_equal(info.expires_at, NOW / 1000 + 1800);
    assert_string_equal(info.token, "aaa.bbb.ccc");
    assert_int_equal(json_integer_value(json_object_get(info.counters, "unread")), 2);
    /* and the secrets open each other's envelopes */
    assert_int_equal(envelope_dir_new(ENVELOPE_C2S, cs.c2s, info.rotate_every, info.session, &tx),
                     ENVELOPE_OK);
    assert_int_equal(envelope_dir_new(ENVELOPE_C2S, ss.c2s, 10, info.session, &rx), ENVELOPE_OK);
    assert_int_equal(envelope_seal(tx, ENVELOPE_DATA_REQUEST, 2, (const uint8_t *)"{}", 2, &ct,
                                   &nct),
                     ENVELOPE_OK);
    assert_int_equal(envelope_open(rx, ENVELOPE_DATA_REQUEST, 2, ct, nct, &pt, &npt), ENVELOPE_OK);
    assert_memory_equal(pt, "{}", 2);
    encoding_free_secret(pt, npt);
    free(ct);
    envelope_dir_free(tx);
    envelope_dir_free(rx);
    envelope_secrets_wipe(&cs);
    envelope_secrets_wipe(&ss);
    hello_ack_info_free(&info);
    hello_client_free(c);
    free(hello);
    free(ack);
    fixture_free(&f);
}

static void round_trip_ed25519(void **state) { round_trip("ed25519"); }
static void round_trip_p256(void **state) { round_trip("p256"); }

/* ---- the server's refusals ---------------------------------------------------------------- */

static char *make_hello(const fixture *f, int64_t ts, hello_client **c)
{
    char *hello = NULL;
    assert_int_equal(hello_client_new(f->dev, f->cert, NAME, f->cb, ts, c, &hello), HELLO_OK);
    return hello;
}

/* parse and verify only, as the server does before it answers */
static hello_status verify_text(const char *hello, X509 *cert, const char *name,
                                const uint8_t cb[32], int64_t now)
{
    hello_request *r = NULL;
    hello_status st = hello_parse(hello, strlen(hello), &r);
    if (st == HELLO_OK)
        st = hello_verify(r, cert, name, cb, now);
    hello_request_free(r);
    return st;
}

static void hello_relayed_from_another_connection(void **state)
{
    fixture f;
    hello_client *c = NULL;
    uint8_t other[32];
    char *hello;

    fixture_new(&f, "ed25519", "11");
    hello = make_hello(&f, NOW, &c);
    assert_int_equal(verify_text(hello, f.cert, NAME, f.cb, NOW), HELLO_OK);
    memcpy(other, f.cb, 32);
    other[31] ^= 1;
    assert_int_equal(verify_text(hello, f.cert, NAME, other, NOW), HELLO_ERR_SIGNATURE);
    /* and for another server's name */
    assert_int_equal(verify_text(hello, f.cert, "127.0.0.1", f.cb, NOW), HELLO_ERR_SIGNATURE);
    hello_client_free(c);
    free(hello);
    fixture_free(&f);
}

static void hello_time_window(void **state)
{
    fixture f;
    hello_client *c = NULL;
    char *hello;

    fixture_new(&f, "p256", "12");
    hello = make_hello(&f, NOW, &c);
    /* the edges are inside, one millisecond more on either side is not */
    assert_int_equal(verify_text(hello, f.cert, NAME, f.cb, NOW + HELLO_TS_WINDOW_MS), HELLO_OK);
    assert_int_equal(verify_text(hello, f.cert, NAME, f.cb, NOW - HELLO_TS_WINDOW_MS), HELLO_OK);
    /* a stale HELLO (the server's clock is ahead) */
    assert_int_equal(verify_text(hello, f.cert, NAME, f.cb, NOW + HELLO_TS_WINDOW_MS + 1),
                     HELLO_ERR_TIME);
    /* a HELLO from the future (the server's clock is behind) */
    assert_int_equal(verify_text(hello, f.cert, NAME, f.cb, NOW - HELLO_TS_WINDOW_MS - 1),
                     HELLO_ERR_TIME);
    hello_client_free(c);
    free(hello);
    fixture_free(&f);
}

/* The TLS client certificate carries the HELLO's serial, but another key:
 * the HELLO was signed by someone else. */
static void hello_signed_by_another_key(void **state)
{
    fixture f;
    hello_client *c = NULL;
    EVP_PKEY *other = gen("ed25519");
    X509 *same_serial = self_cert(other, "13");
    char *hello;

    fixture_new(&f, "ed25519", "13");
    hello = make_hello(&f, NOW, &c);
    assert_int_equal(verify_text(hello, same_serial, NAME, f.cb, NOW), HELLO_ERR_SIGNATURE);
    /* and a client cannot sign with a key that is not its certificate's */
    {
        hello_client *c2 = NULL;
        char *h2 = NULL;
        assert_int_equal(hello_client_new(other, f.cert, NAME, f.cb, NOW, &c2, &h2),
                         HELLO_ERR_KEY_MISMATCH);
        assert_null(c2);
        assert_null(h2);
    }
    hello_client_free(c);
    free(hello);
    X509_free(same_serial);
    EVP_PKEY_free(other);
    fixture_free(&f);
}

static void hello_device_not_the_certificate(void **state)
{
    fixture f;
    hello_client *c = NULL;
    X509 *other = NULL;
    char *hello;

    fixture_new(&f, "ed25519", "14");
    other = self_cert(f.dev, "15"); /* the same key, another serial */
    hello = make_hello(&f, NOW, &c);
    assert_int_equal(verify_text(hello, other, NAME, f.cb, NOW), HELLO_ERR_NOT_CERT);
    hello_client_free(c);
    free(hello);
    X509_free(other);
    fixture_free(&f);
}

/* A HELLO member replaced: by `value` (JSON text), or deleted when NULL */
static char *with_member(const char *text, const char *obj, const char *name, const char *value)
{
    json_t *o = parse(text), *target = obj ? json_object_get(o, obj) : o;
    char *s;
    assert_non_null(target);
    if (value) {
        json_error_t e;
        json_t *val = json_loads(value, JSON_DECODE_ANY, &e);
        if (!val)
            fail_msg("test value: %s", value);
        json_object_set_new(target, name, val);
    } else {
        json_object_del(target, name);
    }
    s = dumps(o);
    json_decref(o);
    return s;
}

/* b64url of n bytes of v as a JSON string */
static char *b64_json(uint8_t v, size_t n)
{
    uint8_t b[128];
    char *e, *s;
    memset(b, v, n);
    e = b64url_encode(b, n, B64_NO_PAD);
    s = malloc(strlen(e) + 3);
    sprintf(s, "\"%s\"", e);
    free(e);
    return s;
}

/* the same member with one bit of its decoded bytes flipped */
static char *flipped(const char *text, const char *obj, const char *name)
{
    json_t *o = parse(text), *target = obj ? json_object_get(o, obj) : o;
    size_t n;
    uint8_t *b = b64_member(target, name, &n);
    char *e, *val, *s;
    b[n / 2] ^= 0x01;
    e = b64url_encode(b, n, B64_NO_PAD);
    val = malloc(strlen(e) + 3);
    sprintf(val, "\"%s\"", e);
    s = with_member(text, obj, name, val);
    free(b);
    free(e);
    free(val);
    json_decref(o);
    return s;
}

static void hello_each_signed_field_tampered(void **state)
{
    fixture f;
    hello_client *c = NULL;
    char *hello, *t, ts[32];

    fixture_new(&f, "p256", "16");
    hello = make_hello(&f, NOW, &c);
    t = flipped(hello, "kex", "pub");
    assert_int_equal(verify_text(t, f.cert, NAME, f.cb, NOW), HELLO_ERR_SIGNATURE);
    free(t);
    t = flipped(hello, NULL, "nonce");
    assert_int_equal(verify_text(t, f.cert, NAME, f.cb, NOW), HELLO_ERR_SIGNATURE);
    free(t);
    t = flipped(hello, NULL, "sig");
    assert_int_equal(verify_text(t, f.cert, NAME, f.cb, NOW), HELLO_ERR_SIGNATURE);
    free(t);
    snprintf(ts, sizeof ts, "%lld", (long long)NOW + 1);
    t = with_member(hello, NULL, "ts", ts);
    assert_int_equal(verify_text(t, f.cert, NAME, f.cb, NOW), HELLO_ERR_SIGNATURE);
    free(t);
    t = with_member(hello, NULL, "device", "\"17\"");
    assert_int_equal(verify_text(t, f.cert, NAME, f.cb, NOW), HELLO_ERR_NOT_CERT);
    free(t);
    /* unchanged, it still verifies */
    assert_int_equal(verify_text(hello, f.cert, NAME, f.cb, NOW), HELLO_OK);
    hello_client_free(c);
    free(hello);
    fixture_free(&f);
}

/* Rebuild a HELLO's TBS_H from its members, as a test that signs by hand needs. */
static uint8_t *tbs_h_of(const fixture *f, const char *hello, size_t *n, uint8_t **sig,
                         size_t *nsig)
{
    json_t *o = parse(hello);
    uint8_t h[32], *pub, *nonce, *tbs = NULL;
    size_t np, nn;
    assert_int_equal(hello_cert_hash(f->cert, h), HELLO_OK);
    pub = b64_member(json_object_get(o, "kex"), "pub", &np);
    nonce = b64_member(o, "nonce", &nn);
    *sig = b64_member(o, "sig", nsig);
    assert_int_equal(hello_tbs_h(f->cb, h, NAME, pub, nonce,
                                 json_integer_value(json_object_get(o, "ts")), &tbs, n),
                     HELLO_OK);
    free(pub);
    free(nonce);
    json_decref(o);
    return tbs;
}

/* An ACK made by hand: signed by `key` over TBS_A for this HELLO. */
static char *make_ack(const fixture *f, const char *hello, EVP_PKEY *key, const uint8_t pub[32])
{
    uint8_t nonce[32], *tbs_h, *sig_c, *tbs_a = NULL, *sig = NULL;
    size_t ntbs_h, nsig_c, ntbs_a, nsig;
    json_t *counters = parse("{\"unread\":1}");
    char *pub_b64, *nonce_b64, *sig_b64, *text;
    json_t *o;

    memset(nonce, 0x42, sizeof nonce);
    tbs_h = tbs_h_of(f, hello, &ntbs_h, &sig_c, &nsig_c);
    assert_int_equal(hello_tbs_a(tbs_h, ntbs_h, sig_c, nsig_c, pub, nonce, "abc", 10, 1800000000,
                                 "t.t.t", counters, &tbs_a, &ntbs_a),
                     HELLO_OK);
    assert_int_equal(c06_sign(key, tbs_a, ntbs_a, &sig, &nsig), HELLO_OK);
    pub_b64 = b64url_encode(pub, 32, B64_NO_PAD);
    nonce_b64 = b64url_encode(nonce, 32, B64_NO_PAD);
    sig_b64 = b64url_encode(sig, nsig, B64_NO_PAD);
    o = json_pack("{s:s,s:i,s:i,s:s,s:{s:s,s:s},s:s,s:i,s:I,s:s,s:O,s:s}", "type", "HELLO_ACK", "v",
                  1, "seq", 1, "session", "abc", "kex", "group", "x25519", "pub", pub_b64, "nonce",
                  nonce_b64, "rotate_every", 10, "expires_at", (json_int_t)1800000000, "token",
                  "t.t.t", "counters", counters, "sig", sig_b64);
    assert_non_null(o);
    text = dumps(o);
    json_decref(o);
    json_decref(counters);
    free(pub_b64);
    free(nonce_b64);
    free(sig_b64);
    free(tbs_h);
    free(sig_c);
    free(tbs_a);
    free(sig);
    return text;
}

/* a valid X25519 public value (the vector's server public) */
static void some_pub(uint8_t pub[32])
{
    json_t *v = load();
    hexinto(v, "server_x25519_public", pub, 32);
    json_decref(v);
}

/* A fresh client and a genuine ACK for it. */
static void fresh(fixture *f, hello_client **c, char **ack)
{
    char *hello = make_hello(f, NOW, c);
    envelope_secrets s;
    assert_int_equal(server_side(f, hello, NOW, ack, &s), HELLO_OK);
    envelope_secrets_wipe(&s);
    free(hello);
}

static hello_status finish_text(hello_client *c, EVP_PKEY *pub, const char *ack)
{
    hello_ack_info info;
    envelope_secrets s;
    hello_status st = hello_client_finish(c, pub, ack, strlen(ack), &info, &s);
    if (st == HELLO_OK) {
        hello_ack_info_free(&info);
        envelope_secrets_wipe(&s);
    } else {
        /* a refused ACK leaves nothing behind */
        uint8_t zero[sizeof s];
        memset(zero, 0, sizeof zero);
        assert_memory_equal(&s, zero, sizeof s);
        assert_null(info.token);
        assert_null(info.counters);
    }
    return st;
}

/* every member of the ACK: changed, refused */
static void ack_each_signed_field_tampered(void **state)
{
    static const struct {
        const char *obj, *name, *value; /* value NULL: flip a bit of the b64 member */
    } cases[] = {
        {NULL, "session", "\"sessionSessionSession2\""},
        {"kex", "pub", NULL},
        {NULL, "nonce", NULL},
        {NULL, "rotate_every", "11"},
        {NULL, "expires_at", "1767227401"},
        {NULL, "token", "\"aaa.bbb.ccd\""},
        {NULL, "counters", "{\"unread\":3,\"notifications\":0}"},
        {NULL, "counters", "{\"unread\":2,\"notifications\":0,\"more\":0}"},
        {NULL, "counters", "{\"unread\":2}"},
        {NULL, "sig", NULL},
    };
    fixture f;

    fixture_new(&f, "ed25519", "18");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        hello_client *c = NULL;
        char *ack = NULL, *t;
        fresh(&f, &c, &ack);
        t = cases[i].value ? with_member(ack, cases[i].obj, cases[i].name, cases[i].value)
                           : flipped(ack, cases[i].obj, cases[i].name);
        if (finish_text(c, f.srv, t) != HELLO_ERR_SIGNATURE)
            fail_msg("case %zu (%s) was not refused as a bad signature", i, cases[i].name);
        free(t);
        free(ack);
        hello_client_free(c);
    }
    /* the same counters in another order: one byte form, still valid */
    {
        hello_client *c = NULL;
        char *ack = NULL, *t;
        fresh(&f, &c, &ack);
        t = with_member(ack, NULL, "counters", "{\"notifications\":0,\"unread\":2}");
        assert_int_equal(finish_text(c, f.srv, t), HELLO_OK);
        free(t);
        free(ack);
        hello_client_free(c);
    }
    fixture_free(&f);
}

static void ack_by_another_key_or_for_another_hello(void **state)
{
    fixture f;
    EVP_PKEY *other = gen("p256");
    hello_client *c = NULL, *c2 = NULL;
    char *hello, *ack, *ack1 = NULL;
    uint8_t pub[32];

    fixture_new(&f, "p256", "19");
    some_pub(pub);
    /* an ACK signed by a key that is not the server certificate's */
    hello = make_hello(&f, NOW, &c);
    ack = make_ack(&f, hello, other, pub);
    assert_int_equal(finish_text(c, f.srv, ack), HELLO_ERR_SIGNATURE);
    hello_client_free(c);
    free(ack);
    /* the control: the same hand-made ACK by the right key is accepted */
    c = NULL;
    free(hello);
    hello = make_hello(&f, NOW, &c);
    ack = make_ack(&f, hello, f.srv, pub);
    assert_int_equal(finish_text(c, f.srv, ack), HELLO_OK);
    hello_client_free(c);
    free(ack);
    free(hello);
    /* a genuine ACK, but for another HELLO of the same device */
    fresh(&f, &c, &ack1);
    hello = make_hello(&f, NOW, &c2);
    assert_int_equal(finish_text(c2, f.srv, ack1), HELLO_ERR_SIGNATURE);
    hello_client_free(c);
    hello_client_free(c2);
    free(hello);
    free(ack1);
    EVP_PKEY_free(other);
    fixture_free(&f);
}

/* A HELLO made by hand with the given X25519 value, correctly signed. */
static char *hello_with_pub(const fixture *f, const uint8_t pub[32])
{
    uint8_t nonce[32], h[32], *tbs = NULL, *sig = NULL;
    size_t ntbs, nsig;
    char serial[HELLO_DEVICE_MAX + 1], *pb, *nb, *sb, *text;
    json_t *o;

    memset(nonce, 7, sizeof nonce);
    assert_int_equal(hello_cert_serial(f->cert, serial), HELLO_OK);
    assert_int_equal(hello_cert_hash(f->cert, h), HELLO_OK);
    assert_int_equal(hello_tbs_h(f->cb, h, NAME, pub, nonce, NOW, &tbs, &ntbs), HELLO_OK);
    assert_int_equal(c06_sign(f->dev, tbs, ntbs, &sig, &nsig), HELLO_OK);
    pb = b64url_encode(pub, 32, B64_NO_PAD);
    nb = b64url_encode(nonce, 32, B64_NO_PAD);
    sb = b64url_encode(sig, nsig, B64_NO_PAD);
    o = json_pack("{s:s,s:i,s:i,s:s,s:{s:s,s:s},s:s,s:I,s:s}", "type", "HELLO", "v", 1, "seq", 1,
                  "device", serial, "kex", "group", "x25519", "pub", pb, "nonce", nb, "ts",
                  (json_int_t)NOW, "sig", sb);
    text = dumps(o);
    json_decref(o);
    free(pb);
    free(nb);
    free(sb);
    free(tbs);
    free(sig);
    return text;
}

static void low_order_points_refused(void **state)
{
    /* 0 and 1 are points of small order on Curve25519 (RFC 7748 section 6.1):
     * with either, the shared secret is all zeros whatever our key */
    uint8_t points[2][32] = {{0}, {1}};
    fixture f;

    fixture_new(&f, "ed25519", "20");
    for (size_t i = 0; i < 2; i++) {
        char *hello = hello_with_pub(&f, points[i]), *ack = NULL;
        hello_client *c = NULL;
        envelope_secrets s;
        /* server: the HELLO is genuine, the point is refused */
        assert_int_equal(server_side(&f, hello, NOW, &ack, &s), HELLO_ERR_KEX);
        assert_null(ack);
        free(hello);
        /* client: a correctly signed ACK with a low-order point */
        hello = make_hello(&f, NOW, &c);
        ack = make_ack(&f, hello, f.srv, points[i]);
        assert_int_equal(finish_text(c, f.srv, ack), HELLO_ERR_KEX);
        hello_client_free(c);
        free(hello);
        free(ack);
    }
    fixture_free(&f);
}

/* ---- strict parsing ------------------------------------------------------------------------- */

typedef struct mutation {
    const char *obj, *name, *value; /* value NULL: delete */
    hello_status want;
} mutation;

static void hello_parse_table(void **state)
{
    static const mutation m[] = {
        {NULL, "type", NULL, HELLO_ERR_MISSING},
        {NULL, "v", NULL, HELLO_ERR_MISSING},
        {NULL, "seq", NULL, HELLO_ERR_MISSING},
        {NULL, "device", NULL, HELLO_ERR_MISSING},
        {NULL, "kex", NULL, HELLO_ERR_MISSING},
        {NULL, "nonce", NULL, HELLO_ERR_MISSING},
        {NULL, "ts", NULL, HELLO_ERR_MISSING},
        {NULL, "sig", NULL, HELLO_ERR_MISSING},
        {"kex", "pub", NULL, HELLO_ERR_MISSING},
        {"kex", "group", NULL, HELLO_ERR_MISSING},
        {NULL, "cb", "\"AAAA\"", HELLO_ERR_EXTRA},
        {"kex", "priv", "\"AAAA\"", HELLO_ERR_EXTRA},
        {NULL, "type", "\"HELLO_ACK\"", HELLO_ERR_MSG_TYPE},
        {NULL, "type", "1", HELLO_ERR_MEMBER_TYPE},
        {NULL, "v", "2", HELLO_ERR_VERSION},
        {NULL, "v", "0", HELLO_ERR_VERSION},
        {NULL, "v", "\"1\"", HELLO_ERR_MEMBER_TYPE},
        {NULL, "v", "1.0", HELLO_ERR_MEMBER_TYPE},
        {NULL, "seq", "2", HELLO_ERR_SEQ},
        {NULL, "seq", "true", HELLO_ERR_MEMBER_TYPE},
        {"kex", "group", "\"p256\"", HELLO_ERR_GROUP},
        {"kex", "group", "\"X25519\"", HELLO_ERR_GROUP},
        {NULL, "kex", "\"x25519\"", HELLO_ERR_MEMBER_TYPE},
        {"kex", "pub", "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"", HELLO_ERR_LENGTH}, /* 31 */
        {"kex", "pub", "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"", HELLO_ERR_LENGTH}, /* 33+ */
        {"kex", "pub", "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\"", HELLO_ERR_BASE64},
        {"kex", "pub", "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA+\"", HELLO_ERR_BASE64},
        {"kex", "pub", "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB\"", HELLO_ERR_BASE64},
        {NULL, "nonce", "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"", HELLO_ERR_LENGTH},
        {NULL, "nonce", "\"not base64!\"", HELLO_ERR_BASE64},
        {NULL, "sig", "\"\"", HELLO_ERR_LENGTH},
        {NULL, "sig", "\"@@@@\"", HELLO_ERR_BASE64},
        {NULL, "device", "\"ABCDEF\"", HELLO_ERR_DEVICE},
        {NULL, "device", "\"\"", HELLO_ERR_DEVICE},
        {NULL, "device", "\"0x12\"", HELLO_ERR_DEVICE},
        {NULL, "device", "\"12345678901234567890123456789012345678901\"", HELLO_ERR_DEVICE},
        {NULL, "device", "18", HELLO_ERR_MEMBER_TYPE},
        {NULL, "ts", "-1", HELLO_ERR_TIME},
        {NULL, "ts", "9007199254740992", HELLO_ERR_TIME},
        {NULL, "ts", "\"1767225600123\"", HELLO_ERR_MEMBER_TYPE},
        {NULL, "ts", "1767225600123.0", HELLO_ERR_MEMBER_TYPE},
    };
    json_t *v = load();
    const char *good = str(json_array_get(json_object_get(v, "devices"), 0), "hello");
    hello_request *r = NULL;
    char *t, big[HELLO_JSON_MAX + 2];

    assert_int_equal(hello_parse(good, strlen(good), &r), HELLO_OK);
    hello_request_free(r);
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++) {
        hello_status st;
        t = with_member(good, m[i].obj, m[i].name, m[i].value);
        r = NULL;
        st = hello_parse(t, strlen(t), &r);
        if (st != m[i].want)
            fail_msg("case %zu (%s = %s): got \"%s\", want \"%s\"", i, m[i].name,
                     m[i].value ? m[i].value : "deleted", hello_status_str(st),
                     hello_status_str(m[i].want));
        assert_null(r);
        free(t);
    }
    /* a signature longer than any P-256 DER one */
    t = b64_json(0x30, HELLO_SIG_MAX + 1);
    {
        char *h = with_member(good, NULL, "sig", t);
        assert_int_equal(hello_parse(h, strlen(h), &r), HELLO_ERR_LENGTH);
        free(h);
    }
    free(t);
    /* duplicates, text and size */
    {
        char dup[2048];
        snprintf(dup, sizeof dup, "{\"v\":1,%s", good + 1);
        assert_int_equal(hello_parse(dup, strlen(dup), &r), HELLO_ERR_DUPLICATE);
        assert_int_equal(hello_parse("not json", 8, &r), HELLO_ERR_JSON);
        /* a NUL inside a string: json_parse refuses it (jansson without
         * JSON_ALLOW_NUL), so strlen and the JSON can never disagree */
        {
            char *base = with_member(good, NULL, "device", "\"12NUL34\""), *at, nul[2048];
            at = strstr(base, "NUL");
            assert_non_null(at);
            snprintf(nul, sizeof nul, "%.*s\\u0000%s", (int)(at - base), base, at + 3);
            assert_non_null(strstr(nul, "\"12\\u000034\""));
            assert_int_equal(hello_parse(nul, strlen(nul), &r), HELLO_ERR_JSON);
            free(base);
        }
        assert_int_equal(hello_parse("[1]", 3, &r), HELLO_ERR_JSON);
        assert_int_equal(hello_parse(good, strlen(good) - 1, &r), HELLO_ERR_JSON);
        assert_int_equal(hello_parse("{\"a\":{\"b\":{\"c\":{\"d\":{}}}}}", 27, &r), HELLO_ERR_JSON);
    }
    memset(big, ' ', sizeof big);
    memcpy(big, good, strlen(good));
    assert_int_equal(hello_parse(big, HELLO_JSON_MAX, &r), HELLO_OK); /* trailing spaces */
    hello_request_free(r);
    assert_int_equal(hello_parse(big, HELLO_JSON_MAX + 1, &r), HELLO_ERR_TOO_LONG);
    assert_null(r);
    json_decref(v);
}

static void ack_parse_table(void **state)
{
    static const mutation m[] = {
        {NULL, "counters", NULL, HELLO_ERR_MISSING},
        {NULL, "token", NULL, HELLO_ERR_MISSING},
        {NULL, "session", NULL, HELLO_ERR_MISSING},
        {NULL, "key", "\"AAAA\"", HELLO_ERR_EXTRA},
        {"kex", "iv", "\"AAAA\"", HELLO_ERR_EXTRA},
        {NULL, "type", "\"HELLO\"", HELLO_ERR_MSG_TYPE},
        {NULL, "v", "2", HELLO_ERR_VERSION},
        {NULL, "seq", "2", HELLO_ERR_SEQ},
        {"kex", "group", "\"x448\"", HELLO_ERR_GROUP},
        {NULL, "nonce", "\"AAAA\"", HELLO_ERR_LENGTH},
        {"kex", "pub", "\"A\"", HELLO_ERR_BASE64},
        {NULL, "sig", "\"AA==\"", HELLO_ERR_BASE64},
        {NULL, "session", "\"has space\"", HELLO_ERR_SESSION},
        {NULL, "session", "\"\"", HELLO_ERR_SESSION},
        {NULL, "session",
         "\"12345678901234567890123456789012345678901234567890123456789012345\"",
         HELLO_ERR_SESSION},
        {NULL, "session", "7", HELLO_ERR_MEMBER_TYPE},
        {NULL, "rotate_every", "0", HELLO_ERR_ROTATE},
        {NULL, "rotate_every", "65536", HELLO_ERR_ROTATE},
        {NULL, "rotate_every", "-1", HELLO_ERR_ROTATE},
        {NULL, "rotate_every", "\"10\"", HELLO_ERR_MEMBER_TYPE},
        /* 2^32 + 10: as an unsigned it would be the signed 10, and verify */
        {NULL, "rotate_every", "4294967306", HELLO_ERR_ROTATE},
        {NULL, "expires_at", "0", HELLO_ERR_EXPIRES},
        {NULL, "expires_at", "1.5", HELLO_ERR_MEMBER_TYPE},
        {NULL, "token", "\"a b\"", HELLO_ERR_TOKEN},
        {NULL, "token", "\"\"", HELLO_ERR_TOKEN},
        {NULL, "counters", "[]", HELLO_ERR_MEMBER_TYPE},
        {NULL, "counters", "{\"Unread\":1}", HELLO_ERR_COUNTERS},
        {NULL, "counters", "{\"unread\":-1}", HELLO_ERR_COUNTERS},
        {NULL, "counters", "{\"unread\":\"1\"}", HELLO_ERR_COUNTERS},
        {NULL, "counters", "{\"unread\":1.0}", HELLO_ERR_COUNTERS},
        {NULL, "counters", "{\"unread\":9007199254740992}", HELLO_ERR_COUNTERS},
        {NULL, "counters", "{\"a\":1,\"b\":1,\"c\":1,\"d\":1,\"e\":1,\"f\":1,\"g\":1,\"h\":1,\"i\":1}",
         HELLO_ERR_COUNTERS},
        {NULL, "counters", "{\"a_very_long_counter_name_over_32\":1}", HELLO_ERR_COUNTERS},
    };
    fixture f;

    fixture_new(&f, "ed25519", "21");
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++) {
        hello_client *c = NULL;
        char *ack = NULL, *t;
        hello_status st;
        fresh(&f, &c, &ack);
        t = with_member(ack, m[i].obj, m[i].name, m[i].value);
        st = finish_text(c, f.srv, t);
        if (st != m[i].want)
            fail_msg("case %zu (%s = %s): got \"%s\", want \"%s\"", i, m[i].name,
                     m[i].value ? m[i].value : "deleted", hello_status_str(st),
                     hello_status_str(m[i].want));
        free(t);
        free(ack);
        hello_client_free(c);
    }
    /* a duplicate member, and garbage */
    {
        hello_client *c = NULL;
        char *ack = NULL, dup[4096];
        fresh(&f, &c, &ack);
        snprintf(dup, sizeof dup, "{\"seq\":1,%s", ack + 1);
        assert_int_equal(finish_text(c, f.srv, dup), HELLO_ERR_DUPLICATE);
        free(ack);
        hello_client_free(c);
        c = NULL;
        fresh(&f, &c, &ack);
        assert_int_equal(finish_text(c, f.srv, "{"), HELLO_ERR_JSON);
        free(ack);
        hello_client_free(c);
    }
    fixture_free(&f);
}

/* ---- key types ---------------------------------------------------------------------------------- */

static void rsa_and_p384_refused(void **state)
{
    const char *kinds[] = {"rsa", "p384"};
    uint8_t tbs[8] = "tbs tbs", cb[32] = {0};
    fixture f;

    fixture_new(&f, "ed25519", "22");
    for (size_t i = 0; i < 2; i++) {
        EVP_PKEY *k = gen(kinds[i]);
        X509 *cert = self_cert(k, "22"); /* the serial of f's HELLO */
        uint8_t *sig = NULL, msg_id[16] = {0};
        size_t nsig = 0;
        hello_client *c = NULL;
        char *hello = NULL, *ack = NULL, *pt = NULL;
        envelope_secrets s;
        hello_request *r = NULL;

        assert_int_equal(c06_sign(k, tbs, sizeof tbs, &sig, &nsig), HELLO_ERR_KEY_TYPE);
        assert_null(sig);
        assert_int_equal(c06_verify(k, tbs, sizeof tbs, tbs, sizeof tbs), HELLO_ERR_KEY_TYPE);
        assert_int_equal(c06_key_allowed(k), HELLO_ERR_KEY_TYPE);
        /* a device with such a key cannot say HELLO */
        assert_int_equal(hello_client_new(k, cert, NAME, cb, NOW, &c, &hello), HELLO_ERR_KEY_TYPE);
        assert_null(c);
        /* nor can a TLS client certificate with such a key pass for the signer */
        hello = make_hello(&f, NOW, &c);
        assert_int_equal(verify_text(hello, cert, NAME, f.cb, NOW), HELLO_ERR_KEY_TYPE);
        /* a server key must be P-256; the client wants a P-256 server key */
        assert_int_equal(hello_parse(hello, strlen(hello), &r), HELLO_OK);
        assert_int_equal(hello_verify(r, f.cert, NAME, f.cb, NOW), HELLO_OK);
        assert_int_equal(hello_accept(r, k, "s", 10, 1, "t", NULL, &ack, &s), HELLO_ERR_KEY_TYPE);
        assert_int_equal(hello_accept(r, f.dev, "s", 10, 1, "t", NULL, &ack, &s),
                         HELLO_ERR_KEY_TYPE); /* Ed25519 is a device key, not the server's */
        assert_null(ack);
        assert_int_equal(finish_text(c, k, "{}"), HELLO_ERR_KEY_TYPE);
        /* and no record is signed with it */
        assert_int_equal(signed_op_make(k, cert, NAME, "poll", msg_id, NOW, NULL, 0, &pt),
                         HELLO_ERR_KEY_TYPE);
        assert_null(pt);
        hello_request_free(r);
        hello_client_free(c);
        free(hello);
        X509_free(cert);
        EVP_PKEY_free(k);
    }
    fixture_free(&f);
}

/* ---- records ----------------------------------------------------------------------------------- */

static void signed_op_round_trip_and_tampering(void **state)
{
    const char *kinds[] = {"ed25519", "p256"};
    const uint8_t payload[] = "{\"FirstName\":\"Ada\",\"Age\":36}";
    uint8_t msg_id[16];

    assert_int_equal(RAND_bytes(msg_id, sizeof msg_id), 1);
    for (size_t i = 0; i < 2; i++) {
        EVP_PKEY *k = gen(kinds[i]), *k2 = gen(kinds[i]);
        X509 *cert = self_cert(k, "30"), *same_key_other_cert = self_cert(k, "31"),
             *other = self_cert(k2, "30");
        char *pt = NULL;
        signed_op o;

        assert_int_equal(signed_op_make(k, cert, NAME, "store_record", msg_id, NOW, payload,
                                        sizeof payload - 1, &pt),
                         HELLO_OK);
        assert_int_equal(signed_op_parse((const uint8_t *)pt, strlen(pt), &o), HELLO_OK);
        assert_int_equal(signed_op_verify(&o, cert, NAME), HELLO_OK);
        /* whom it was for, and who signed it */
        assert_int_equal(signed_op_verify(&o, cert, "other.example"), HELLO_ERR_SIGNATURE);
        assert_int_equal(signed_op_verify(&o, other, NAME), HELLO_ERR_SIGNATURE);
        assert_int_equal(signed_op_verify(&o, same_key_other_cert, NAME), HELLO_ERR_SIGNATURE);
        /* each signed field */
        o.op[0] = 'r';
        assert_int_equal(signed_op_verify(&o, cert, NAME), HELLO_ERR_SIGNATURE);
        o.op[0] = 's';
        o.msg_id[15] ^= 1;
        assert_int_equal(signed_op_verify(&o, cert, NAME), HELLO_ERR_SIGNATURE);
        o.msg_id[15] ^= 1;
        o.created_ms++;
        assert_int_equal(signed_op_verify(&o, cert, NAME), HELLO_ERR_SIGNATURE);
        o.created_ms--;
        o.payload[3] ^= 1;
        assert_int_equal(signed_op_verify(&o, cert, NAME), HELLO_ERR_SIGNATURE);
        o.payload[3] ^= 1;
        o.payload_len--;
        assert_int_equal(signed_op_verify(&o, cert, NAME), HELLO_ERR_SIGNATURE);
        o.payload_len++;
        o.sig[o.sig_len / 2] ^= 1;
        assert_int_equal(signed_op_verify(&o, cert, NAME), HELLO_ERR_SIGNATURE);
        o.sig[o.sig_len / 2] ^= 1;
        assert_int_equal(signed_op_verify(&o, cert, NAME), HELLO_OK);
        signed_op_clear(&o);
        free(pt);
        /* an empty payload is a payload too; a key not the certificate's is refused */
        assert_int_equal(signed_op_make(k, cert, NAME, "poll", msg_id, NOW, NULL, 0, &pt),
                         HELLO_OK);
        assert_int_equal(signed_op_parse((const uint8_t *)pt, strlen(pt), &o), HELLO_OK);
        assert_int_equal(o.payload_len, 0);
        assert_int_equal(signed_op_verify(&o, cert, NAME), HELLO_OK);
        signed_op_clear(&o);
        free(pt);
        pt = NULL;
        assert_int_equal(signed_op_make(k2, cert, NAME, "poll", msg_id, NOW, NULL, 0, &pt),
                         HELLO_ERR_KEY_MISMATCH);
        assert_int_equal(signed_op_make(k, cert, NAME, "Poll", msg_id, NOW, NULL, 0, &pt),
                         HELLO_ERR_OP);
        assert_null(pt);
        X509_free(cert);
        X509_free(same_key_other_cert);
        X509_free(other);
        EVP_PKEY_free(k);
        EVP_PKEY_free(k2);
    }
}

static void signed_op_parse_table(void **state)
{
    static const mutation m[] = {
        {NULL, "op", NULL, HELLO_ERR_MISSING},
        {NULL, "msg_id", NULL, HELLO_ERR_MISSING},
        {NULL, "created", NULL, HELLO_ERR_MISSING},
        {NULL, "payload", NULL, HELLO_ERR_MISSING},
        {NULL, "sig", NULL, HELLO_ERR_MISSING},
        {NULL, "device", "\"11\"", HELLO_ERR_EXTRA},
        {NULL, "op", "\"Store\"", HELLO_ERR_OP},
        {NULL, "op", "\"\"", HELLO_ERR_OP},
        {NULL, "op", "\"store-record\"", HELLO_ERR_OP},
        {NULL, "op", "\"a_very_long_operation_name_over_32\"", HELLO_ERR_OP},
        {NULL, "op", "[]", HELLO_ERR_MEMBER_TYPE},
        {NULL, "msg_id", "\"AAAAAAAAAAAAAAAAAAAA\"", HELLO_ERR_LENGTH},
        {NULL, "msg_id", "\"AAAAAAAAAAAAAAAAAAAAAA==\"", HELLO_ERR_BASE64},
        {NULL, "created", "-5", HELLO_ERR_TIME},
        {NULL, "created", "1.5", HELLO_ERR_MEMBER_TYPE},
        {NULL, "payload", "\"a b\"", HELLO_ERR_BASE64},
        {NULL, "payload", "{}", HELLO_ERR_MEMBER_TYPE},
        {NULL, "sig", "\"\"", HELLO_ERR_LENGTH},
        {NULL, "sig", "\"!\"", HELLO_ERR_BASE64},
    };
    json_t *v = load();
    const char *good = str(json_array_get(json_object_get(v, "records"), 0), "pt");
    signed_op o;
    char dup[2048];

    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++) {
        char *t = with_member(good, m[i].obj, m[i].name, m[i].value);
        hello_status st = signed_op_parse((const uint8_t *)t, strlen(t), &o);
        if (st != m[i].want)
            fail_msg("case %zu (%s = %s): got \"%s\", want \"%s\"", i, m[i].name,
                     m[i].value ? m[i].value : "deleted", hello_status_str(st),
                     hello_status_str(m[i].want));
        assert_null(o.payload);
        assert_null(o.sig);
        free(t);
    }
    /* the payload's limit: RECORD_PAYLOAD_MAX bytes parse, one more does not */
    {
        uint8_t *big = calloc(1, RECORD_PAYLOAD_MAX + 1);
        char *e, *val, *t;
        for (size_t n = RECORD_PAYLOAD_MAX; n <= RECORD_PAYLOAD_MAX + 1; n++) {
            e = b64url_encode(big, n, B64_NO_PAD);
            val = malloc(strlen(e) + 3);
            sprintf(val, "\"%s\"", e);
            t = with_member(good, NULL, "payload", val);
            assert_int_equal(signed_op_parse((const uint8_t *)t, strlen(t), &o),
                             n == RECORD_PAYLOAD_MAX ? HELLO_OK : HELLO_ERR_TOO_LONG);
            if (n == RECORD_PAYLOAD_MAX)
                assert_int_equal(o.payload_len, RECORD_PAYLOAD_MAX);
            signed_op_clear(&o);
            free(t);
            free(val);
            free(e);
        }
        free(big);
    }
    snprintf(dup, sizeof dup, "{\"op\":\"poll\",%s", good + 1);
    assert_int_equal(signed_op_parse((const uint8_t *)dup, strlen(dup), &o), HELLO_ERR_DUPLICATE);
    assert_int_equal(signed_op_parse((const uint8_t *)"\"pt\"", 4, &o), HELLO_ERR_JSON);
    json_decref(v);
}

static void audit_from_stored_fields(void **state)
{
    json_t *v = load(), *rec = json_array_get(json_object_get(v, "records"), 1),
           *d = json_array_get(json_object_get(v, "devices"), 1),
           *d0 = json_array_get(json_object_get(v, "devices"), 0);
    const char *pem = str(d, "cert_pem"), *pem0 = str(d0, "cert_pem");
    uint8_t msg_id[16], *payload, *sig;
    size_t np, ns;
    int64_t created = json_integer_value(json_object_get(rec, "created"));
    char *two = NULL;

    hexinto(rec, "msg_id", msg_id, 16);
    payload = hexfield(rec, "payload", &np);
    sig = hexfield(rec, "sig", &ns);
    assert_int_equal(signed_op_verify_stored(pem, strlen(pem), NAME, "store_record", msg_id,
                                             created, payload, np, sig, ns),
                     HELLO_OK);
    /* a changed stored row no longer verifies: payload, time, op, audience, signer */
    payload[0] ^= 1;
    assert_int_equal(signed_op_verify_stored(pem, strlen(pem), NAME, "store_record", msg_id,
                                             created, payload, np, sig, ns),
                     HELLO_ERR_SIGNATURE);
    payload[0] ^= 1;
    assert_int_equal(signed_op_verify_stored(pem, strlen(pem), NAME, "store_record", msg_id,
                                             created - 1, payload, np, sig, ns),
                     HELLO_ERR_SIGNATURE);
    assert_int_equal(signed_op_verify_stored(pem, strlen(pem), NAME, "delete_record", msg_id,
                                             created, payload, np, sig, ns),
                     HELLO_ERR_SIGNATURE);
    assert_int_equal(signed_op_verify_stored(pem, strlen(pem), "127.0.0.1", "store_record", msg_id,
                                             created, payload, np, sig, ns),
                     HELLO_ERR_SIGNATURE);
    assert_int_equal(signed_op_verify_stored(pem0, strlen(pem0), NAME, "store_record", msg_id,
                                             created, payload, np, sig, ns),
                     HELLO_ERR_SIGNATURE);
    /* the PEM must be exactly one certificate */
    two = malloc(strlen(pem) + strlen(pem0) + 1);
    strcpy(two, pem);
    strcat(two, pem0);
    assert_int_equal(signed_op_verify_stored(two, strlen(two), NAME, "store_record", msg_id,
                                             created, payload, np, sig, ns),
                     HELLO_ERR_CERT);
    assert_int_equal(signed_op_verify_stored("not a pem", 9, NAME, "store_record", msg_id, created,
                                             payload, np, sig, ns),
                     HELLO_ERR_CERT);
    free(two);
    free(payload);
    free(sig);
    json_decref(v);
}

/* ---- the rest ----------------------------------------------------------------------------------- */

static void every_status_has_its_own_reason(void **state)
{
    for (int a = HELLO_OK; a <= HELLO_ERR_MEMORY; a++) {
        assert_null(strstr(hello_status_str((hello_status)a), "unknown"));
        for (int b = a + 1; b <= HELLO_ERR_MEMORY; b++)
            assert_string_not_equal(hello_status_str((hello_status)a),
                                    hello_status_str((hello_status)b));
    }
    assert_non_null(strstr(hello_status_str((hello_status)(HELLO_ERR_MEMORY + 1)), "unknown"));
}

static void arguments_and_states(void **state)
{
    fixture f;
    hello_client *c = NULL;
    char *hello = NULL, *ack = NULL;
    hello_request *r = NULL;
    envelope_secrets s;
    uint8_t z[32] = {0}, *tbs = NULL;
    size_t n;
    char long_name[HELLO_NAME_MAX + 2];

    memset(long_name, 'a', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    fixture_new(&f, "ed25519", "40");
    assert_int_equal(hello_client_new(f.dev, f.cert, "", f.cb, NOW, &c, &hello), HELLO_ERR_ARG);
    assert_int_equal(hello_client_new(f.dev, f.cert, long_name, f.cb, NOW, &c, &hello),
                     HELLO_ERR_ARG);
    assert_int_equal(hello_client_new(f.dev, f.cert, NAME, f.cb, -1, &c, &hello), HELLO_ERR_ARG);
    assert_int_equal(hello_client_new(NULL, f.cert, NAME, f.cb, NOW, &c, &hello), HELLO_ERR_ARG);
    assert_int_equal(hello_tbs_h(z, z, NAME, z, z, -1, &tbs, &n), HELLO_ERR_ARG);
    assert_int_equal(c06_record_tbs(NAME, f.cert, "poll", z, NOW, NULL, 1, &tbs, &n),
                     HELLO_ERR_ARG);
    assert_int_equal(c06_record_tbs(NAME, f.cert, "poll", z, NOW, z, RECORD_PAYLOAD_MAX + 1, &tbs,
                                    &n),
                     HELLO_ERR_ARG);
    assert_null(tbs);
    /* a request verified once and then failing a second verify is not acceptable */
    hello = make_hello(&f, NOW, &c);
    assert_int_equal(hello_parse(hello, strlen(hello), &r), HELLO_OK);
    assert_int_equal(hello_verify(r, f.cert, NAME, f.cb, NOW), HELLO_OK);
    assert_int_equal(hello_verify(r, f.cert, NAME, z, NOW), HELLO_ERR_SIGNATURE);
    assert_int_equal(hello_accept(r, f.srv, "s", 10, 1, "t", NULL, &ack, &s), HELLO_ERR_STATE);
    assert_int_equal(hello_verify(r, f.cert, NAME, f.cb, NOW), HELLO_OK);
    assert_int_equal(hello_accept(r, f.srv, "bad session", 10, 1, "t", NULL, &ack, &s),
                     HELLO_ERR_SESSION);
    assert_int_equal(hello_accept(r, f.srv, "s", 0, 1, "t", NULL, &ack, &s), HELLO_ERR_ROTATE);
    assert_int_equal(hello_accept(r, f.srv, "s", 10, 0, "t", NULL, &ack, &s), HELLO_ERR_EXPIRES);
    assert_int_equal(hello_accept(r, f.srv, "s", 10, 1, "t t", NULL, &ack, &s), HELLO_ERR_TOKEN);
    assert_null(ack);
    /* no counters is an empty object, signed as a count of zero */
    assert_int_equal(hello_accept(r, f.srv, "s", 10, 1, "t", NULL, &ack, &s), HELLO_OK);
    assert_non_null(strstr(ack, "\"counters\":{}"));
    assert_int_equal(finish_text(c, f.srv, ack), HELLO_OK);
    envelope_secrets_wipe(&s);
    hello_request_free(r);
    hello_client_free(c);
    hello_client_free(NULL);
    hello_request_free(NULL);
    hello_ack_info_free(NULL);
    signed_op_clear(NULL);
    free(hello);
    free(ack);
    fixture_free(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tbs_and_schedule_match_python),
        cmocka_unit_test(client_matches_python),
        cmocka_unit_test(server_matches_python),
        cmocka_unit_test(records_match_python),
        cmocka_unit_test(round_trip_ed25519),
        cmocka_unit_test(round_trip_p256),
        cmocka_unit_test(hello_relayed_from_another_connection),
        cmocka_unit_test(hello_time_window),
        cmocka_unit_test(hello_signed_by_another_key),
        cmocka_unit_test(hello_device_not_the_certificate),
        cmocka_unit_test(hello_each_signed_field_tampered),
        cmocka_unit_test(ack_each_signed_field_tampered),
        cmocka_unit_test(ack_by_another_key_or_for_another_hello),
        cmocka_unit_test(low_order_points_refused),
        cmocka_unit_test(hello_parse_table),
        cmocka_unit_test(ack_parse_table),
        cmocka_unit_test(rsa_and_p384_refused),
        cmocka_unit_test(signed_op_round_trip_and_tampering),
        cmocka_unit_test(signed_op_parse_table),
        cmocka_unit_test(audit_from_stored_fields),
        cmocka_unit_test(every_status_has_its_own_reason),
        cmocka_unit_test(arguments_and_states),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
