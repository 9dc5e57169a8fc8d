/* SPDX-License-Identifier: MIT */
/*
 * pki_sign.c - the self-signed root, and signing with a policy (CSRs: pki_csr.c).
 *
 * The policy is the lesson: a CA signs what it decided, not what it was asked.
 * From a CSR we take the subject and the subject alternative names, after
 * checking the CSR's self-signature (proof that the requester holds the
 * private key) and that both are of a size and shape every program that shows
 * them can show (pki_subject_check in pki_csr.c, PKI_MAX_SANS, pki_san_check).
 * Every other requested extension (BasicConstraints CA:TRUE first of all) is
 * ignored and reported; the profile decides the rest.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "pki/pki.h"
#include "pki/pki_internal.h"

static const char *const PROFILE_NAMES[] = {"root", "intermediate", "server", "client"};

int pki_profile_parse(const char *name)
{
    for (int i = 0; i < 4; i++)
        if (name && !strcmp(name, PROFILE_NAMES[i]))
            return i;
    return -1;
}

const char *pki_profile_name(pki_profile p)
{
    return (unsigned)p < 4 ? PROFILE_NAMES[p] : "?";
}

pki_sign_opts pki_sign_defaults(pki_profile profile)
{
    pki_sign_opts o = {.profile = profile};
    /* 825 days: the longest leaf lifetime browsers accepted until 2020;
     * CAs live longer than what they sign */
    o.days = profile == PKI_PROFILE_ROOT ? 3650 : profile == PKI_PROFILE_INTERMEDIATE ? 1825 : 825;
    return o;
}

const EVP_MD *pki_digest_for(EVP_PKEY *key)
{
    /* Ed25519 signs the message itself: no separate digest */
    return EVP_PKEY_is_a(key, "ED25519") ? NULL : EVP_sha256();
}

static int add_ext(X509 *cert, X509V3_CTX *ctx, int nid, const char *value)
{
    X509_EXTENSION *ext = X509V3_EXT_nconf_nid(NULL, ctx, nid, value);
    int ok = ext && X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
    if (!ok)
        pki_fail("cannot add extension %s = %s", OBJ_nid2sn(nid), value);
    return ok ? 0 : -1;
}

/* 128 random bits as a positive INTEGER (17 DER bytes when the top bit is
 * set, which RFC 5280's 20-byte limit allows). Unpredictable serials are what
 * stopped the 2008 MD5 collision attack on a real CA. */
static int set_random_serial(X509 *cert)
{
    unsigned char r[16];
    BIGNUM *bn = NULL;
    int rc = -1;
    if (RAND_bytes(r, sizeof r) != 1 || !(bn = BN_bin2bn(r, sizeof r, NULL)))
        goto end;
    if (BN_is_zero(bn) && !BN_one(bn))
        goto end;
    if (BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)))
        rc = 0;
end:
    if (rc)
        pki_fail("cannot make a random serial number");
    BN_free(bn);
    return rc;
}

static int set_validity(X509 *cert, X509 *issuer, const pki_sign_opts *o, pki_sign_report *rep)
{
    time_t nb = o->not_before ? o->not_before : time(NULL);
    time_t na = o->not_after ? o->not_after : nb + (time_t)o->days * 86400;
    if (o->days <= 0 && !o->not_after) {
        pki_fail("validity must be at least one day");
        return -1;
    }
    if (na <= nb) {
        pki_fail("the validity window is empty (not after is before not before)");
        return -1;
    }
    if (!ASN1_TIME_set(X509_getm_notBefore(cert), nb) ||
        !ASN1_TIME_set(X509_getm_notAfter(cert), na))
        return -1;
    /* nothing outlives its issuer: a certificate valid after its CA expired
     * would fail anyway, so say so now instead of on that day */
    if (issuer && ASN1_TIME_cmp_time_t(X509_get0_notAfter(issuer), na) < 0) {
        if (!X509_set1_notAfter(cert, X509_get0_notAfter(issuer)))
            return -1;
        if (rep)
            rep->capped = 1;
    }
    return 0;
}

