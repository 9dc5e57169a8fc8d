/* SPDX-License-Identifier: MIT */
/*
 * minica_inspect.c - inspect: a certificate, CSR, CRL or key in words, never
 * private material, and never a description of something it could not read
 * (verify, the client's decision: minica_verify.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "core/cli.h"
#include "minica.h"

/* An extension's value as OpenSSL words ("Digital Signature, Key Encipherment"). */
static void ext_str(X509 *cert, int nid, char *out, size_t n)
{
    int i = X509_get_ext_by_NID(cert, nid, -1);
    X509_EXTENSION *ext = i >= 0 ? X509_get_ext(cert, i) : NULL;
    BIO *bio = NULL;
    char *data = NULL;
    long len;
    snprintf(out, n, "(none)");
    if (!ext || !(bio = BIO_new(BIO_s_mem())))
        return;
    if (X509V3_EXT_print(bio, ext, 0, 0) == 1 && (len = BIO_get_mem_data(bio, &data)) > 0) {
        snprintf(out, n, "%s%.*s", X509_EXTENSION_get_critical(ext) ? "critical, " : "", (int)len,
                 data);
        for (char *c = out; *c; c++)
            if (*c == '\n')
                *c = ' ';
    }
    BIO_free(bio);
}

static void show_cert(X509 *cert, int index)
{
    char buf[1024], a[40], b[40];
    GENERAL_NAMES *sans = pki_cert_sans(cert);
    EVP_PKEY *pub = X509_get0_pubkey(cert);
    long days = pki_days_until(X509_get0_notAfter(cert));
    long start = pki_days_until(X509_get0_notBefore(cert));
    int ca = X509_check_ca(cert);

    printf("certificate%s\n", index ? " (next in the file)" : "");
    pki_name_text(X509_get_subject_name(cert), buf, sizeof buf);
    printf("  issued to:     %s\n", buf);
    pki_name_text(X509_get_issuer_name(cert), buf, sizeof buf);
    printf("  issued by:     %s%s\n", buf, X509_check_issued(cert, cert) == X509_V_OK ? " (itself: a root)" : "");
    pki_sans_describe(sans, buf, sizeof buf);
    printf("  names (SAN):   %s\n", buf[0] ? buf : "(none)");
    pki_time_text(X509_get0_notBefore(cert), a, sizeof a);
    pki_time_text(X509_get0_notAfter(cert), b, sizeof b);
    printf("  valid:         %s .. %s\n", a, b);
    if (start > 0 || (start == 0 && X509_cmp_current_time(X509_get0_notBefore(cert)) > 0))
        printf("  status:        NOT YET VALID (starts in %ld day%s)\n", start, mc_s(start));
    else if (X509_cmp_current_time(X509_get0_notAfter(cert)) < 0)
        printf("  status:        EXPIRED %ld day%s ago\n", -days, mc_s(days));
    else
        printf("  status:        expires in %ld day%s\n", days, mc_s(days));
    if (pub)
        pki_key_describe(pub, buf, sizeof buf);
    printf("  key:           %s\n", pub ? buf : "(unreadable)");
    pki_serial_hex(X509_get0_serialNumber(cert), buf, sizeof buf);
    printf("  serial:        %s\n", buf);
    ext_str(cert, NID_basic_constraints, buf, sizeof buf);
    printf("  kind:          %s (%s)\n", ca ? "CA: may sign certificates" : "leaf: may not sign certificates", buf);
    ext_str(cert, NID_key_usage, buf, sizeof buf);
    printf("  key usage:     %s\n", buf);
    ext_str(cert, NID_ext_key_usage, buf, sizeof buf);
    printf("  ext key usage: %s\n", buf);
    ext_str(cert, NID_subject_key_identifier, buf, sizeof buf);
    printf("  subject key:   %s\n", buf);
    ext_str(cert, NID_authority_key_identifier, buf, sizeof buf);
    printf("  issuer key:    %s\n", buf);
    if (X509_get_ext_by_NID(cert, NID_crl_distribution_points, -1) >= 0) {
        ext_str(cert, NID_crl_distribution_points, buf, sizeof buf);
        printf("  CRL at:        %s\n", buf);
    }
    pki_fingerprint(cert, buf, sizeof buf);
    printf("  SHA-256:       %s\n", buf);
    GENERAL_NAMES_free(sans);
}

