/* SPDX-License-Identifier: MIT */
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
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/bn.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include "pki/pki.h"

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
    /* a subject the policy signs (one CN): the request is refused for its
     * extensions or not at all */
    X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(csr), "CN", MBSTRING_ASC,
                               (const unsigned char *)"evil.example", -1, -1, 0);
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

/* Found by the fuzz target pki_index: a NUL byte in index.txt ended the text
 * there; a revocation rewrote the file without the lines after it, and the
 * CRL left out the revocations they held. Now both refuse the file, and it
 * stays as it was. */
static void index_with_nul_refused(void **state)
{
    fixture *f = *state;
    static const char text[] = "V\t351231235959Z\t\tabc1\tunknown\t/CN=a\n"
                               "V\t351231235959Z\t\tabc2\tunknown\t/CN=b\0c\n"
                               "R\t351231235959Z\t240101000000Z,keyCompromise\tabc3\tunknown\t/CN=d\n";
    char path[128], after[sizeof text];
    FILE *fp;
    snprintf(path, sizeof path, "%s/index.txt", f->dir);
    fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(text, 1, sizeof text - 1, fp), sizeof text - 1);
    fclose(fp);
    assert_int_not_equal(pki_index_revoke(f->dir, "abc1", "superseded"), 0);
    assert_non_null(strstr(pki_last_error(), "NUL"));
    assert_null(pki_crl_create(f->dir, f->ca, f->ca_key, 7));
    assert_non_null(strstr(pki_last_error(), "NUL"));
    fp = fopen(path, "rb");
    assert_non_null(fp);
    assert_int_equal(fread(after, 1, sizeof after, fp), sizeof text - 1);
    fclose(fp);
    assert_memory_equal(after, text, sizeof text - 1);
    unlink(path);
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

/* Regression: an index listing one serial several times made revoke write
 * past its buffer (ASan saw it with 8 lines). Now: a clean refusal, and the
 * index is left as it was. */
static void index_duplicate_serial_refused(void **state)
{
    fixture *f = *state;
    char path[128], line[160], *before = NULL, *after = NULL;
    size_t len = 0, len2 = 0;
    FILE *fp;
    snprintf(path, sizeof path, "%s/index.txt", f->dir);
    fp = fopen(path, "w");
    assert_non_null(fp);
    snprintf(line, sizeof line, "V\t351231235959Z\t\tabcdef0123\tunknown\t/CN=%s\n",
             "a-rather-long-subject-so-each-line-grows.example");
    for (int i = 0; i < 8; i++)
        fputs(line, fp);
    fclose(fp);
    fp = fopen(path, "rb");
    before = calloc(1, 4096);
    len = fread(before, 1, 4095, fp);
    fclose(fp);
    assert_int_not_equal(pki_index_revoke(f->dir, "abcdef0123", "superseded"), 0);
    assert_non_null(strstr(pki_last_error(), "more than once"));
    fp = fopen(path, "rb");
    after = calloc(1, 4096);
    len2 = fread(after, 1, 4095, fp);
    fclose(fp);
    assert_int_equal(len, len2);
    assert_memory_equal(before, after, len);
    free(before);
    free(after);
    unlink(path);
}

/* Regression: only a mutex inside one process guarded the index, so two
 * processes issuing at once lost lines. Eight processes add 40 each. */
static void index_add_across_processes(void **state)
{
    fixture *f = *state;
    const char *sans[] = {"DNS:many.example"};
    X509 *cert = issue(f, sans, 1, PKI_PROFILE_SERVER, 0);
    char dir[160], path[200], buf[512];
    pid_t kids[8];
    int lines = 0;
    FILE *fp;
    assert_non_null(cert);
    snprintf(dir, sizeof dir, "%s/race", f->dir);
    assert_int_equal(mkdir(dir, 0700), 0);
    for (int k = 0; k < 8; k++) {
        kids[k] = fork();
        assert_true(kids[k] >= 0);
        if (kids[k] == 0) {
            int bad = 0;
            for (int i = 0; i < 40; i++)
                bad |= pki_index_add(dir, cert) != 0;
            _exit(bad);
        }
    }
    for (int k = 0; k < 8; k++) {
        int st = 0;
        assert_int_equal(waitpid(kids[k], &st, 0), kids[k]);
        assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    snprintf(path, sizeof path, "%s/index.txt", dir);
    fp = fopen(path, "r");
    assert_non_null(fp);
    while (fgets(buf, sizeof buf, fp))
        lines++;
    fclose(fp);
    assert_int_equal(lines, 8 * 40);
    X509_free(cert);
}

/* A CSR made by hand, with whatever SAN strings it likes (pki_csr_create
 * would refuse them): what arrives over the network. */
static X509_REQ *raw_csr(EVP_PKEY *key, int type, const char *value)
{
    X509_REQ *csr = X509_REQ_new();
    STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
    GENERAL_NAMES *sans = sk_GENERAL_NAME_new_null();
    GENERAL_NAME *gn = GENERAL_NAME_new();
    ASN1_IA5STRING *s = ASN1_IA5STRING_new();
    ASN1_STRING_set(s, value, (int)strlen(value));
    GENERAL_NAME_set0_value(gn, type, s);
    sk_GENERAL_NAME_push(sans, gn);
    X509V3_add1_i2d(&exts, NID_subject_alt_name, sans, 0, X509V3_ADD_DEFAULT);
    X509_REQ_add_extensions(csr, exts);
    /* one CN, which the policy signs: only the SAN is on trial */
    X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(csr), "CN", MBSTRING_ASC,
                               (const unsigned char *)"san-test", -1, -1, 0);
    X509_REQ_set_pubkey(csr, key);
    X509_REQ_sign(csr, key, EVP_sha256());
    GENERAL_NAMES_free(sans);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    return csr;
}

