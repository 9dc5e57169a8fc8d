/* SPDX-License-Identifier: MIT */
/*
 * pki_csr.c - subject names and certificate signing requests: what a
 * requester makes on its own machine (the key never leaves it), and the one
 * attribute chapter 06's enrolment reads from a request, its
 * challengePassword (PKCS#9, RFC 2985 5.4.1), which EST (RFC 7030 3.5)
 * uses to carry the TLS channel binding.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/x509v3.h>

#include "pki/pki.h"
#include "pki/pki_internal.h"

static int add_name_field(X509_NAME *name, const char *field, const char *value)
{
    if (!value || !*value)
        return 0;
    if (strlen(value) > 64 || (!strcmp(field, "C") && strlen(value) != 2)) {
        pki_fail("subject %s '%s' is too long%s", field, value,
                 strcmp(field, "C") ? " (64 characters at most)" : " (C is a 2-letter code)");
        return -1;
    }
    if (!X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8, (const unsigned char *)value, -1,
                                    -1, 0)) {
        pki_fail("subject %s '%s' is not acceptable", field, value);
        return -1;
    }
    return 0;
}

X509_NAME *pki_build_name(const pki_name *n)
{
    X509_NAME *name = X509_NAME_new();
    if (!name || add_name_field(name, "C", n->c) || add_name_field(name, "ST", n->st) ||
        add_name_field(name, "L", n->l) || add_name_field(name, "O", n->o) ||
        add_name_field(name, "OU", n->ou) || add_name_field(name, "CN", n->cn)) {
        X509_NAME_free(name);
        return NULL;
    }
    return name;
}

/* 1 if the UTF-8 text holds a character that does not belong in a name:
 * a C0 control (NUL cuts the name short in C, CR/LF forge log lines), DEL,
 * a C1 control (U+0080..U+009F, two bytes in UTF-8), or '<' / '>', which turn
 * a name into markup wherever it is shown in a web page. */
static int name_char_bad(const unsigned char *s, int len, const char **what)
{
    for (int i = 0; i < len; i++) {
        if (s[i] < 0x20 || s[i] == 0x7f || (s[i] == 0xc2 && i + 1 < len && s[i + 1] < 0xa0)) {
            *what = "a control character (NUL, CR, LF, ...)";
            return 1;
        }
        if (s[i] == '<' || s[i] == '>') {
            *what = "'<' or '>' (markup)";
            return 1;
        }
    }
    return 0;
}

int pki_subject_check(const X509_NAME *name)
{
    int n = X509_NAME_entry_count(name), cns = 0;

    /* an empty subject is legal for a leaf whose names are all in the SANs,
     * but whoever shows "who is this" (a log line, 05-server's greeting) then
     * has nothing to show, and some take it for "no certificate at all" */
    if (n <= 0) {
        pki_fail("the request's subject is empty: a certificate must name its holder "
                 "(one CN, for example CN=alice)");
        return -1;
    }
    if (n > PKI_MAX_NAME_FIELDS) {
        pki_fail("the request's subject has %d fields; this CA signs at most %d", n,
                 PKI_MAX_NAME_FIELDS);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        const X509_NAME_ENTRY *e = X509_NAME_get_entry(name, i);
        int nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(e));
        const char *field = nid == NID_undef ? "(unknown field)" : OBJ_nid2sn(nid);
        unsigned char *utf8 = NULL;
        const char *what = NULL;
        int len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(e)), chars = 0;

        if (len < 0) {
            pki_fail("the subject's %s is not readable text", field);
            return -1;
        }
        /* characters, not bytes: a UTF-8 continuation byte starts none */
        for (int j = 0; j < len; j++)
            chars += (utf8[j] & 0xc0) != 0x80;
        if (name_char_bad(utf8, len, &what))
            pki_fail("the subject's %s holds %s", field, what);
        else if (chars == 0)
            pki_fail("the subject's %s is empty", field);
        else if (chars > PKI_MAX_NAME_CHARS)
            pki_fail("the subject's %s has %d characters; at most %d (RFC 5280's upper bound "
                     "for a CN)", field, chars, PKI_MAX_NAME_CHARS);
        OPENSSL_free(utf8);
        if (what || chars == 0 || chars > PKI_MAX_NAME_CHARS)
            return -1;
        cns += nid == NID_commonName;
    }
    /* exactly one CN: with two, one program shows the first and another the
     * last, and "who is this" has two answers */
    if (cns != 1) {
        if (cns == 0)
            pki_fail("the request's subject has no CN: a certificate must name its holder "
                     "(one CN, for example CN=alice)");
        else
            pki_fail("the request's subject has %d CNs; exactly one is signed", cns);
        return -1;
    }
    return 0;
}

X509_REQ *pki_csr_create(EVP_PKEY *key, const pki_name *subject, const char *const *sans,
                         size_t n_sans)
{
    X509_REQ *req = X509_REQ_new();
    X509_NAME *name = pki_build_name(subject);
    GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
    STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
    X509_REQ *ok = NULL;

    if (!req || !name || !gens || !exts)
        goto end;
    for (size_t i = 0; i < n_sans; i++) {
        GENERAL_NAME *gn = pki_san_parse(sans[i]);
        if (!gn)
            goto end;
        if (!sk_GENERAL_NAME_push(gens, gn)) {
            GENERAL_NAME_free(gn);
            goto end;
        }
    }
    if (!X509_REQ_set_version(req, X509_REQ_VERSION_1) || !X509_REQ_set_subject_name(req, name) ||
        !X509_REQ_set_pubkey(req, key)) {
        pki_fail("cannot fill in the request");
        goto end;
    }
    if (n_sans > 0 && (!X509V3_add1_i2d(&exts, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT) ||
                       !X509_REQ_add_extensions(req, exts))) {
        pki_fail("cannot add the subject alternative names");
        goto end;
    }
    if (!X509_REQ_sign(req, key, pki_digest_for(key))) {
        pki_fail("cannot sign the request");
        goto end;
    }
    ok = req;
    req = NULL;
end:
    X509_REQ_free(req);
    X509_NAME_free(name);
    GENERAL_NAMES_free(gens);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    return ok;
}

