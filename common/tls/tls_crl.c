/* SPDX-License-Identifier: MIT */
/* tls_crl.c - the revocation half of tls.h's server side: the CRLs named by
 * 05-server --crl check every client certificate, and SIGHUP swaps in new ones.
 *
 * The CRLs in force are one immutable set. Each verification takes a
 * reference to the current set and hands it to OpenSSL for that verification
 * only (X509_STORE_CTX_set0_crls, with the CRL flags set on that verification
 * too); a reload builds a new set and swaps the pointer. So nothing shared is
 * ever changed under a handshake, and the old set is freed by its last user.
 * The SSL_CTX's own store holds no CRL at all. */
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509_vfy.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/narrate.h"
#include "pki/pki.h"
#include "tls/tls.h"

typedef struct crl_set {
    STACK_OF(X509_CRL) *crls;
    int all;      /* one of them is signed by a trust anchor: check every CA */
    unsigned gen; /* the reload that put it in force (0: the start) */
    int refs;     /* under tls_crl.lock */
} crl_set;

struct tls_crl {
    pthread_mutex_t lock;
    crl_set *current;
    /* Bumped by each reload; written into every session ticket, so that a
     * ticket from before a reload cannot skip the new CRL (below). */
    atomic_uint generation;
};

/* Every certificate and CRL of a PEM file; NULL after printing why. */
static STACK_OF(X509_INFO) *read_pem(const char *path, const char *what)
{
    BIO *in = BIO_new_file(path, "r");
    STACK_OF(X509_INFO) *items = in ? PEM_X509_INFO_read_bio(in, NULL, NULL, NULL) : NULL;
    BIO_free(in);
    if (!items) {
        errorf("cannot read", "%s %s: not PEM", what, path);
        hint("`make pki` creates build/pki/root.crt (--client-ca) and build/pki/crl.pem (--crl)");
    }
    return items;
}

/* Is crl signed by one of the self-signed certificates in cas (a root)? Then
 * the CRLs cover the chain up to it, and every CA below it is checked too. A
 * CA file may also hold an intermediate as the anchor (chapter 06 trusts its
 * device CA alone, with X509_V_FLAG_PARTIAL_CHAIN): the chain ends at that
 * anchor, which no CRL can revoke, so its own CRL covers the leaf only. */
static int signed_by_anchor(X509_CRL *crl, STACK_OF(X509_INFO) *cas)
{
    for (int i = 0; i < sk_X509_INFO_num(cas); i++) {
        X509 *ca = sk_X509_INFO_value(cas, i)->x509;
        EVP_PKEY *key = ca && X509_self_signed(ca, 0) == 1 ? X509_get0_pubkey(ca) : NULL;
        if (key && X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(ca)) == 0 &&
            X509_CRL_verify(crl, key) == 1)
            return 1;
    }
    ERR_clear_error();
    return 0;
}

static void set_free(crl_set *set)
{
    if (set) {
        sk_X509_CRL_pop_free(set->crls, X509_CRL_free);
        free(set);
    }
}

/* The CRLs of crl_file, read once and checked. A CRL past its nextUpdate
 * makes OpenSSL refuse every client certificate (fail closed, as it should):
 * at start that is a warning, said before the first refusal; on a reload
 * (stale_refused) such a file is no update and is refused. NULL after
 * printing why. */
static crl_set *set_load(const char *crl_file, const char *ca_file, int stale_refused)
{
    STACK_OF(X509_INFO) *items = NULL, *cas = NULL;
    crl_set *set = calloc(1, sizeof *set);
    char when[40];
    int ok = 0;

    if (!set || !(set->crls = sk_X509_CRL_new_null()) ||
        !(items = read_pem(crl_file, "the CRL")) || !(cas = read_pem(ca_file, "the CA")))
        goto end;
    for (int i = 0; i < sk_X509_INFO_num(items); i++) {
        X509_CRL *crl = sk_X509_INFO_value(items, i)->crl;
        if (!crl)
            continue;
        if (!X509_CRL_up_ref(crl)) {
            errorf("cannot read", "the CRL %s: out of memory", crl_file);
            goto end;
        }
        if (!sk_X509_CRL_push(set->crls, crl)) {
            X509_CRL_free(crl); /* the reference taken just above */
            errorf("cannot read", "the CRL %s: out of memory", crl_file);
            goto end;
        }
        if (signed_by_anchor(crl, cas))
            set->all = 1;
        if (X509_CRL_get0_nextUpdate(crl) &&
            X509_cmp_current_time(X509_CRL_get0_nextUpdate(crl)) < 0) {
            pki_time_text(X509_CRL_get0_nextUpdate(crl), when, sizeof when);
            if (stale_refused) {
                errorf("cannot reload", "the CRL in %s was due for renewal on %s: not an update",
                       crl_file, when);
                hint("`minica crl` makes a fresh one");
                goto end;
            }
            warning("the CRL in %s was due for renewal on %s: every client certificate will be "
                    "refused until a fresh one is given",
                    crl_file, when);
        }
        /* Dated in the future (beyond 5 minutes of clock skew): OpenSSL
         * refuses every client ("CRL is not yet valid"), and on a reload the
         * CA's next correct CRL would look older than it. */
        time_t soon = time(NULL) + 300;
        if (X509_cmp_time(X509_CRL_get0_lastUpdate(crl), &soon) > 0) {
            pki_time_text(X509_CRL_get0_lastUpdate(crl), when, sizeof when);
            if (stale_refused) {
                errorf("cannot reload", "the CRL in %s is dated %s, in the future: not an update",
                       crl_file, when);
                hint("check the clocks of the CA and of this machine");
                goto end;
            }
            warning("the CRL in %s is dated %s, in the future: every client certificate will be "
                    "refused until then",
                    crl_file, when);
        }
    }
    if (sk_X509_CRL_num(set->crls) == 0) {
        errorf("cannot read", "the CRL %s: no X509 CRL in it", crl_file);
        hint("`make pki` creates build/pki/crl.pem; `minica crl` makes a fresh one");
        goto end;
    }
    ok = 1;
end:
    sk_X509_INFO_pop_free(items, X509_INFO_free);
    sk_X509_INFO_pop_free(cas, X509_INFO_free);
    if (!ok) {
        set_free(set);
        return NULL;
    }
    return set;
}