static void show_csr(X509_REQ *csr)
{
    char buf[1024];
    GENERAL_NAMES *sans = pki_csr_sans(csr);
    STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(csr);
    EVP_PKEY *pub = X509_REQ_get0_pubkey(csr);
    int ok = pki_csr_verify(csr) == 0;

    printf("certificate signing request\n");
    pki_name_text(X509_REQ_get_subject_name(csr), buf, sizeof buf);
    printf("  subject:       %s\n", buf);
    pki_sans_describe(sans, buf, sizeof buf);
    printf("  names (SAN):   %s\n", buf[0] ? buf : "(none)");
    if (pub)
        pki_key_describe(pub, buf, sizeof buf);
    printf("  key:           %s\n", pub ? buf : "(unreadable)");
    printf("  self-signature: %s\n", ok ? "valid (its maker holds the private key)"
                                        : "INVALID: altered, or not made with this key");
    printf("  asks for:      ");
    for (int i = 0; exts && i < sk_X509_EXTENSION_num(exts); i++) {
        int nid = OBJ_obj2nid(X509_EXTENSION_get_object(sk_X509_EXTENSION_value(exts, i)));
        printf("%s%s", i ? ", " : "", nid == NID_undef ? "unknown" : OBJ_nid2sn(nid));
    }
    printf("%s\n", exts && sk_X509_EXTENSION_num(exts) ? " (a CA keeps only the names)" : "nothing else");
    ERR_clear_error();
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    GENERAL_NAMES_free(sans);
}

static void show_crl(X509_CRL *crl)
{
    char buf[512], a[40], b[40];
    STACK_OF(X509_REVOKED) *revs = X509_CRL_get_REVOKED(crl);
    ASN1_INTEGER *num = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL, NULL);
    long left = X509_CRL_get0_nextUpdate(crl) ? pki_days_until(X509_CRL_get0_nextUpdate(crl)) : 0;

    printf("certificate revocation list\n");
    pki_name_text(X509_CRL_get_issuer(crl), buf, sizeof buf);
    printf("  issued by:     %s\n", buf);
    pki_time_text(X509_CRL_get0_lastUpdate(crl), a, sizeof a);
    pki_time_text(X509_CRL_get0_nextUpdate(crl), b, sizeof b);
    printf("  this update:   %s\n  next update:   %s (%s %ld day%s)\n", a, b,
           left >= 0 ? "in" : "OVERDUE by", left >= 0 ? left : -left, mc_s(left));
    printf("  CRL number:    %ld\n", num ? ASN1_INTEGER_get(num) : -1L);
    printf("  revoked:       %d certificate%s\n", revs ? sk_X509_REVOKED_num(revs) : 0,
           mc_s(revs ? sk_X509_REVOKED_num(revs) : 0));
    for (int i = 0; revs && i < sk_X509_REVOKED_num(revs); i++) {
        X509_REVOKED *r = sk_X509_REVOKED_value(revs, i);
        ASN1_ENUMERATED *why = X509_REVOKED_get_ext_d2i(r, NID_crl_reason, NULL, NULL);
        static const char *const names[] = {"unspecified", "keyCompromise", "cACompromise",
                                            "affiliationChanged", "superseded",
                                            "cessationOfOperation", "certificateHold", "?",
                                            "removeFromCRL", "privilegeWithdrawn", "aACompromise"};
        long code = why ? ASN1_ENUMERATED_get(why) : 0;
        pki_serial_hex(X509_REVOKED_get0_serialNumber(r), buf, sizeof buf);
        pki_time_text(X509_REVOKED_get0_revocationDate(r), a, sizeof a);
        printf("    %s  since %s  (%s)\n", buf, a, code >= 0 && code <= 10 ? names[code] : "?");
        ASN1_ENUMERATED_free(why);
    }
    ASN1_INTEGER_free(num);
}

/* An encrypted PKCS#8 key cannot be opened without its passphrase, but its
 * outer structure (algorithm, salt, ciphertext) can be parsed: junk between
 * the BEGIN and END lines is caught either way. */
