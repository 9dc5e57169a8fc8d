/*
 * pki_pem.c - subject alternative names, and reading PEM files (writing: pki_out.c).
 *
 * Loaders read the whole file under a size limit first, then parse from
 * memory: a learner pointing --ca at /dev/zero gets an error, not a hang.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "pki.h"
#include "pki_internal.h"

char *pki_read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t n = 0;

    if (!f) {
        pki_fail("%s: %s", path, strerror(errno));
        return NULL;
    }
    buf = malloc(PKI_MAX_FILE + 1);
    if (!buf) {
        pki_fail("out of memory");
        goto end;
    }
    n = fread(buf, 1, PKI_MAX_FILE + 1, f);
    if (ferror(f) || n > PKI_MAX_FILE) {
        pki_fail(ferror(f) ? "%s: read error" : "%s: larger than 1 MiB: not a PEM file", path);
        OPENSSL_cleanse(buf, n > PKI_MAX_FILE ? PKI_MAX_FILE : n);
        free(buf);
        buf = NULL;
        goto end;
    }
    buf[n] = '\0';
    *len = n;
end:
    fclose(f);
    return buf;
}

/* Characters a DNS name in a certificate may hold (RFC 5280 preferred name
 * syntax, plus a leading "*." wildcard label). */
static int dns_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 253 || s[0] == '.' || s[n - 1] == '.' || strstr(s, ".."))
        return 0;
    if (!strncmp(s, "*.", 2))
        s += 2;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '-' && *s != '.')
            return 0;
    return 1;
}

static GENERAL_NAME *ia5_name(int type, const char *value)
{
    GENERAL_NAME *gn = GENERAL_NAME_new();
    ASN1_IA5STRING *s = ASN1_IA5STRING_new();
    if (!gn || !s || !ASN1_STRING_set(s, value, (int)strlen(value))) {
        GENERAL_NAME_free(gn);
        ASN1_IA5STRING_free(s);
        pki_fail("out of memory");
        return NULL;
    }
    GENERAL_NAME_set0_value(gn, type, s);
    return gn;
}

static GENERAL_NAME *ip_name(const char *value)
{
    unsigned char addr[16];
    int len = 0;
    GENERAL_NAME *gn = NULL;
    ASN1_OCTET_STRING *os = NULL;

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
    gn = GENERAL_NAME_new();
    os = ASN1_OCTET_STRING_new();
    if (!gn || !os || !ASN1_OCTET_STRING_set(os, addr, len)) {
        GENERAL_NAME_free(gn);
        ASN1_OCTET_STRING_free(os);
        pki_fail("out of memory");
        return NULL;
    }
    GENERAL_NAME_set0_value(gn, GEN_IPADD, os);
    return gn;
}

GENERAL_NAME *pki_san_parse(const char *text)
{
    const char *colon = strchr(text, ':');
    char kind[8] = "";
    const char *v = text;
    unsigned char tmp[16];

    if (!text || strlen(text) > 1024) {
        pki_fail("subject alternative name missing or longer than 1024 characters");
        return NULL;
    }
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
    if (!strcasecmp(kind, "email")) {
        const char *at = strchr(v, '@');
        if (!at || at == v || !dns_name_ok(at + 1)) {
            pki_fail("'%s' is not an email address", v);
            return NULL;
        }
        return ia5_name(GEN_EMAIL, v);
    }
    if (!strcasecmp(kind, "URI")) {
        const char *sep = strstr(v, "://");
        if (!sep || sep == v || strpbrk(v, " \t\r\n")) {
            pki_fail("'%s' is not a URI (scheme://...)", v);
            return NULL;
        }
        return ia5_name(GEN_URI, v);
    }
    if (!dns_name_ok(v)) {
        pki_fail("'%s' is not a DNS name (letters, digits, '-' and '.')", v);
        return NULL;
    }
    return ia5_name(GEN_DNS, v);
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

/* ---- PEM in ---- */

typedef void *(*pem_reader)(BIO *, void **, pem_password_cb *, void *);

static void *read_one(const char *path, const char *what, pem_reader rd)
{
    size_t len = 0;
    char *pem = pki_read_all(path, &len);
    BIO *bio = pem ? BIO_new_mem_buf(pem, (int)len) : NULL;
    void *obj = bio ? rd(bio, NULL, NULL, NULL) : NULL;
    if (pem && !obj)
        pki_fail("%s: no PEM %s in it", path, what);
    BIO_free(bio);
    free(pem);
    return obj;
}

X509 *pki_cert_read(const char *path)
{
    return read_one(path, "certificate", (pem_reader)PEM_read_bio_X509);
}

X509_REQ *pki_csr_read(const char *path)
{
    return read_one(path, "certificate request", (pem_reader)PEM_read_bio_X509_REQ);
}

X509_CRL *pki_crl_read(const char *path)
{
    return read_one(path, "CRL", (pem_reader)PEM_read_bio_X509_CRL);
}

X509_REQ *pki_csr_from_pem(const char *pem, size_t len)
{
    BIO *bio = NULL;
    X509_REQ *csr = NULL;
    if (len > PKI_MAX_FILE) {
        pki_fail("the CSR is larger than 1 MiB");
        return NULL;
    }
    bio = BIO_new_mem_buf(pem, (int)len);
    csr = bio ? PEM_read_bio_X509_REQ(bio, NULL, NULL, NULL) : NULL;
    if (!csr)
        pki_fail("not a PEM certificate request (-----BEGIN CERTIFICATE REQUEST-----)");
    BIO_free(bio);
    return csr;
}

STACK_OF(X509) *pki_certs_read(const char *path)
{
    size_t len = 0;
    char *pem = pki_read_all(path, &len);
    BIO *bio = pem ? BIO_new_mem_buf(pem, (int)len) : NULL;
    STACK_OF(X509) *certs = bio ? sk_X509_new_null() : NULL;
    X509 *x = NULL;

    while (certs && (x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
        if (!sk_X509_push(certs, x)) {
            X509_free(x);
            break;
        }
    }
    ERR_clear_error(); /* the loop ends on "no start line": that is not an error */
    if (certs && sk_X509_num(certs) == 0) {
        pki_fail("%s: no PEM certificate in it", path);
        sk_X509_free(certs);
        certs = NULL;
    }
    BIO_free(bio);
    free(pem);
    return certs;
}
