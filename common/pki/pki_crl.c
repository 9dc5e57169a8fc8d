/* SPDX-License-Identifier: MIT */
/*
 * pki_crl.c - a certificate revocation list from the CA's index.
 *
 * A CRL is the CA's signed list of "passports reported stolen": serial,
 * when, why. It carries its own validity (thisUpdate..nextUpdate), a number
 * that only goes up, and the CA's key identifier so a verifier finds the key.
 *
 * Two sources: the CA folder's index (minica, 04-server, make pki), or a list
 * the caller keeps (06-server's devices table, its own counter). Both end in
 * crl_finish, so both carry the same extensions and signature.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/x509v3.h>

#include "pki/pki.h"
#include "pki/pki_internal.h"

/* Read DIR/crlnumber (1 if absent) and store the next one. */
static long next_crl_number(const char *dir)
{
    char path[4096], buf[32];
    long n = 1;
    FILE *f;
    if (snprintf(path, sizeof path, "%s/crlnumber", dir) >= (int)sizeof path)
        return -1;
    if ((f = fopen(path, "r")) != NULL) {
        if (!fgets(buf, sizeof buf, f) || (n = strtol(buf, NULL, 10)) < 1 || n > 1000000000L)
            n = -1;
        fclose(f);
    }
    if (n < 1) {
        pki_fail("%s: not a CRL number", path);
        return -1;
    }
    snprintf(buf, sizeof buf, "%ld\n", n + 1);
    return pki_write_file(path, buf, strlen(buf), 0644) ? -1 : n;
}

/* Add one revoked serial (hex) to the CRL, revoked at `when`, with RFC 5280
 * CRLReason `reason` (0 unspecified). */
static int add_revoked(X509_CRL *crl, const char *serial_hex, const ASN1_TIME *when, int reason)
{
    X509_REVOKED *rev = X509_REVOKED_new();
    BIGNUM *bn = NULL;
    ASN1_INTEGER *serial = NULL;
    ASN1_ENUMERATED *code = ASN1_ENUMERATED_new();
    int rc = -1;

    if (!rev || !code || !BN_hex2bn(&bn, serial_hex) ||
        !(serial = BN_to_ASN1_INTEGER(bn, NULL)) || !X509_REVOKED_set_serialNumber(rev, serial) ||
        !X509_REVOKED_set_revocationDate(rev, (ASN1_TIME *)when))
        goto end;
    /* reason "unspecified" is expressed by leaving the extension out (RFC 5280 5.3.1) */
    if (reason > 0 && (!ASN1_ENUMERATED_set(code, reason) ||
                       !X509_REVOKED_add1_ext_i2d(rev, NID_crl_reason, code, 0, 0)))
        goto end;
    if (!X509_CRL_add0_revoked(crl, rev))
        goto end;
    rev = NULL; /* the CRL owns it now */
    rc = 0;
end:
    if (rc)
        pki_fail("serial %s cannot go into the CRL", serial_hex);
    X509_REVOKED_free(rev);
    BN_free(bn);
    ASN1_INTEGER_free(serial);
    ASN1_ENUMERATED_free(code);
    return rc;
}

/* Add one "R" line of the index: its revocation field is "DATE[,reason]". */
static int add_index_entry(X509_CRL *crl, const char *serial_hex, const char *when_reason)
{
    ASN1_TIME *when = ASN1_TIME_new();
    char date[32] = "";
    const char *comma = strchr(when_reason, ',');
    int reason = comma ? pki_reason_code(comma + 1) : 0, rc = -1;

    snprintf(date, sizeof date, "%.*s", comma ? (int)(comma - when_reason) : 31, when_reason);
    if (when && ASN1_TIME_set_string(when, date))
        rc = add_revoked(crl, serial_hex, when, reason < 0 ? 0 : reason);
    else
        pki_fail("index entry %s cannot go into the CRL", serial_hex);
    ASN1_TIME_free(when);
    return rc;
}