/* An update must not weaken the check. For every CA that has a CRL in force,
 * the file must hold one too (leaving one out would stop checking what that
 * CA revoked, an intermediate among them), and not an older one (it could
 * lift revocations). 0 if so, else -1 after printing why. */
static int set_may_follow(const crl_set *now, const crl_set *next, const char *crl_file)
{
    char was[40], is[40], who[256];
    for (int j = 0; j < sk_X509_CRL_num(now->crls); j++) {
        X509_CRL *o = sk_X509_CRL_value(now->crls, j);
        int found = 0;
        for (int i = 0; i < sk_X509_CRL_num(next->crls) && !found; i++)
            found = X509_NAME_cmp(X509_CRL_get_issuer(sk_X509_CRL_value(next->crls, i)),
                                  X509_CRL_get_issuer(o)) == 0;
        if (!found) {
            pki_name_text(X509_CRL_get_issuer(o), who, sizeof who);
            errorf("cannot reload",
                   "%s has no CRL from %s, which has one in force: its revocations would "
                   "no longer be checked",
                   crl_file, who);
            hint("put the CRLs of every CA in the file (cat root-crl.pem crl.pem), or restart "
                 "the server to check less");
            return -1;
        }
    }
    for (int i = 0; i < sk_X509_CRL_num(next->crls); i++) {
        X509_CRL *n = sk_X509_CRL_value(next->crls, i);
        for (int j = 0; j < sk_X509_CRL_num(now->crls); j++) {
            X509_CRL *o = sk_X509_CRL_value(now->crls, j);
            if (X509_NAME_cmp(X509_CRL_get_issuer(n), X509_CRL_get_issuer(o)) == 0 &&
                ASN1_TIME_compare(X509_CRL_get0_lastUpdate(n), X509_CRL_get0_lastUpdate(o)) < 0) {
                pki_time_text(X509_CRL_get0_lastUpdate(n), is, sizeof is);
                pki_time_text(X509_CRL_get0_lastUpdate(o), was, sizeof was);
                errorf("cannot reload",
                       "the CRL in %s (made %s) is older than the one in force (made %s): it "
                       "could lift revocations",
                       crl_file, is, was);
                hint("give the CA's latest CRL (`minica crl`)");
                return -1;
            }
        }
    }
    return 0;
}

tls_crl *tls_crl_load(const char *crl_file, const char *ca_file)
{
    tls_crl *c = calloc(1, sizeof *c);
    if (!c || !(c->current = set_load(crl_file, ca_file, 0))) {
        free(c);
        return NULL;
    }
    pthread_mutex_init(&c->lock, NULL);
    c->current->refs = 1;
    atomic_init(&c->generation, 0);
    return c;
}

int tls_crl_covers_chain(tls_crl *c)
{
    pthread_mutex_lock(&c->lock);
    int all = c->current->all;
    pthread_mutex_unlock(&c->lock);
    return all;
}

static crl_set *set_get(tls_crl *c)
{
    pthread_mutex_lock(&c->lock);
    crl_set *set = c->current;
    set->refs++;
    pthread_mutex_unlock(&c->lock);
    return set;
}

static void set_put(tls_crl *c, crl_set *set)
{
    pthread_mutex_lock(&c->lock);
    int last = --set->refs == 0;
    pthread_mutex_unlock(&c->lock);
    if (last)
        set_free(set);
}

int tls_crl_reload(tls_crl *c, const char *crl_file, const char *ca_file)
{
    crl_set *next = set_load(crl_file, ca_file, 1), *now;
    if (!next)
        return -1;
    now = set_get(c);
    int older = set_may_follow(now, next, crl_file);
    set_put(c, now);
    if (older) {
        set_free(next);
        return -1;
    }
    next->refs = 1;
    pthread_mutex_lock(&c->lock);
    now = c->current;
    c->current = next;
    next->gen = atomic_fetch_add(&c->generation, 1) + 1;
    pthread_mutex_unlock(&c->lock);
    set_put(c, now); /* the table's reference; handshakes may hold more */
    return 0;
}