/* Regression: SAN syntax was only checked when minica made the CSR, so a
 * network CSR could get "*", "*.*.com" or "f*o.x" signed. */
static void policy_checks_csr_san_syntax(void **state)
{
    fixture *f = *state;
    static const struct { int type; const char *v; } bad[] = {
        {GEN_DNS, "*"},           {GEN_DNS, "*.*.com"},      {GEN_DNS, "f*o.x"},
        {GEN_DNS, "a.*.example"}, {GEN_DNS, "bad name.x"},   {GEN_DNS, ""},
        {GEN_DNS, "x..y"},        {GEN_EMAIL, "nobody"},     {GEN_EMAIL, "a@*"},
        {GEN_URI, "no-scheme"},   {GEN_URI, "https://a b/"}, {GEN_DNS, "esc\x1b[2J.example"},
    };
    static const struct { int type; const char *v; } good[] = {
        {GEN_DNS, "*.example.org"}, {GEN_DNS, "ok.example"}, {GEN_EMAIL, "a@b.example"},
        {GEN_URI, "spiffe://x/y"},
    };
    pki_sign_opts o = pki_sign_defaults(PKI_PROFILE_SERVER);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        X509_REQ *csr = raw_csr(f->leaf_key, bad[i].type, bad[i].v);
        X509 *cert = pki_sign_csr(csr, f->ca, f->ca_key, &o, NULL);
        if (cert)
            print_error("signed a CSR with SAN '%s'\n", bad[i].v);
        assert_null(cert);
        assert_true(strlen(pki_last_error()) > 0);
        X509_REQ_free(csr);
    }
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        X509_REQ *csr = raw_csr(f->leaf_key, good[i].type, good[i].v);
        X509 *cert = pki_sign_csr(csr, f->ca, f->ca_key, &o, NULL);
        assert_non_null(cert);
        X509_free(cert);
        X509_REQ_free(csr);
    }
}

/* Regression: the host check allowed partial wildcards ("f*.course.example" matched
 * "foo.course.example"). The CA will not sign one now, so build it by hand. */
static void verify_refuses_partial_wildcard(void **state)
{
    fixture *f = *state;
    X509 *cert = X509_new();
    GENERAL_NAMES *sans = sk_GENERAL_NAME_new_null();
    GENERAL_NAME *gn = GENERAL_NAME_new();
    ASN1_IA5STRING *s = ASN1_IA5STRING_new();
    STACK_OF(X509) *trusted = sk_X509_new_null();
    pki_verify_opts vo = {.host = "foo.course.example"};
    char detail[256];
    ASN1_STRING_set(s, "f*.course.example", -1);
    GENERAL_NAME_set0_value(gn, GEN_DNS, s);
    sk_GENERAL_NAME_push(sans, gn);
    assert_int_equal(X509_set_version(cert, X509_VERSION_3), 1);
    ASN1_INTEGER_set(X509_get_serialNumber(cert), 7);
    X509_set_issuer_name(cert, X509_get_subject_name(f->ca));
    X509_NAME_add_entry_by_txt(X509_get_subject_name(cert), "CN", MBSTRING_ASC,
                               (const unsigned char *)"wild", -1, -1, 0);
    X509_gmtime_adj(X509_getm_notBefore(cert), -60);
    X509_gmtime_adj(X509_getm_notAfter(cert), 86400);
    X509_set_pubkey(cert, f->leaf_key);
    X509_add1_ext_i2d(cert, NID_subject_alt_name, sans, 0, X509V3_ADD_DEFAULT);
    assert_true(X509_sign(cert, f->ca_key, EVP_sha256()) > 0);
    sk_X509_push(trusted, f->ca);
    assert_int_equal(pki_verify(cert, trusted, NULL, &vo, detail, sizeof detail),
                     PKI_VERIFY_NAME_MISMATCH);
    sk_X509_free(trusted);
    GENERAL_NAMES_free(sans);
    X509_free(cert);
}

/* A CSR with exactly the subject fields given (nid, bytes, length) and n_sans
 * DNS names, built by hand: X509_NAME_add_entry_by_txt would enforce
 * OpenSSL's own length table, and a hostile requester does not use it. */
typedef struct field {
    int nid;
    const char *v;
    int len; /* -1: strlen */
} field;

