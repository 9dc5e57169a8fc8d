/* SPDX-License-Identifier: MIT */
/*
 * pki_san.c - subject alternative names: parsing what a user types, checking
 * what a CSR asks for (the same rules for both), describing them in words.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/x509v3.h>

#include "pki/pki.h"
#include "pki/pki_internal.h"

/* Characters a DNS name in a certificate may hold (RFC 5280 preferred name
 * syntax), plus, when wildcard is set, one leftmost "*." label: never "*",
 * "*.*.com" or "f*o.example". */
static int dns_name_ok(const char *s, int wildcard)
{
    size_t n = strlen(s);
    if (n == 0 || n > 253 || s[0] == '.' || s[n - 1] == '.' || strstr(s, ".."))
        return 0;
    if (wildcard && !strncmp(s, "*.", 2))
        s += 2;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '-' && *s != '.')
            return 0;
    return 1;
}

/* A GENERAL_NAME of that type holding data in s: an IA5String of text for a
 * DNS name, an OCTET STRING of address bytes for an IP address. Takes s. */
static GENERAL_NAME *general_name(int type, ASN1_STRING *s, const void *data, int len)
{
    GENERAL_NAME *gn = GENERAL_NAME_new();
    if (!gn || !s || !ASN1_STRING_set(s, data, len)) {
        GENERAL_NAME_free(gn);
        ASN1_STRING_free(s);
        pki_fail("out of memory");
        return NULL;
    }
    GENERAL_NAME_set0_value(gn, type, s);
    return gn;
}

static GENERAL_NAME *ia5_name(int type, const char *value)
{
    return general_name(type, ASN1_IA5STRING_new(), value, (int)strlen(value));
}

static GENERAL_NAME *ip_name(const char *value)
{
    unsigned char addr[16];
    int len = 0;

    /* an iPAddress SAN holds the 4 or 16 address bytes, not text: a client
     * checking 127.0.0.1 compares bytes, and a DNS "127.0.0.1" never matches */
    if (inet_pton(AF_INET, value, addr) == 1)
        len = 4;
    else if (inet_pton(AF_INET6, value, addr) == 1)
        len = 16;
    else {
        pki_fail("'%s' is not an IPv4 or IPv6 address", value);
        return NULL;
    }
    return general_name(GEN_IPADD, ASN1_OCTET_STRING_new(), addr, len);
}

/* 1 if v is acceptable as the value of a DNS, email or URI name; else 0,
 * with the reason recorded. The one check for names minica is given on its
 * command line and for names a CSR from the network asks for. */
static int san_value_ok(int type, const char *v)
{
    if (type == GEN_EMAIL) {
        const char *at = strchr(v, '@');
        if (!at || at == v || !dns_name_ok(at + 1, 0)) {
            pki_fail("'%s' is not an email address", v);
            return 0;
        }
        return 1;
    }
    if (type == GEN_URI) {
        const char *sep = strstr(v, "://");
        if (!sep || sep == v || strpbrk(v, " \t\r\n")) {
            pki_fail("'%s' is not a URI (scheme://...)", v);
            return 0;
        }
        return 1;
    }
    if (!dns_name_ok(v, 1)) {
        pki_fail("'%s' is not a DNS name (letters, digits, '-' and '.')", v);
        return 0;
    }
    return 1;
}

GENERAL_NAME *pki_san_parse(const char *text)
{
    const char *colon = NULL;
    char kind[8] = "";
    const char *v = text;
    unsigned char tmp[16];
    int type;

    if (!text || strlen(text) > 1024) {
        pki_fail("subject alternative name missing or longer than 1024 characters");
        return NULL;
    }
    colon = strchr(text, ':');
    /* "KIND:value" when KIND is one we know; else guess from the value
     * (an IPv6 address has colons too, so try the address parse first) */
    if (colon && colon - text < (long)sizeof kind && inet_pton(AF_INET6, text, tmp) != 1) {
        memcpy(kind, text, (size_t)(colon - text));
        kind[colon - text] = '\0';
        if (!strcasecmp(kind, "DNS") || !strcasecmp(kind, "IP") || !strcasecmp(kind, "email") ||
            !strcasecmp(kind, "URI"))
            v = colon + 1;
        else
            kind[0] = '\0';
    }
    if (!kind[0]) {
        if (inet_pton(AF_INET, v, tmp) == 1 || inet_pton(AF_INET6, v, tmp) == 1)
            strcpy(kind, "IP");
        else if (strstr(v, "://"))
            strcpy(kind, "URI");
        else if (strchr(v, '@'))
            strcpy(kind, "email");
        else
            strcpy(kind, "DNS");
    }
    if (!strcasecmp(kind, "IP"))
        return ip_name(v);
    type = !strcasecmp(kind, "email") ? GEN_EMAIL : !strcasecmp(kind, "URI") ? GEN_URI : GEN_DNS;
    return san_value_ok(type, v) ? ia5_name(type, v) : NULL;
}

