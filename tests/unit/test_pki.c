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
        cmocka_unit_test(index_add_across_processes),
        cmocka_unit_test(policy_checks_csr_san_syntax),
        cmocka_unit_test(verify_refuses_partial_wildcard),
        cmocka_unit_test(san_parse_null),
        cmocka_unit_test(policy_limits_names),
        cmocka_unit_test(name_text),
    };
    return cmocka_run_group_tests_name("pki", tests, setup, teardown);
}