static X509_REQ *csr_with_subject(EVP_PKEY *key, const field *fs, int n, int n_sans)
{
    X509_REQ *req = X509_REQ_new();
    X509_NAME *name = X509_NAME_new();
    for (int i = 0; i < n; i++)
        assert_int_equal(X509_NAME_add_entry_by_NID(name, fs[i].nid, V_ASN1_UTF8STRING,
                                                    (const unsigned char *)fs[i].v, fs[i].len,
                                                    -1, 0), 1);
    assert_int_equal(X509_REQ_set_subject_name(req, name), 1);
    assert_int_equal(X509_REQ_set_pubkey(req, key), 1);
    if (n_sans > 0) {
        GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
        STACK_OF(X509_EXTENSION) *exts = NULL;
        for (int i = 0; i < n_sans; i++) {
            char dns[32];
            snprintf(dns, sizeof dns, "DNS:n%d.example", i);
            sk_GENERAL_NAME_push(gens, pki_san_parse(dns));
        }
        assert_int_equal(X509V3_add1_i2d(&exts, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT), 1);
        assert_int_equal(X509_REQ_add_extensions(req, exts), 1);
        sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
        GENERAL_NAMES_free(gens);
    }
    assert_true(X509_REQ_sign(req, key, EVP_sha256()) > 0);
    X509_NAME_free(name);
    return req;
}

/* Regression: the client profile signed a 5,000-character CN, 2,000 CNs, an
 * empty subject, control characters, and 10,000 SANs (the server profile
 * too). Each limit refuses with its own reason; the limits themselves pass. */
static void policy_limits_names(void **state)
{
    fixture *f = *state;
    static char longcn[5001], cn64[65], cn65[66];
    static field many[2000];
    const field two_cns[] = {{NID_commonName, "a", -1}, {NID_commonName, "b", -1}};
    const field no_cn[] = {{NID_organizationName, "Course", -1}};
    const field nul[] = {{NID_commonName, "good\0evil", 9}};
    const field crlf[] = {{NID_commonName, "a\r\nInjected: line", -1}};
    const field c1[] = {{NID_commonName, "a\xc2\x85" "b", -1}};
    const field script[] = {{NID_commonName, "<script>alert(1)</script>", -1}};
    const field long_o[] = {{NID_commonName, "ok", -1}, {NID_organizationName, longcn, -1}};
    const field utf8_64[] = {{NID_commonName, "\xc3\xa9\xc3\xa9\xc3\xa9", -1}};
    field ok64[] = {{NID_commonName, cn64, -1}}, bad65[] = {{NID_commonName, cn65, -1}};
    field huge[] = {{NID_commonName, longcn, -1}};
    const struct {
        const char *what;
        const field *fs;
        int n, sans, profile;
        const char *why; /* NULL: signed */
    } cases[] = {
        {"5,000-character CN", huge, 1, 0, PKI_PROFILE_CLIENT, "has 5000 characters; at most 64"},
        {"65-character CN", bad65, 1, 0, PKI_PROFILE_CLIENT, "has 65 characters; at most 64"},
        {"64-character CN", ok64, 1, 0, PKI_PROFILE_CLIENT, NULL},
        {"3 two-byte characters", utf8_64, 1, 0, PKI_PROFILE_CLIENT, NULL},
        {"long O", long_o, 2, 0, PKI_PROFILE_CLIENT, "subject's O has 5000 characters"},
        {"2,000 CNs", many, 2000, 0, PKI_PROFILE_CLIENT, "has 2000 fields; this CA signs at most 16"},
        {"two CNs", two_cns, 2, 0, PKI_PROFILE_CLIENT, "has 2 CNs; exactly one"},
        {"empty subject", NULL, 0, 1, PKI_PROFILE_CLIENT, "subject is empty"},
        {"empty subject, server", NULL, 0, 1, PKI_PROFILE_SERVER, "subject is empty"},
        {"no CN", no_cn, 1, 0, PKI_PROFILE_CLIENT, "has no CN"},
        {"NUL in CN", nul, 1, 0, PKI_PROFILE_CLIENT, "holds a control character"},
        {"CR LF in CN", crlf, 1, 0, PKI_PROFILE_CLIENT, "holds a control character"},
        {"C1 control in CN", c1, 1, 0, PKI_PROFILE_CLIENT, "holds a control character"},
        {"markup in CN", script, 1, 0, PKI_PROFILE_CLIENT, "holds '<' or '>'"},
        {"100 SANs", ok64, 1, 100, PKI_PROFILE_SERVER, NULL},
        {"101 SANs", ok64, 1, 101, PKI_PROFILE_SERVER, "asks for 101 subject alternative names; this CA signs at most 100"},
        {"10,000 SANs, server", ok64, 1, 10000, PKI_PROFILE_SERVER, "asks for 10000 subject"},
        {"10,000 SANs, client", ok64, 1, 10000, PKI_PROFILE_CLIENT, "asks for 10000 subject"},
    };
    memset(longcn, 'a', 5000);
    memset(cn64, 'b', 64);
    memset(cn65, 'c', 65);
    for (int i = 0; i < 2000; i++)
        many[i] = (field){NID_commonName, "x", -1};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pki_sign_opts o = pki_sign_defaults(cases[i].profile);
        X509_REQ *csr = csr_with_subject(f->leaf_key, cases[i].fs, cases[i].n, cases[i].sans);
        X509 *cert = pki_sign_csr(csr, f->ca, f->ca_key, &o, NULL);
        if (cases[i].why) {
            if (cert || !strstr(pki_last_error(), cases[i].why))
                fail_msg("%s: signed or wrong reason: '%s'", cases[i].what, pki_last_error());
        } else if (!cert) {
            fail_msg("%s: refused: %s", cases[i].what, pki_last_error());
        }
        X509_free(cert);
        X509_REQ_free(csr);
    }
}

