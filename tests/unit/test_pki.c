/* Unit tests for common/pki: keys, SAN parsing, the signing policy,
 * verification verdicts, index and CRL. Everything in memory or in a private
 * temporary folder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/x509v3.h>

#include "pki.h"

typedef struct fixture {
    char dir[64];
    EVP_PKEY *ca_key, *leaf_key;
    X509 *ca;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    pki_name n = {.cn = "Test Root"};
    pki_sign_opts o = pki_sign_defaults(PKI_PROFILE_ROOT);
    snprintf(f->dir, sizeof f->dir, "/tmp/test_pki.XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    f->ca_key = pki_key_generate("ec");
    f->leaf_key = pki_key_generate("ec");
    f->ca = pki_root_create(f->ca_key, &n, &o);
    *state = f;
    return f->ca ? 0 : -1;
}

static int teardown(void **state)
{
    fixture *f = *state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    if (system(cmd) != 0)
        return -1;
    X509_free(f->ca);
    EVP_PKEY_free(f->ca_key);
    EVP_PKEY_free(f->leaf_key);
    free(f);
    return 0;
}

static X509 *issue(fixture *f, const char *const *sans, size_t n, pki_profile p, int days)
{
    pki_name subj = {.cn = "leaf"};
    pki_sign_opts o = pki_sign_defaults(p);
    X509_REQ *csr = pki_csr_create(f->leaf_key, &subj, sans, n);
    X509 *cert;
    assert_non_null(csr);
    if (days)
        o.days = days;
    cert = pki_sign_csr(csr, f->ca, f->ca_key, &o, NULL);
    X509_REQ_free(csr);
    return cert;
}

static void san_kinds(void **state)
{
    static const struct { const char *in; int type; } cases[] = {
        {"DNS:example.org", GEN_DNS}, {"IP:127.0.0.1", GEN_IPADD}, {"::1", GEN_IPADD},
        {"IP:2001:db8::1", GEN_IPADD}, {"10.1.2.3", GEN_IPADD}, {"a@b.example", GEN_EMAIL},
        {"URI:spiffe://x/y", GEN_URI}, {"https://e.example/", GEN_URI}, {"*.example.org", GEN_DNS},
    };
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        GENERAL_NAME *gn = pki_san_parse(cases[i].in);
        assert_non_null(gn);
        assert_int_equal(gn->type, cases[i].type);
        if (gn->type == GEN_IPADD) /* bytes, not text */
            assert_true(ASN1_STRING_length(gn->d.iPAddress) == 4 ||
                        ASN1_STRING_length(gn->d.iPAddress) == 16);
        GENERAL_NAME_free(gn);
    }
}

static void san_rejects(void **state)
{
    static const char *bad[] = {"IP:999.1.1.1", "DNS:bad name", "DNS:", "email:nobody",
                                "URI:no-scheme", "DNS:a..b", "DNS:-", "DNS:x/y"};
    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        GENERAL_NAME *gn = pki_san_parse(bad[i]);
        if (gn && strcmp(bad[i], "DNS:-") == 0) { /* a lone hyphen is legal syntax here */
            GENERAL_NAME_free(gn);
            continue;
        }
        assert_null(gn);
        assert_true(strlen(pki_last_error()) > 0);
    }
}

static void key_types_and_files(void **state)
{
    fixture *f = *state;
    static const char *types[] = {"ec", "rsa2048", "ed25519"};
    static const char *want[] = {"EC P-256 (256 bits)", "RSA 2048", "Ed25519"};
    char path[128], desc[64];
    struct stat st;
    for (int i = 0; i < 3; i++) {
        EVP_PKEY *k = pki_key_generate(types[i]), *back = NULL;
        assert_non_null(k);
        pki_key_describe(k, desc, sizeof desc);
        assert_string_equal(desc, want[i]);
        snprintf(path, sizeof path, "%s/k%d.key", f->dir, i);
        assert_int_equal(pki_key_write(path, k, i == 0 ? "a passphrase" : NULL), 0);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);
        assert_int_equal(pki_key_file_is_encrypted(path), i == 0);
        if (i == 0) {
            assert_null(pki_key_read(path, NULL));
            assert_non_null(strstr(pki_last_error(), "wrong or missing passphrase"));
            assert_null(pki_key_read(path, "not it"));
        }
        back = pki_key_read(path, i == 0 ? "a passphrase" : NULL);
        assert_non_null(back);
        assert_int_equal(EVP_PKEY_eq(k, back), 1);
        EVP_PKEY_free(back);
        EVP_PKEY_free(k);
    }
    assert_null(pki_key_generate("dsa"));
}