/* The profile's extensions, in the order a reader expects them. */
static int add_profile_exts(X509 *cert, X509 *issuer, EVP_PKEY *pub, const pki_sign_opts *o)
{
    X509V3_CTX ctx;
    const char *bc, *ku, *eku = NULL;
    char crldp[1100];

    X509V3_set_ctx(&ctx, issuer ? issuer : cert, cert, NULL, NULL, 0);
    switch (o->profile) {
    case PKI_PROFILE_ROOT:
        bc = "critical,CA:TRUE";
        ku = "critical,keyCertSign,cRLSign";
        break;
    case PKI_PROFILE_INTERMEDIATE:
        /* pathlen 0: it may sign leaves, never another CA */
        bc = "critical,CA:TRUE,pathlen:0";
        ku = "critical,keyCertSign,cRLSign";
        /* an EKU on a CA restricts everything under it (OpenSSL checks the
         * purpose on every certificate of the chain): a device CA with
         * clientAuth only cannot vouch for a TLS server, whatever it signs */
        if (o->ca_purpose == PKI_PROFILE_CLIENT || o->ca_purpose == PKI_PROFILE_SERVER)
            eku = o->ca_purpose == PKI_PROFILE_SERVER ? "serverAuth" : "clientAuth";
        break;
    default:
        bc = "critical,CA:FALSE";
        /* keyEncipherment only means something for RSA key transport */
        ku = EVP_PKEY_is_a(pub, "RSA") && o->profile == PKI_PROFILE_SERVER
                 ? "critical,digitalSignature,keyEncipherment"
                 : "critical,digitalSignature";
        eku = o->profile == PKI_PROFILE_SERVER ? "serverAuth" : "clientAuth";
    }
    if (add_ext(cert, &ctx, NID_basic_constraints, bc) || add_ext(cert, &ctx, NID_key_usage, ku) ||
        (eku && add_ext(cert, &ctx, NID_ext_key_usage, eku)) ||
        add_ext(cert, &ctx, NID_subject_key_identifier, "hash") ||
        add_ext(cert, &ctx, NID_authority_key_identifier, "keyid:always"))
        return -1;
    if (o->crl_url && o->profile != PKI_PROFILE_ROOT) {
        if (strlen(o->crl_url) > 1024 || strncmp(o->crl_url, "http", 4) || strpbrk(o->crl_url, ", ")) {
            pki_fail("CRL URL '%s' must be http(s)://... without spaces or commas", o->crl_url);
            return -1;
        }
        snprintf(crldp, sizeof crldp, "URI:%s", o->crl_url);
        if (add_ext(cert, &ctx, NID_crl_distribution_points, crldp))
            return -1;
    }
    return 0;
}

/* The common part: fill, extend and sign a certificate. */
static X509 *make_cert(const X509_NAME *subject, EVP_PKEY *pub, GENERAL_NAMES *sans, X509 *issuer,
                       EVP_PKEY *signer, const pki_sign_opts *o, pki_sign_report *rep)
{
    X509 *cert = X509_new();
    X509 *ok = NULL;
    if (!cert || !X509_set_version(cert, X509_VERSION_3) || set_random_serial(cert) ||
        !X509_set_subject_name(cert, subject) ||
        !X509_set_issuer_name(cert, issuer ? X509_get_subject_name(issuer) : subject) ||
        !X509_set_pubkey(cert, pub) || set_validity(cert, issuer, o, rep) ||
        add_profile_exts(cert, issuer, pub, o))
        goto end;
    if (sans && sk_GENERAL_NAME_num(sans) > 0 &&
        !X509_add1_ext_i2d(cert, NID_subject_alt_name, sans, X509_NAME_entry_count(subject) == 0,
                           X509V3_ADD_DEFAULT)) {
        pki_fail("cannot add the subject alternative names");
        goto end;
    }
    if (!X509_sign(cert, signer, pki_digest_for(signer))) {
        pki_fail("signing failed (does the CA key match the CA certificate?)");
        goto end;
    }
    ok = cert;
    cert = NULL;
end:
    if (!ok && !*pki_last_error())
        pki_fail("cannot build the certificate");
    X509_free(cert);
    return ok;
}

X509 *pki_root_create(EVP_PKEY *key, const pki_name *subject, const pki_sign_opts *opts)
{
    X509_NAME *name = pki_build_name(subject);
    pki_sign_opts o = *opts;
    X509 *cert = NULL;
    o.profile = PKI_PROFILE_ROOT;
    pki_fail("%s", "");
    if (name)
        cert = make_cert(name, key, NULL, NULL, key, &o, NULL);
    X509_NAME_free(name);
    return cert;
}

/* Which requested extensions the policy drops, for the report. */
static void note_ignored(X509_REQ *csr, pki_sign_report *rep)
{
    STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(csr);
    size_t used = 0;
    for (int i = 0; exts && i < sk_X509_EXTENSION_num(exts); i++) {
        int nid = OBJ_obj2nid(X509_EXTENSION_get_object(sk_X509_EXTENSION_value(exts, i)));
        if (nid == NID_subject_alt_name)
            continue;
        const char *sn = nid == NID_undef ? "unknown" : OBJ_nid2sn(nid);
        int w = snprintf(rep->ignored + used, sizeof rep->ignored - used, "%s%s", used ? ", " : "", sn);
        if (w > 0 && (size_t)w < sizeof rep->ignored - used)
            used += (size_t)w;
    }
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
}