/* The one name formatter (minica's inspect, and what 05 should show too). */
static void name_text(void **state)
{
    X509_NAME *n = X509_NAME_new();
    char out[64], tiny[12];
    static char longcn[200];
    (void)state;
    pki_name_text(n, out, sizeof out);
    assert_string_equal(out, "(empty)");
    pki_name_text(NULL, out, sizeof out);
    assert_string_equal(out, "(empty)");
    X509_NAME_add_entry_by_txt(n, "O", MBSTRING_UTF8, (const unsigned char *)"Course", -1, -1, 0);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)"caf\xc3\xa9teria", -1,
                               -1, 0);
    pki_name_text(n, out, sizeof out);
    assert_string_equal(out, "O=Course, CN=caf\xc3\xa9teria"); /* UTF-8 kept, certificate order */
    /* cut short with "...", never inside the two bytes of the e-acute */
    pki_name_text(n, tiny, sizeof tiny);
    assert_string_equal(tiny, "O=Course...");
    pki_name_text(n, out, 21); /* 17 bytes would end inside the e-acute */
    assert_string_equal(out, "O=Course, CN=caf...");
    X509_NAME_free(n);
    /* a CN cannot forge a second field or a new line */
    n = X509_NAME_new();
    X509_NAME_add_entry_by_NID(n, NID_commonName, V_ASN1_UTF8STRING,
                               (const unsigned char *)"a, CN=root\nX", -1, -1, 0);
    pki_name_text(n, out, sizeof out);
    assert_null(strchr(out, '\n'));
    assert_non_null(strstr(out, "a\\, CN=root"));
    X509_NAME_free(n);
    memset(longcn, 'z', sizeof longcn - 1);
    n = X509_NAME_new();
    X509_NAME_add_entry_by_NID(n, NID_commonName, V_ASN1_UTF8STRING, (const unsigned char *)longcn,
                               -1, -1, 0);
    pki_name_text(n, out, sizeof out);
    assert_int_equal(strlen(out), sizeof out - 1);
    assert_string_equal(out + sizeof out - 4, "...");
    X509_NAME_free(n);
}

static void san_parse_null(void **state)
{
    (void)state;
    assert_null(pki_san_parse(NULL));
    assert_non_null(strstr(pki_last_error(), "missing"));
}

/* ---- chapter 06: challengePassword, device certificates, CRLs from a list ---- */

/* A CSR for key with CN=cn, its challengePassword set to chal (or none). */
static X509_REQ *device_csr(EVP_PKEY *key, const char *cn, const char *chal)
{
    pki_name subj = {.cn = cn};
    X509_REQ *csr = pki_csr_create(key, &subj, NULL, 0);
    assert_non_null(csr);
    if (chal) {
        assert_int_equal(pki_csr_challenge_set(csr, chal), 0);
        /* the self-signature must cover it: sign again */
        assert_true(X509_REQ_sign(csr, key, EVP_PKEY_is_a(key, "ED25519") ? NULL : EVP_sha256()) > 0);
    }
    return csr;
}

/* Round trip through DER, as the request travels (EST: base64 DER). */
static X509_REQ *der_round_trip(X509_REQ *csr)
{
    unsigned char *der = NULL, *p;
    const unsigned char *q;
    int len = i2d_X509_REQ(csr, &der);
    X509_REQ *back;
    assert_true(len > 0);
    q = p = der;
    back = d2i_X509_REQ(NULL, &q, len);
    OPENSSL_free(p);
    assert_non_null(back);
    return back;
}

static void challenge_round_trip(void **state)
{
    fixture *f = *state;
    const char *binding = "q2VrN-Ts_7yXlY0p9dZ3aZc1b2x4h5j6k7l8m9n0o1A"; /* b64url: '_' and '-' */
    char out[PKI_MAX_CHALLENGE + 1], small[8], big[PKI_MAX_CHALLENGE + 2];
    X509_REQ *csr = device_csr(f->leaf_key, "dev", NULL), *back;

    assert_int_equal(pki_csr_challenge_get(csr, out, sizeof out), -1);
    assert_non_null(strstr(pki_last_error(), "no challengePassword"));
    assert_string_equal(out, "");
    X509_REQ_free(csr);

    csr = device_csr(f->leaf_key, "dev", "first value");
    assert_int_equal(pki_csr_challenge_set(csr, binding), 0); /* replaces, never adds */
    assert_true(X509_REQ_sign(csr, f->leaf_key, EVP_sha256()) > 0);
    assert_int_equal(X509_REQ_get_attr_count(csr), 1);
    back = der_round_trip(csr);
    assert_int_equal(pki_csr_verify(back), 0);
    assert_int_equal(pki_csr_challenge_get(back, out, sizeof out), 0);
    assert_string_equal(out, binding);
    /* what does not fit is refused, not cut */
    assert_int_equal(pki_csr_challenge_get(back, small, sizeof small), -1);
    assert_non_null(strstr(pki_last_error(), "at most 7 fit"));
    X509_REQ_free(back);

    /* the signature covers it: changing it after signing breaks the PoP */
    assert_int_equal(pki_csr_challenge_set(csr, "another connection"), 0);
    assert_int_not_equal(pki_csr_verify(csr), 0);
    X509_REQ_free(csr);

    /* set's own limits: empty, too long, not UTF-8 */
    csr = device_csr(f->leaf_key, "dev", NULL);
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(pki_csr_challenge_set(csr, ""), -1);
    assert_int_equal(pki_csr_challenge_set(csr, big), -1);
    big[PKI_MAX_CHALLENGE] = '\0';
    assert_int_equal(pki_csr_challenge_set(csr, big), 0);
    assert_int_equal(pki_csr_challenge_set(csr, "caf\xc3"), -1);
    assert_int_equal(pki_csr_challenge_set(csr, "caf\xc3\xa9"), 0);
    assert_int_equal(pki_csr_challenge_get(csr, out, sizeof out), 0);
    assert_string_equal(out, "caf\xc3\xa9");
    X509_REQ_free(csr);
}