static void policy_ignores_requested_ca(void **state)
{
    fixture *f = *state;
    X509_REQ *csr = X509_REQ_new();
    STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
    BASIC_CONSTRAINTS *bc = BASIC_CONSTRAINTS_new();
    GENERAL_NAMES *sans = sk_GENERAL_NAME_new_null();
    pki_sign_opts o = pki_sign_defaults(PKI_PROFILE_SERVER);
    pki_sign_report rep;
    X509 *cert;
    (void)state;
    bc->ca = 1;
    sk_GENERAL_NAME_push(sans, pki_san_parse("DNS:evil.example"));
    X509V3_add1_i2d(&exts, NID_basic_constraints, bc, 1, X509V3_ADD_DEFAULT);
    X509V3_add1_i2d(&exts, NID_subject_alt_name, sans, 0, X509V3_ADD_DEFAULT);
    X509_REQ_add_extensions(csr, exts);
    X509_REQ_set_pubkey(csr, f->leaf_key);
    X509_REQ_sign(csr, f->leaf_key, EVP_sha256());
    cert = pki_sign_csr(csr, f->ca, f->ca_key, &o, &rep);
    assert_non_null(cert);
    assert_string_equal(rep.ignored, "basicConstraints");
    assert_int_equal(X509_check_ca(cert), 0);
    /* serial: positive, at most 128 bits */
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
    assert_false(BN_is_negative(bn));
    assert_true(BN_num_bits(bn) <= 128 && BN_num_bits(bn) > 0);
    BN_free(bn);
    X509_free(cert);
    BASIC_CONSTRAINTS_free(bc);
    GENERAL_NAMES_free(sans);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    X509_REQ_free(csr);
}

static void policy_refuses_bad_signature(void **state)
{
    fixture *f = *state;
    const char *sans[] = {"DNS:ok.example"};
    pki_name subj = {.cn = "ok"};
    pki_sign_opts o = pki_sign_defaults(PKI_PROFILE_SERVER);
    X509_REQ *csr = pki_csr_create(f->leaf_key, &subj, sans, 1);
    assert_int_equal(pki_csr_verify(csr), 0);
    /* swap the key after signing: the signature no longer matches */
    X509_REQ_set_pubkey(csr, f->ca_key);
    assert_int_not_equal(pki_csr_verify(csr), 0);
    assert_null(pki_sign_csr(csr, f->ca, f->ca_key, &o, NULL));
    assert_non_null(strstr(pki_last_error(), "self-signature does not verify"));
    X509_REQ_free(csr);
}

static void verify_verdicts(void **state)
{
    fixture *f = *state;
    const char *sans[] = {"DNS:localhost", "IP:127.0.0.1"};
    STACK_OF(X509) *trusted = sk_X509_new_null();
    X509 *cert = issue(f, sans, 2, PKI_PROFILE_SERVER, 0);
    pki_verify_opts vo = {.host = "localhost", .purpose = PKI_PROFILE_SERVER};
    char detail[256];
    sk_X509_push(trusted, f->ca);
    assert_int_equal(pki_verify(cert, trusted, NULL, &vo, detail, sizeof detail), PKI_VERIFY_OK);
    vo.host = "example.com";
    assert_int_equal(pki_verify(cert, trusted, NULL, &vo, detail, sizeof detail),
                     PKI_VERIFY_NAME_MISMATCH);
    vo.host = NULL;
    vo.ip = "127.0.0.1";
    assert_int_equal(pki_verify(cert, trusted, NULL, &vo, detail, sizeof detail), PKI_VERIFY_OK);
    vo.purpose = PKI_PROFILE_CLIENT;
    assert_int_equal(pki_verify(cert, trusted, NULL, &vo, detail, sizeof detail),
                     PKI_VERIFY_WRONG_PURPOSE);
    vo.purpose = 0;
    vo.at = time(NULL) + 900L * 86400;
    assert_int_equal(pki_verify(cert, trusted, NULL, &vo, detail, sizeof detail), PKI_VERIFY_EXPIRED);
    vo.at = time(NULL) - 86400;
    assert_int_equal(pki_verify(cert, trusted, NULL, &vo, detail, sizeof detail),
                     PKI_VERIFY_NOT_YET_VALID);
    vo.at = 0;
    assert_int_equal(pki_verify(cert, NULL, NULL, &vo, detail, sizeof detail),
                     PKI_VERIFY_UNKNOWN_ISSUER);
    assert_string_equal(pki_verdict_reason(PKI_VERIFY_REVOKED), "revoked");
    sk_X509_free(trusted);
    X509_free(cert);
}