static int encrypted_structure_ok(const char *pem)
{
    BIO *bio = BIO_new_mem_buf(pem, -1);
    X509_SIG *p8 = bio ? PEM_read_bio_PKCS8(bio, NULL, NULL, NULL) : NULL;
    int ok = p8 != NULL;
    X509_SIG_free(p8);
    BIO_free(bio);
    return ok;
}

static int show_key(const char *path, const char *pem, const char *pass_file)
{
    struct stat st;
    char desc[64];
    int enc = strstr(pem, "-----BEGIN " PEM_STRING_PKCS8 "-----") != NULL;
    int pkcs8 = enc || strstr(pem, "-----BEGIN " PEM_STRING_PKCS8INF "-----") != NULL;
    char *pass = NULL;
    EVP_PKEY *key = NULL;
    int rc = EXIT_FAILED;

    /* read it before saying anything about it: a BEGIN line around junk is
     * not a key, encrypted or not */
    if (enc && pass_file && !(pass = mc_passphrase(pass_file, 0))) {
        printf("?\n");
        goto end;
    }
    if (enc && !pass) {
        if (!encrypted_structure_ok(pem)) {
            printf("?\n");
            errorf(path, "not an encrypted private key: the text between the PEM lines does not "
                   "parse");
            goto end;
        }
    } else if (!(key = pki_key_read(path, pass))) {
        printf("?\n");
        errorf("private key", "%s", pki_last_error()); /* it names the file */
        if (!enc)
            hint("the text between the BEGIN and END lines must be a key, in base64");
        goto end;
    }
    printf("private key (contents not shown)\n");
    printf("  format:        %s%s\n", pkcs8 ? "PKCS#8 PEM" : "traditional PEM (not PKCS#8)",
           enc ? ", encrypted (PBES2: AES-256-CBC, key from the passphrase by PBKDF2)"
               : strstr(pem, "ENCRYPTED") ? ", encrypted" : ", NOT encrypted");
    if (key) {
        pki_key_describe(key, desc, sizeof desc);
        printf("  key:           %s\n", desc);
    } else {
        printf("  key:           (give --pass-file to see its type)\n");
    }
    if (stat(path, &st) == 0)
        printf("  file mode:     %04o%s\n", (unsigned)st.st_mode & 07777,
               cli_mode_open(st.st_mode) ? "  WARNING: others can read it; chmod 600" : " (only the owner)");
    rc = EXIT_OK;
end:
    mc_free_pass(pass);
    EVP_PKEY_free(key);
    return rc;
}

int mc_inspect(mc_opts *o)
{
    int rc = EXIT_OK;
    if (o->n_args < 1)
        cli_usage_error("inspect needs a FILE");
    for (int f = 0; f < o->n_args; f++) {
        const char *path = o->args[f];
        size_t len = 0;
        char *pem = cli_read_file(path, PKI_MAX_FILE, &len);
        if (!pem) {
            rc = EXIT_FAILED;
            continue;
        }
        printf("%s%s: ", f ? "\n" : "", path);
        if (strstr(pem, "-----BEGIN " PEM_STRING_X509_REQ "-----")) {
            X509_REQ *csr = pki_csr_read(path);
            if (csr)
                show_csr(csr);
            X509_REQ_free(csr);
            rc = csr ? rc : mc_fail(path);
        } else if (strstr(pem, "-----BEGIN " PEM_STRING_X509 "-----")) {
            STACK_OF(X509) *certs = pki_certs_read(path);
            for (int i = 0; certs && i < sk_X509_num(certs); i++)
                show_cert(sk_X509_value(certs, i), i);
            rc = certs ? rc : mc_fail(path);
            sk_X509_pop_free(certs, X509_free);
        } else if (strstr(pem, "BEGIN X509 CRL")) {
            X509_CRL *crl = pki_crl_read(path);
            if (crl)
                show_crl(crl);
            X509_CRL_free(crl);
            rc = crl ? rc : mc_fail(path);
        } else if (strstr(pem, "PRIVATE KEY-----")) {
            if (show_key(path, pem, o->pass_file) != EXIT_OK)
                rc = EXIT_FAILED;
        } else {
            printf("?\n");
            errorf(path, "not a PEM certificate, request, CRL or private key");
            rc = EXIT_FAILED;
        }
        OPENSSL_cleanse(pem, len);
        free(pem);
    }
    return rc;
}