/* Attributes other tools could write: which ones get accepts. */
static void challenge_types(void **state)
{
    fixture *f = *state;
    static const struct { int type; const char *v; int len; int ok; } cases[] = {
        {V_ASN1_PRINTABLESTRING, "Plain text 123", 14, 0},
        {V_ASN1_PRINTABLESTRING, "under_score", 11, -1}, /* '_' is not printable */
        {V_ASN1_UTF8STRING, "nul\0inside", 10, -1},
        {V_ASN1_UTF8STRING, "\xff\xfe", 2, -1},           /* not UTF-8 */
        {V_ASN1_IA5STRING, "ia5", 3, -1},
        {V_ASN1_T61STRING, "t61", 3, -1},
        {V_ASN1_BMPSTRING, "\0b\0m", 4, -1},
    };
    char out[64];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        X509_REQ *csr = device_csr(f->leaf_key, "dev", NULL);
        assert_true(X509_REQ_add1_attr_by_NID(csr, NID_pkcs9_challengePassword, cases[i].type,
                                              (const unsigned char *)cases[i].v, cases[i].len));
        assert_int_equal(pki_csr_challenge_get(csr, out, sizeof out), cases[i].ok);
        if (cases[i].ok == 0)
            assert_string_equal(out, cases[i].v);
        else
            assert_string_equal(out, "");
        X509_REQ_free(csr);
    }
}

/* Two challengePasswords, or one with two values: OpenSSL 3 will not add a
 * second attribute of a kind, but another tool's DER may hold one. Make it
 * by renaming an unstructuredName (1.2.840.113549.1.9.2) to .9.7 in the DER. */
static void challenge_twice(void **state)
{
    fixture *f = *state;
    static const unsigned char oid_2[] = {0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
                                          0xf7, 0x0d, 0x01, 0x09, 0x02};
    X509_REQ *csr = device_csr(f->leaf_key, "dev", "first"), *back = NULL;
    X509_ATTRIBUTE *two = X509_ATTRIBUTE_create_by_NID(NULL, NID_pkcs9_challengePassword,
                                                       V_ASN1_UTF8STRING, "a", 1);
    unsigned char *der = NULL;
    const unsigned char *q;
    char out[64];
    int len, patched = 0;

    assert_true(X509_REQ_add1_attr_by_NID(csr, NID_pkcs9_unstructuredName, V_ASN1_UTF8STRING,
                                          (const unsigned char *)"second", 6));
    len = i2d_X509_REQ(csr, &der);
    assert_true(len > (int)sizeof oid_2);
    for (int i = 0; i + (int)sizeof oid_2 <= len; i++)
        if (!memcmp(der + i, oid_2, sizeof oid_2)) {
            der[i + sizeof oid_2 - 1] = 0x07;
            patched++;
        }
    assert_int_equal(patched, 1);
    q = der;
    back = d2i_X509_REQ(NULL, &q, len);
    assert_non_null(back);
    assert_int_equal(pki_csr_challenge_get(back, out, sizeof out), -1);
    assert_non_null(strstr(pki_last_error(), "more than one challengePassword"));
    X509_REQ_free(back);
    OPENSSL_free(der);
    X509_REQ_free(csr);

    /* one attribute, two values */
    csr = device_csr(f->leaf_key, "dev", NULL);
    assert_non_null(two);
    assert_true(X509_ATTRIBUTE_set1_data(two, V_ASN1_UTF8STRING, "b", 1));
    assert_int_equal(X509_ATTRIBUTE_count(two), 2);
    assert_true(X509_REQ_add1_attr(csr, two));
    assert_int_equal(pki_csr_challenge_get(csr, out, sizeof out), -1);
    assert_non_null(strstr(pki_last_error(), "exactly one value"));
    X509_ATTRIBUTE_free(two);
    X509_REQ_free(csr);
}

/* R2's sign_csr copied every requested extension: a CSR asking for CA:TRUE
 * became a sub-CA. A device certificate takes nothing from the request but
 * its key. */