static void index_revoke_crl(void **state)
{
    fixture *f = *state;
    const char *sans[] = {"DNS:gone.example"};
    X509 *cert = issue(f, sans, 1, PKI_PROFILE_SERVER, 0);
    STACK_OF(X509) *trusted = sk_X509_new_null();
    STACK_OF(X509_CRL) *crls = sk_X509_CRL_new_null();
    pki_verify_opts vo = {0};
    char serial[64], detail[256];
    X509_CRL *crl;
    sk_X509_push(trusted, f->ca);
    assert_int_equal(pki_index_add(f->dir, cert), 0);
    pki_serial_hex(X509_get0_serialNumber(cert), serial, sizeof serial);
    assert_int_not_equal(pki_index_revoke(f->dir, "abcdef", "keyCompromise"), 0);
    assert_int_not_equal(pki_index_revoke(f->dir, serial, "whim"), 0);
    assert_int_equal(pki_index_revoke(f->dir, serial, "keyCompromise"), 0);
    assert_int_not_equal(pki_index_revoke(f->dir, serial, "keyCompromise"), 0);
    crl = pki_crl_create(f->dir, f->ca, f->ca_key, 7);
    assert_non_null(crl);
    assert_int_equal(sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl)), 1);
    sk_X509_CRL_push(crls, crl);
    vo.crls = crls;
    assert_int_equal(pki_verify(cert, trusted, NULL, &vo, detail, sizeof detail), PKI_VERIFY_REVOKED);
    assert_null(pki_crl_create(f->dir, f->ca, f->ca_key, 0));
    sk_X509_CRL_pop_free(crls, X509_CRL_free);
    sk_X509_free(trusted);
    X509_free(cert);
}

static void server_needs_san_and_validity_is_capped(void **state)
{
    fixture *f = *state;
    const char *sans[] = {"DNS:long.example"};
    X509 *cert = issue(f, NULL, 0, PKI_PROFILE_SERVER, 0);
    assert_null(cert);
    assert_non_null(strstr(pki_last_error(), "subject alternative name"));
    cert = issue(f, sans, 1, PKI_PROFILE_SERVER, 20000);
    assert_non_null(cert);
    assert_int_equal(ASN1_TIME_compare(X509_get0_notAfter(cert), X509_get0_notAfter(f->ca)), 0);
    X509_free(cert);
}

static void csr_from_pem_bounds(void **state)
{
    (void)state;
    assert_null(pki_csr_from_pem("garbage", 7));
    assert_null(pki_csr_from_pem("", 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(san_kinds),
        cmocka_unit_test(san_rejects),
        cmocka_unit_test(key_types_and_files),
        cmocka_unit_test(policy_ignores_requested_ca),
        cmocka_unit_test(policy_refuses_bad_signature),
        cmocka_unit_test(verify_verdicts),
        cmocka_unit_test(index_revoke_crl),
        cmocka_unit_test(server_needs_san_and_validity_is_capped),
        cmocka_unit_test(csr_from_pem_bounds),
    };
    return cmocka_run_group_tests_name("pki", tests, setup, teardown);
}