/* A new CRL (v2) of the CA, for this_update..next_update, with no entries. */
static X509_CRL *crl_begin(X509 *ca_cert, time_t this_update, time_t next_update)
{
    X509_CRL *crl = X509_CRL_new();
    ASN1_TIME *t = NULL;
    int ok = crl && X509_CRL_set_version(crl, X509_CRL_VERSION_2) &&
             X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca_cert)) &&
             (t = ASN1_TIME_set(NULL, this_update)) && X509_CRL_set1_lastUpdate(crl, t) &&
             ASN1_TIME_set(t, next_update) && X509_CRL_set1_nextUpdate(crl, t);
    ASN1_TIME_free(t);
    if (!ok) {
        X509_CRL_free(crl);
        return NULL;
    }
    return crl;
}

/* Number, AKI, sort, sign: what every CRL ends with. 0 or -1. */
static int crl_finish(X509_CRL *crl, X509 *ca_cert, EVP_PKEY *ca_key, long number)
{
    ASN1_INTEGER *num = ASN1_INTEGER_new();
    X509_EXTENSION *aki = NULL;
    X509V3_CTX ctx;
    int rc = -1;

    if (!num || !ASN1_INTEGER_set(num, number) ||
        !X509_CRL_add1_ext_i2d(crl, NID_crl_number, num, 0, 0))
        goto end;
    X509V3_set_ctx(&ctx, ca_cert, NULL, NULL, crl, 0);
    if (!(aki = X509V3_EXT_nconf_nid(NULL, &ctx, NID_authority_key_identifier, "keyid:always")) ||
        !X509_CRL_add_ext(crl, aki, -1))
        goto end;
    if (!X509_CRL_sort(crl) ||
        !X509_CRL_sign(crl, ca_key, EVP_PKEY_is_a(ca_key, "ED25519") ? NULL : EVP_sha256())) {
        pki_fail("signing the CRL failed (does the CA key match the CA certificate?)");
        goto end;
    }
    rc = 0;
end:
    ASN1_INTEGER_free(num);
    X509_EXTENSION_free(aki);
    return rc;
}

X509_CRL *pki_crl_create(const char *dir, X509 *ca_cert, EVP_PKEY *ca_key, int days)
{
    time_t now = time(NULL);
    if (days < 1 || days > 3650) {
        pki_fail("a CRL is valid for 1 to 3650 days");
        return NULL;
    }
    return pki_crl_create_at(dir, ca_cert, ca_key, now, now + (time_t)days * 86400);
}

X509_CRL *pki_crl_create_at(const char *dir, X509 *ca_cert, EVP_PKEY *ca_key, time_t this_update,
                            time_t next_update)
{
    char path[4096];
    char *text = NULL, *line, *save = NULL;
    size_t len = 0;
    X509_CRL *crl = NULL, *ok = NULL;
    long number;
    FILE *f;
    int lock = -1;

    pki_fail("%s", "");
    if (next_update <= this_update || next_update - this_update > (time_t)3650 * 86400) {
        pki_fail("a CRL's next update comes after its this update, within 3650 days");
        goto end;
    }
    if (snprintf(path, sizeof path, "%s/index.txt", dir) >= (int)sizeof path)
        goto end;
    /* the index as one writer left it, and a CRL number nobody else takes */
    if ((lock = pki_index_lock(dir)) < 0)
        goto end;
    if ((f = fopen(path, "r")) != NULL) {
        fclose(f);
        if (!(text = pki_read_all(path, &len)) || pki_index_text_ok(text, len, path) != 0)
            goto end;
    }
    if (!(crl = crl_begin(ca_cert, this_update, next_update)))
        goto end;
    for (line = text ? strtok_r(text, "\n", &save) : NULL; line; line = strtok_r(NULL, "\n", &save)) {
        char *fld[4] = {line}, *p = line;
        int n = 1;
        while (n < 4 && (p = strchr(p, '\t')) != NULL) {
            *p++ = '\0';
            fld[n++] = p;
        }
        if (n == 4 && fld[0][0] == 'R') {
            char *tab = strchr(fld[3], '\t');
            if (tab)
                *tab = '\0';
            if (add_index_entry(crl, fld[3], fld[2]))
                goto end;
        }
    }
    if ((number = next_crl_number(dir)) < 0 || crl_finish(crl, ca_cert, ca_key, number))
        goto end;
    ok = crl;
    crl = NULL;
end:
    pki_index_unlock(lock);
    if (!ok && !*pki_last_error())
        pki_fail("cannot build the CRL");
    X509_CRL_free(crl);
    free(text);
    return ok;
}

