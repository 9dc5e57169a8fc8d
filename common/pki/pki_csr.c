/*
 * pki_csr.c - subject names and certificate signing requests: what a
 * requester makes on its own machine (the key never leaves it).
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