int pki_csr_verify(X509_REQ *csr)
{
    EVP_PKEY *pub = X509_REQ_get0_pubkey(csr);
    if (!pub) {
        pki_fail("the request carries no readable public key");
        return -1;
    }
    if (X509_REQ_verify(csr, pub) != 1) {
        pki_fail("the request's self-signature does not verify: it was altered, or its maker "
                 "does not hold the private key");
        return -1;
    }
    return 0;
}

/* 1 if every byte is one PrintableString allows (X.680: letters, digits,
 * space and '()+,-./:=?): OpenSSL parses the type without checking. */
static int printable_ok(const unsigned char *s, int len)
{
    for (int i = 0; i < len; i++)
        if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
              (s[i] >= '0' && s[i] <= '9') || strchr(" '()+,-./:=?", s[i]) != NULL) ||
            s[i] == '\0')
            return 0;
    return 1;
}

int pki_csr_challenge_get(X509_REQ *csr, char *out, size_t out_len)
{
    int at, len, type;
    X509_ATTRIBUTE *attr;
    ASN1_TYPE *value;
    const unsigned char *data;
    unsigned char *utf8 = NULL;

    pki_fail("%s", "");
    if (out && out_len)
        out[0] = '\0';
    if (!csr || !out || out_len == 0) {
        pki_fail("pki_csr_challenge_get: a request and a buffer are needed");
        return -1;
    }
    if ((at = X509_REQ_get_attr_by_NID(csr, NID_pkcs9_challengePassword, -1)) < 0) {
        pki_fail("the request has no challengePassword");
        return -1;
    }
    /* two of them: one reader takes the first and another the last, and the
     * binding has two answers */
    if (X509_REQ_get_attr_by_NID(csr, NID_pkcs9_challengePassword, at) >= 0) {
        pki_fail("the request has more than one challengePassword");
        return -1;
    }
    attr = X509_REQ_get_attr(csr, at);
    if (X509_ATTRIBUTE_count(attr) != 1 || !(value = X509_ATTRIBUTE_get0_type(attr, 0))) {
        pki_fail("the request's challengePassword must hold exactly one value");
        return -1;
    }
    type = ASN1_TYPE_get(value);
    if (type != V_ASN1_PRINTABLESTRING && type != V_ASN1_UTF8STRING) {
        pki_fail("the request's challengePassword is not a PrintableString or UTF8String");
        return -1;
    }
    data = ASN1_STRING_get0_data(value->value.asn1_string);
    len = ASN1_STRING_length(value->value.asn1_string);
    if (type == V_ASN1_PRINTABLESTRING && !printable_ok(data, len)) {
        pki_fail("the request's challengePassword holds a character a PrintableString may not");
        return -1;
    }
    /* ASN1_STRING_to_UTF8 decodes, so it refuses UTF-8 that is not */
    if (type == V_ASN1_UTF8STRING &&
        (ASN1_STRING_to_UTF8(&utf8, value->value.asn1_string) != len ||
         memchr(data, '\0', (size_t)len))) {
        OPENSSL_free(utf8);
        pki_fail("the request's challengePassword is not UTF-8 text (or holds a NUL)");
        return -1;
    }
    OPENSSL_free(utf8);
    if ((size_t)len >= out_len) {
        pki_fail("the request's challengePassword is %d bytes; at most %zu fit", len, out_len - 1);
        return -1;
    }
    memcpy(out, data, (size_t)len);
    out[len] = '\0';
    return 0;
}

int pki_csr_challenge_set(X509_REQ *csr, const char *value)
{
    ASN1_STRING *str = NULL;
    size_t len = value ? strlen(value) : 0;
    int at;

    pki_fail("%s", "");
    if (!csr || len == 0 || len > PKI_MAX_CHALLENGE) {
        pki_fail("a challengePassword is 1 to %d bytes", PKI_MAX_CHALLENGE);
        return -1;
    }
    /* copying as UTF-8 into a UTF8String checks that the text is UTF-8 */
    if (ASN1_mbstring_copy(&str, (const unsigned char *)value, (int)len, MBSTRING_UTF8,
                           B_ASN1_UTF8STRING) < 0) {
        pki_fail("the challengePassword is not UTF-8 text");
        return -1;
    }
    while ((at = X509_REQ_get_attr_by_NID(csr, NID_pkcs9_challengePassword, -1)) >= 0)
        X509_ATTRIBUTE_free(X509_REQ_delete_attr(csr, at));
    at = X509_REQ_add1_attr_by_NID(csr, NID_pkcs9_challengePassword, V_ASN1_UTF8STRING,
                                   ASN1_STRING_get0_data(str), ASN1_STRING_length(str));
    ASN1_STRING_free(str);
    if (!at) {
        pki_fail("cannot add the challengePassword to the request");
        return -1;
    }
    return 0;
}