/* 1 if s is 1 to 40 hex digits (a serial of at most RFC 5280's 20 bytes),
 * nothing else: BN_hex2bn alone takes "-1" and stops quietly at "12zz". */
static int serial_hex_ok(const char *s)
{
    size_t n = s ? strspn(s, "0123456789abcdefABCDEF") : 0;
    return n >= 1 && n <= 40 && s[n] == '\0';
}

X509_CRL *pki_crl_from_list(X509 *ca, EVP_PKEY *ca_key, const pki_revoked *list, size_t n,
                            long crl_number, int days)
{
    time_t now = time(NULL);
    X509_CRL *crl = NULL, *ok = NULL;
    ASN1_TIME *when = NULL;
    STACK_OF(X509_REVOKED) *revs;

    pki_fail("%s", "");
    if (!ca || !ca_key || (n && !list)) {
        pki_fail("pki_crl_from_list: the CA, its key and the list are needed");
        return NULL;
    }
    if (days < 1 || days > 3650 || crl_number < 1 || n > PKI_MAX_CRL_ENTRIES) {
        pki_fail("a CRL is valid for 1 to 3650 days, its number is at least 1, and it lists at "
                 "most %d serials", PKI_MAX_CRL_ENTRIES);
        return NULL;
    }
    if (!X509_check_private_key(ca, ca_key)) {
        pki_fail("the CA key does not match the CA certificate");
        return NULL;
    }
    if (!(crl = crl_begin(ca, now, now + (time_t)days * 86400)) || !(when = ASN1_TIME_new()))
        goto end;
    for (size_t i = 0; i < n; i++) {
        int reason = list[i].reason ? pki_reason_code(list[i].reason) : 0;
        if (!serial_hex_ok(list[i].serial_hex)) {
            pki_fail("entry %zu: '%.48s' is not a serial in hex", i,
                     list[i].serial_hex ? list[i].serial_hex : "(null)");
            goto end;
        }
        if (reason < 0) {
            pki_fail("entry %zu: unknown revocation reason '%.32s'", i, list[i].reason);
            goto end;
        }
        if (!ASN1_TIME_set(when, list[i].revoked_at) ||
            add_revoked(crl, list[i].serial_hex, when, reason))
            goto end;
    }
    if (crl_finish(crl, ca, ca_key, crl_number))
        goto end;
    /* sorted by serial now: a serial listed twice sits next to itself. One
     * entry per certificate, or a verifier may take either reason. */
    revs = X509_CRL_get_REVOKED(crl);
    for (int i = 1; i < sk_X509_REVOKED_num(revs); i++)
        if (!ASN1_INTEGER_cmp(X509_REVOKED_get0_serialNumber(sk_X509_REVOKED_value(revs, i - 1)),
                              X509_REVOKED_get0_serialNumber(sk_X509_REVOKED_value(revs, i)))) {
            pki_fail("the list holds a serial twice");
            goto end;
        }
    ok = crl;
    crl = NULL;
end:
    if (!ok && !*pki_last_error())
        pki_fail("cannot build the CRL");
    X509_CRL_free(crl);
    ASN1_TIME_free(when);
    return ok;
}