X509 *pki_sign_csr(X509_REQ *csr, X509 *issuer, EVP_PKEY *issuer_key, const pki_sign_opts *opts,
                   pki_sign_report *report)
{
    pki_sign_report local = {0};
    pki_sign_report *rep = report ? report : &local;
    GENERAL_NAMES *sans = NULL;
    EVP_PKEY *pub = NULL;
    X509 *cert = NULL;

    memset(rep, 0, sizeof *rep);
    pki_fail("%s", "");
    if (opts->profile == PKI_PROFILE_ROOT) {
        pki_fail("a root is self-signed; it is never made from a CSR");
        return NULL;
    }
    if (opts->ca_purpose && (opts->profile != PKI_PROFILE_INTERMEDIATE ||
                             (opts->ca_purpose != PKI_PROFILE_CLIENT &&
                              opts->ca_purpose != PKI_PROFILE_SERVER))) {
        pki_fail("only an intermediate CA is restricted to a purpose, client or server");
        return NULL;
    }
    if (pki_csr_verify(csr) || pki_subject_check(X509_REQ_get_subject_name(csr)))
        return NULL;
    pub = X509_REQ_get0_pubkey(csr);
    if (EVP_PKEY_is_a(pub, "RSA") && EVP_PKEY_get_bits(pub) < 2048) {
        pki_fail("RSA keys under 2048 bits are refused (this one has %d)", EVP_PKEY_get_bits(pub));
        return NULL;
    }
    if (!X509_check_private_key(issuer, issuer_key)) {
        pki_fail("the CA key does not match the CA certificate");
        return NULL;
    }
    sans = pki_csr_sans(csr);
    if (sans && sk_GENERAL_NAME_num(sans) > PKI_MAX_SANS) {
        pki_fail("the request asks for %d subject alternative names; this CA signs at most %d",
                 sk_GENERAL_NAME_num(sans), PKI_MAX_SANS);
        goto end;
    }
    /* the CSR's names are the requester's bytes: the same kind and syntax
     * checks as minica's own (no "*", "*.*.com" or "f*o.example") */
    for (int i = 0; sans && i < sk_GENERAL_NAME_num(sans); i++)
        if (pki_san_check(sk_GENERAL_NAME_value(sans, i)))
            goto end;
    if (opts->profile == PKI_PROFILE_SERVER && (!sans || sk_GENERAL_NAME_num(sans) == 0)) {
        pki_fail("a server certificate needs at least one subject alternative name "
                 "(clients check names there, not in the CN)");
        goto end;
    }
    note_ignored(csr, rep);
    cert = make_cert(X509_REQ_get_subject_name(csr), pub, sans, issuer, issuer_key, opts, rep);
end:
    GENERAL_NAMES_free(sans);
    return cert;
}

/* 0 if a device key is one chapter 06 accepts: Ed25519, or EC on P-256.
 * Anything else is refused by name: R5's CA handed out RSA-1024 by default,
 * and a CA that signs "any key that verifies" signs that too. */
static int device_key_check(EVP_PKEY *pub)
{
    char group[64] = "", desc[80];
    size_t glen = 0;
    if (EVP_PKEY_is_a(pub, "ED25519"))
        return 0;
    if (EVP_PKEY_is_a(pub, "EC") &&
        EVP_PKEY_get_utf8_string_param(pub, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                       &glen) == 1 &&
        !strcmp(group, "prime256v1"))
        return 0;
    pki_key_describe(pub, desc, sizeof desc);
    pki_fail("a device key must be Ed25519 or EC P-256; this request's key is %s", desc);
    return -1;
}

X509 *pki_issue_device(X509_REQ *csr, X509 *ca, EVP_PKEY *ca_key, const char *cn, int days,
                       char *serial_hex, size_t serial_len)
{
    pki_sign_opts o = pki_sign_defaults(PKI_PROFILE_CLIENT);
    pki_name subj = {.cn = cn};
    X509_NAME *name = NULL;
    EVP_PKEY *pub;
    X509 *cert = NULL;

    pki_fail("%s", "");
    if (!csr || !ca || !ca_key || !cn || !serial_hex || serial_len == 0) {
        pki_fail("pki_issue_device: a request, the CA, its key, a name and a serial buffer "
                 "are needed");
        return NULL;
    }
    serial_hex[0] = '\0';
    if (days < 1 || days > PKI_MAX_DEVICE_DAYS) {
        pki_fail("a device certificate is valid for 1 to %d days", PKI_MAX_DEVICE_DAYS);
        return NULL;
    }
    /* proof of possession first: nothing else in a request is worth reading
     * before we know its maker holds the key */
    if (pki_csr_verify(csr) || device_key_check(pub = X509_REQ_get0_pubkey(csr)))
        return NULL;
    if (!X509_check_private_key(ca, ca_key)) {
        pki_fail("the CA key does not match the CA certificate");
        return NULL;
    }
    /* the name is the caller's (the account that authenticated), never the
     * request's; it still passes the checks every subject passes */
    if (!(name = pki_build_name(&subj)) || pki_subject_check(name))
        goto end;
    o.days = days;
    /* no SANs and none of the request's extensions: make_cert adds only the
     * client profile's */
    if (!(cert = make_cert(name, pub, NULL, ca, ca_key, &o, NULL)))
        goto end;
    if (pki_serial_hex(X509_get0_serialNumber(cert), serial_hex, serial_len)) {
        pki_fail("the serial buffer is too small (%zu bytes; 33 are needed)", serial_len);
        serial_hex[0] = '\0';
        X509_free(cert);
        cert = NULL;
    }
end:
    X509_NAME_free(name);
    return cert;
}