static void device_ignores_request_R2(void **state)
{
    fixture *f = *state;
    X509_REQ *csr = X509_REQ_new();
    STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
    BASIC_CONSTRAINTS *bc = BASIC_CONSTRAINTS_new();
    GENERAL_NAMES *sans = sk_GENERAL_NAME_new_null();
    ASN1_BIT_STRING *ku = ASN1_BIT_STRING_new();
    STACK_OF(X509) *trusted = sk_X509_new_null();
    X509_NAME *subj = X509_REQ_get_subject_name(csr);
    pki_verify_opts vo = {.purpose = PKI_PROFILE_CLIENT};
    char serial[40], text[256], again[40], detail[256];
    X509 *cert;
    int days = 0, secs = 0;

    bc->ca = 1;
    ASN1_BIT_STRING_set_bit(ku, 5, 1); /* keyCertSign */
    ASN1_BIT_STRING_set_bit(ku, 6, 1); /* cRLSign */
    sk_GENERAL_NAME_push(sans, pki_san_parse("DNS:bank.example"));
    X509V3_add1_i2d(&exts, NID_basic_constraints, bc, 1, X509V3_ADD_DEFAULT);
    X509V3_add1_i2d(&exts, NID_key_usage, ku, 1, X509V3_ADD_DEFAULT);
    X509V3_add1_i2d(&exts, NID_subject_alt_name, sans, 0, X509V3_ADD_DEFAULT);
    X509_REQ_add_extensions(csr, exts);
    X509_NAME_add_entry_by_txt(subj, "O", MBSTRING_ASC, (const unsigned char *)"Evil", -1, -1, 0);
    X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_ASC, (const unsigned char *)"admin", -1, -1, 0);
    X509_REQ_set_pubkey(csr, f->leaf_key);
    assert_true(X509_REQ_sign(csr, f->leaf_key, EVP_sha256()) > 0);

    cert = pki_issue_device(csr, f->ca, f->ca_key, "alice", 30, serial, sizeof serial);
    assert_non_null(cert);
    assert_int_equal(X509_check_ca(cert), 0);
    pki_name_text(X509_get_subject_name(cert), text, sizeof text);
    assert_string_equal(text, "CN=alice");
    assert_true(X509_get_ext_by_NID(cert, NID_subject_alt_name, -1) < 0);
    assert_int_equal(X509_get_key_usage(cert), KU_DIGITAL_SIGNATURE);
    assert_int_equal(X509_get_extended_key_usage(cert), XKU_SSL_CLIENT);
    assert_non_null(X509_get0_subject_key_id(cert));
    assert_non_null(X509_get0_authority_key_id(cert));
    assert_int_equal(X509_check_purpose(cert, X509_PURPOSE_SSL_CLIENT, 0), 1);
    assert_int_equal(X509_check_purpose(cert, X509_PURPOSE_SSL_SERVER, 0), 0);
    /* 30 days from now */
    assert_true(ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(cert)));
    assert_true(days == 30 || (days == 29 && secs > 86400 - 120));
    /* the serial handed back is the certificate's */
    assert_int_equal(pki_serial_hex(X509_get0_serialNumber(cert), again, sizeof again), 0);
    assert_string_equal(serial, again);
    sk_X509_push(trusted, f->ca);
    assert_int_equal(pki_verify(cert, trusted, NULL, &vo, detail, sizeof detail), PKI_VERIFY_OK);

    sk_X509_free(trusted);
    X509_free(cert);
    BASIC_CONSTRAINTS_free(bc);
    ASN1_BIT_STRING_free(ku);
    GENERAL_NAMES_free(sans);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    X509_REQ_free(csr);
}

/* R5's CA did not bind the public key: no proof of possession. */
static void device_refuses_tampered_csr_R5(void **state)
{
    fixture *f = *state;
    X509_REQ *csr = device_csr(f->leaf_key, "dev", "binding");
    char serial[40] = "x";
    EVP_PKEY *other = pki_key_generate("ec");
    X509 *cert;

    /* the request carries someone else's key now: its signature no longer matches */
    X509_REQ_set_pubkey(csr, other);
    cert = pki_issue_device(csr, f->ca, f->ca_key, "alice", 30, serial, sizeof serial);
    assert_null(cert);
    assert_non_null(strstr(pki_last_error(), "self-signature does not verify"));
    assert_string_equal(serial, "");
    X509_REQ_free(csr);
    EVP_PKEY_free(other);
}

static void device_key_types(void **state)
{
    fixture *f = *state;
    struct { EVP_PKEY *key; const char *refused; } cases[] = {
        {EVP_RSA_gen(1024), "this request's key is RSA 1024"},
        {pki_key_generate("rsa2048"), "this request's key is RSA 2048"},
        {EVP_EC_gen("P-384"), "this request's key is EC secp384r1"},
        {pki_key_generate("ed25519"), NULL},
        {pki_key_generate("ec"), NULL},
    };
    char serial[40];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        X509_REQ *csr;
        X509 *cert;
        assert_non_null(cases[i].key);
        csr = device_csr(cases[i].key, "dev", NULL);
        cert = pki_issue_device(csr, f->ca, f->ca_key, "bob", 30, serial, sizeof serial);
        if (cases[i].refused) {
            assert_null(cert);
            assert_non_null(strstr(pki_last_error(), "must be Ed25519 or EC P-256"));
            assert_non_null(strstr(pki_last_error(), cases[i].refused));
        } else {
            assert_non_null(cert);
            assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(cert), cases[i].key), 1);
        }
        X509_free(cert);
        X509_REQ_free(csr);
        EVP_PKEY_free(cases[i].key);
    }
}