void tls_crl_free(tls_crl *c)
{
    if (!c)
        return;
    set_free(c->current);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

/* OpenSSL's whole client-certificate check, with the CRL set in force. */
static int verify_with_crls(X509_STORE_CTX *store, void *arg)
{
    tls_crl *c = arg;
    crl_set *set = set_get(c);
    /* The leaf's issuer must have a CRL (else "unable to get certificate
     * CRL"); with CRL_CHECK_ALL every CA below the root must too. */
    X509_STORE_CTX_set0_crls(store, set->crls);
    X509_STORE_CTX_set_flags(store,
                             X509_V_FLAG_CRL_CHECK | (set->all ? X509_V_FLAG_CRL_CHECK_ALL : 0));
    /* The session's tickets will say which CRLs this check used (a reload
     * may come between the check and the ticket). */
    SSL *ssl = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx());
    if (ssl && SSL_get_session(ssl))
        SSL_SESSION_set1_ticket_appdata(SSL_get_session(ssl), &set->gen, sizeof set->gen);
    int ok = X509_verify_cert(store);
    X509_STORE_CTX_set0_crls(store, NULL);
    set_put(c, set);
    return ok;
}

/* A resumed session skips the certificate check. So each ticket carries the
 * generation of the CRLs its certificate was checked against (set by
 * verify_with_crls, kept when a resumed session gets a new ticket), and a
 * ticket from before the latest reload is not resumed: that client does a
 * full handshake, and its certificate meets the new CRLs. A session without
 * a client certificate (--client-cert optional) gets the current one. */
static int ticket_made(SSL *ssl, void *arg)
{
    tls_crl *c = arg;
    SSL_SESSION *sess = SSL_get_session(ssl);
    void *data = NULL;
    size_t len = 0;
    if (SSL_SESSION_get0_ticket_appdata(sess, &data, &len) == 1 && len == sizeof(unsigned))
        return 1;
    unsigned gen = atomic_load(&c->generation);
    return SSL_SESSION_set1_ticket_appdata(sess, &gen, sizeof gen);
}

static SSL_TICKET_RETURN ticket_opened(SSL *ssl, SSL_SESSION *sess, const unsigned char *keyname,
                                       size_t keyname_len, SSL_TICKET_STATUS status, void *arg)
{
    tls_crl *c = arg;
    void *data = NULL;
    size_t len = 0;
    unsigned gen;
    (void)ssl;
    (void)keyname;
    (void)keyname_len;
    switch (status) {
    case SSL_TICKET_SUCCESS:
    case SSL_TICKET_SUCCESS_RENEW:
        if (SSL_SESSION_get0_ticket_appdata(sess, &data, &len) == 1 && len == sizeof gen) {
            memcpy(&gen, data, sizeof gen);
            if (gen == atomic_load(&c->generation))
                return status == SSL_TICKET_SUCCESS ? SSL_TICKET_RETURN_USE
                                                    : SSL_TICKET_RETURN_USE_RENEW;
        }
        return SSL_TICKET_RETURN_IGNORE_RENEW;
    case SSL_TICKET_FATAL_ERR_MALLOC:
    case SSL_TICKET_FATAL_ERR_OTHER:
        return SSL_TICKET_RETURN_ABORT;
    default: /* no ticket, an empty one, or one we cannot decrypt */
        return SSL_TICKET_RETURN_IGNORE_RENEW;
    }
}

/* The server's side of a refused client certificate: which one and why
 * (civetweb only logs "certificate verify failed"). Keeps OpenSSL's verdict. */
static int on_client_verify(int ok, X509_STORE_CTX *store)
{
    X509 *cert = X509_STORE_CTX_get_current_cert(store);
    char who[256] = "?";
    if (!ok) {
        if (cert)
            pki_name_text(X509_get_subject_name(cert), who, sizeof who);
        notice("refusing the client certificate %s (depth %d): %s", who,
               X509_STORE_CTX_get_error_depth(store),
               X509_verify_cert_error_string(X509_STORE_CTX_get_error(store)));
    }
    return ok;
}

void tls_client_verify_narrate(SSL_CTX *ctx)
{
    /* the store's callback: civetweb sets the SSL_CTX's own to NULL, and
     * OpenSSL then uses this one */
    X509_STORE_set_verify_cb(SSL_CTX_get_cert_store(ctx), on_client_verify);
}

int tls_crl_attach(SSL_CTX *ctx, tls_crl *c)
{
    SSL_CTX_set_cert_verify_callback(ctx, verify_with_crls, c);
    /* TLS 1.2 session ids resume from the server's cache, where no
     * generation can be checked: resumption goes by tickets only. (civetweb
     * sets a cache mode of its own only with ssl_cache_timeout > 0, which
     * 05-server never sets.) */
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    if (SSL_CTX_set_session_ticket_cb(ctx, ticket_made, ticket_opened, c) != 1) {
        errorf("TLS", "cannot tie session tickets to the CRLs in force");
        return -1;
    }
    return 0;
}