int pki_san_check(const GENERAL_NAME *gn)
{
    int type = 0, len;
    const ASN1_STRING *s = GENERAL_NAME_get0_value(gn, &type);
    const unsigned char *d = s ? ASN1_STRING_get0_data(s) : NULL;
    char v[1025];

    len = s ? ASN1_STRING_length(s) : -1;
    if (type == GEN_IPADD) {
        if (len != 4 && len != 16) {
            pki_fail("an IP address name must hold 4 or 16 bytes (this one has %d)", len);
            return -1;
        }
        return 0;
    }
    if (type != GEN_DNS && type != GEN_EMAIL && type != GEN_URI) {
        pki_fail("the request asks for a kind of name this CA does not sign (only DNS, IP, "
                 "email and URI)");
        return -1;
    }
    if (!d || len < 0 || len > 1024) {
        pki_fail("a subject alternative name is missing or longer than 1024 characters");
        return -1;
    }
    /* printable ASCII only: no NUL to cut the name short in C ("good.example\0.evil"),
     * and no control characters to reach a terminal through an error message */
    for (int i = 0; i < len; i++)
        if (d[i] < 0x20 || d[i] > 0x7e) {
            pki_fail("a subject alternative name holds a control or non-ASCII byte");
            return -1;
        }
    memcpy(v, d, (size_t)len);
    v[len] = '\0';
    return san_value_ok(type, v) ? 0 : -1;
}

int pki_sans_describe(const GENERAL_NAMES *sans, char *out, size_t out_len)
{
    size_t used = 0;
    out[0] = '\0';
    for (int i = 0; sans && i < sk_GENERAL_NAME_num(sans); i++) {
        const GENERAL_NAME *gn = sk_GENERAL_NAME_value(sans, i);
        char one[300] = "";
        int type = 0;
        const ASN1_STRING *s = GENERAL_NAME_get0_value(gn, &type);
        const unsigned char *d = s ? ASN1_STRING_get0_data(s) : NULL;
        int len = s ? ASN1_STRING_length(s) : 0;
        char addr[INET6_ADDRSTRLEN] = "?";

        switch (type) {
        case GEN_DNS:
            snprintf(one, sizeof one, "DNS:%.*s", len, (const char *)d);
            break;
        case GEN_EMAIL:
            snprintf(one, sizeof one, "email:%.*s", len, (const char *)d);
            break;
        case GEN_URI:
            snprintf(one, sizeof one, "URI:%.*s", len, (const char *)d);
            break;
        case GEN_IPADD:
            if (len == 4 || len == 16)
                inet_ntop(len == 4 ? AF_INET : AF_INET6, d, addr, sizeof addr);
            snprintf(one, sizeof one, "IP:%s", addr);
            break;
        default:
            snprintf(one, sizeof one, "other(type %d)", type);
        }
        int w = snprintf(out + used, out_len - used, "%s%s", used ? ", " : "", one);
        if (w < 0 || (size_t)w >= out_len - used)
            return -1;
        used += (size_t)w;
    }
    return 0;
}

GENERAL_NAMES *pki_cert_sans(X509 *cert)
{
    return X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
}

GENERAL_NAMES *pki_csr_sans(X509_REQ *csr)
{
    STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(csr);
    GENERAL_NAMES *sans = exts ? X509V3_get_d2i(exts, NID_subject_alt_name, NULL, NULL) : NULL;
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    return sans;
}