static void device_serials_and_limits(void **state)
{
    fixture *f = *state;
    X509_REQ *csr = device_csr(f->leaf_key, "dev", NULL);
    char serial[40], prev[40] = "", tiny[8];
    int wide = 0;
    for (int i = 0; i < 8; i++) {
        X509 *cert = pki_issue_device(csr, f->ca, f->ca_key, "carol", 30, serial, sizeof serial);
        BIGNUM *bn;
        assert_non_null(cert);
        bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
        assert_false(BN_is_negative(bn));
        assert_false(BN_is_zero(bn));
        assert_true(BN_num_bits(bn) <= 128);
        /* 8 draws all under 121 bits: odds 2^-64, unless the serial is short */
        wide += BN_num_bits(bn) > 120;
        BN_free(bn);
        assert_true(strlen(serial) >= 1 && strlen(serial) <= 32);
        assert_int_equal(strspn(serial, "0123456789abcdef"), strlen(serial));
        assert_string_not_equal(serial, prev);
        snprintf(prev, sizeof prev, "%s", serial);
        X509_free(cert);
    }
    assert_true(wide > 0);
    assert_null(pki_issue_device(csr, f->ca, f->ca_key, "carol", 30, tiny, sizeof tiny));
    assert_non_null(strstr(pki_last_error(), "serial buffer is too small"));
    assert_null(pki_issue_device(csr, f->ca, f->ca_key, "carol", 0, serial, sizeof serial));
    assert_null(pki_issue_device(csr, f->ca, f->ca_key, "carol", PKI_MAX_DEVICE_DAYS + 1, serial,
                                 sizeof serial));
    assert_null(pki_issue_device(csr, f->ca, f->ca_key, "", 30, serial, sizeof serial));
    assert_null(pki_issue_device(csr, f->ca, f->ca_key, "<b>x</b>", 30, serial, sizeof serial));
    assert_non_null(strstr(pki_last_error(), "markup"));
    /* a key that is not the CA's */
    assert_null(pki_issue_device(csr, f->ca, f->leaf_key, "carol", 30, serial, sizeof serial));
    assert_non_null(strstr(pki_last_error(), "does not match"));
    X509_REQ_free(csr);
}

/* The reason code of a CRL entry, 0 when it has none. */
static int entry_reason(const X509_REVOKED *rev)
{
    ASN1_ENUMERATED *e = X509_REVOKED_get_ext_d2i(rev, NID_crl_reason, NULL, NULL);
    int code = e ? (int)ASN1_ENUMERATED_get(e) : 0;
    ASN1_ENUMERATED_free(e);
    return code;
}

static void crl_from_list(void **state)
{
    fixture *f = *state;
    X509_REQ *csr = device_csr(f->leaf_key, "dev", NULL);
    char serial[40], hex[48], detail[256];
    X509 *cert = pki_issue_device(csr, f->ca, f->ca_key, "dave", 30, serial, sizeof serial);
    time_t now = time(NULL);
    pki_revoked list[] = {
        {"0a1b", now - 3600, "keyCompromise"},
        {serial, now - 60, "superseded"},
        {"ff", now - 86400, NULL},
    };
    STACK_OF(X509) *trusted = sk_X509_new_null();
    STACK_OF(X509_CRL) *crls = sk_X509_CRL_new_null();
    pki_verify_opts vo = {0};
    EVP_PKEY *other = pki_key_generate("ec");
    ASN1_INTEGER *num;
    X509_CRL *crl;
    STACK_OF(X509_REVOKED) *revs;
    int seen = 0;

    assert_non_null(cert);
    crl = pki_crl_from_list(f->ca, f->ca_key, list, 3, 7, 7);
    assert_non_null(crl);
    assert_int_equal(X509_CRL_verify(crl, f->ca_key), 1);
    assert_int_equal(X509_CRL_verify(crl, other), 0);
    num = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL, NULL);
    assert_non_null(num);
    assert_int_equal(ASN1_INTEGER_get(num), 7);
    ASN1_INTEGER_free(num);
    assert_true(X509_CRL_get_ext_by_NID(crl, NID_authority_key_identifier, -1) >= 0);
    revs = X509_CRL_get_REVOKED(crl);
    assert_int_equal(sk_X509_REVOKED_num(revs), 3);
    for (int i = 0; i < 3; i++) {
        const X509_REVOKED *rev = sk_X509_REVOKED_value(revs, i);
        assert_int_equal(pki_serial_hex(X509_REVOKED_get0_serialNumber(rev), hex, sizeof hex), 0);
        for (int j = 0; j < 3; j++) {
            if (strcasecmp(hex, list[j].serial_hex))
                continue;
            seen |= 1 << j;
            assert_int_equal(ASN1_TIME_cmp_time_t(X509_REVOKED_get0_revocationDate(rev),
                                                  list[j].revoked_at), 0);
            assert_int_equal(entry_reason(rev), j == 0 ? 1 : j == 1 ? 4 : 0);
        }
    }
    assert_int_equal(seen, 7);
    sk_X509_push(trusted, f->ca);
    sk_X509_CRL_push(crls, crl);
    vo.crls = crls;
    assert_int_equal(pki_verify(cert, trusted, NULL, &vo, detail, sizeof detail), PKI_VERIFY_REVOKED);
    sk_X509_CRL_pop_free(crls, X509_CRL_free);

    /* an empty list is a valid CRL: nothing revoked yet */
    crl = pki_crl_from_list(f->ca, f->ca_key, NULL, 0, 1, 30);
    assert_non_null(crl);
    assert_true(sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl)) <= 0); /* NULL: no entries */
    assert_int_equal(X509_CRL_verify(crl, f->ca_key), 1);
    X509_CRL_free(crl);

    /* refusals, each with its reason */
    static const char *bad_serials[] = {"12zz", "-1", "", "0x12",
                                        "123456789012345678901234567890123456789012"};
    for (size_t i = 0; i < sizeof bad_serials / sizeof bad_serials[0]; i++) {
        pki_revoked one = {bad_serials[i], now, NULL};
        assert_null(pki_crl_from_list(f->ca, f->ca_key, &one, 1, 2, 7));
        assert_non_null(strstr(pki_last_error(), "is not a serial in hex"));
    }
    pki_revoked twice[] = {{"0a1b", now, NULL}, {"0A1B", now, "keyCompromise"}};
    assert_null(pki_crl_from_list(f->ca, f->ca_key, twice, 2, 2, 7));
    assert_non_null(strstr(pki_last_error(), "serial twice"));
    pki_revoked whim = {"01", now, "whim"};
    assert_null(pki_crl_from_list(f->ca, f->ca_key, &whim, 1, 2, 7));
    assert_non_null(strstr(pki_last_error(), "unknown revocation reason 'whim'"));
    assert_null(pki_crl_from_list(f->ca, f->ca_key, list, 3, 0, 7));
    assert_null(pki_crl_from_list(f->ca, f->ca_key, list, 3, 2, 0));
    assert_null(pki_crl_from_list(f->ca, other, list, 3, 2, 7));
    assert_null(pki_crl_from_list(f->ca, f->ca_key, NULL, 1, 2, 7));

    EVP_PKEY_free(other);
    sk_X509_free(trusted);
    X509_free(cert);
    X509_REQ_free(csr);
}

/* minica intermediate --purpose client: the CA carries EKU clientAuth, and
 * OpenSSL's purpose check then refuses a server leaf under it. */
static void intermediate_purpose(void **state)
{
    fixture *f = *state;
    pki_name n = {.cn = "Devices"};
    pki_sign_opts io = pki_sign_defaults(PKI_PROFILE_INTERMEDIATE);
    EVP_PKEY *ikey = pki_key_generate("ec");
    X509_REQ *csr = pki_csr_create(ikey, &n, NULL, 0);
    const char *sans[] = {"DNS:localhost"};
    pki_name ln = {.cn = "localhost"};
    X509_REQ *lcsr = pki_csr_create(f->leaf_key, &ln, sans, 1);
    pki_sign_opts so = pki_sign_defaults(PKI_PROFILE_SERVER);
    STACK_OF(X509) *trusted = sk_X509_new_null(), *untrusted = sk_X509_new_null();
    pki_verify_opts vo = {.purpose = PKI_PROFILE_SERVER};
    char detail[256];
    X509 *inter, *leaf;

    io.ca_purpose = PKI_PROFILE_CLIENT;
    inter = pki_sign_csr(csr, f->ca, f->ca_key, &io, NULL);
    assert_non_null(inter);
    assert_int_equal(X509_get_extended_key_usage(inter), XKU_SSL_CLIENT);
    leaf = pki_sign_csr(lcsr, inter, ikey, &so, NULL);
    assert_non_null(leaf);
    sk_X509_push(trusted, f->ca);
    sk_X509_push(untrusted, inter);
    assert_int_equal(pki_verify(leaf, trusted, untrusted, &vo, detail, sizeof detail),
                     PKI_VERIFY_WRONG_PURPOSE);
    /* a purpose on a leaf profile is a mistake, not a silent no-op */
    so.ca_purpose = PKI_PROFILE_CLIENT;
    assert_null(pki_sign_csr(lcsr, inter, ikey, &so, NULL));
    assert_non_null(strstr(pki_last_error(), "only an intermediate CA"));
    sk_X509_free(trusted);
    sk_X509_free(untrusted);
    X509_free(leaf);
    X509_free(inter);
    X509_REQ_free(lcsr);
    X509_REQ_free(csr);
    EVP_PKEY_free(ikey);
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
        cmocka_unit_test(index_duplicate_serial_refused),
        cmocka_unit_test(index_with_nul_refused),
        cmocka_unit_test(index_add_across_processes),
        cmocka_unit_test(policy_checks_csr_san_syntax),
        cmocka_unit_test(verify_refuses_partial_wildcard),
        cmocka_unit_test(san_parse_null),
        cmocka_unit_test(policy_limits_names),
        cmocka_unit_test(name_text),
        cmocka_unit_test(challenge_round_trip),
        cmocka_unit_test(challenge_types),
        cmocka_unit_test(challenge_twice),
        cmocka_unit_test(device_ignores_request_R2),
        cmocka_unit_test(device_refuses_tampered_csr_R5),
        cmocka_unit_test(device_key_types),
        cmocka_unit_test(device_serials_and_limits),
        cmocka_unit_test(crl_from_list),
        cmocka_unit_test(intermediate_purpose),
    };
    return cmocka_run_group_tests_name("pki", tests, setup, teardown);
}
