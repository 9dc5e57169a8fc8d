/* SPDX-License-Identifier: MIT */
/* mtls.c - 05-server's mutual TLS, revocation and CRL publishing: see mtls.h. */
#include "mtls.h"

#include <errno.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/cli.h"
#include "net/webserver.h"
#include "pki/pki.h"

int mtls_option(mtls *m, int c, const char *arg)
{
    switch (c) {
    case 'A':
        m->client_ca = arg;
        return 1;
    case 'M':
        if (strcmp(arg, "required") != 0 && strcmp(arg, "optional") != 0)
            cli_usage_error("--client-cert must be 'required' or 'optional', not '%s'", arg);
        m->client_mode = arg;
        return 1;
    case 'C':
        m->crl = arg;
        return 1;
    }
    return 0;
}

int mtls_check_files(const mtls *m)
{
    /* Check the files now: one readable line instead of a failed start. */
    const char *must_read[] = {m->client_ca, m->crl};
    for (size_t i = 0; i < sizeof must_read / sizeof *must_read; i++) {
        if (must_read[i] && access(must_read[i], R_OK) != 0) {
            errorf("cannot read", "%s: %s", must_read[i], strerror(errno));
            hint("`make pki` creates build/pki/root.crt (--client-ca) and build/pki/crl.pem (--crl)");
            return -1;
        }
    }
    return 0;
}

int mtls_load_crls(mtls *m)
{
    /* Without --client-ca the CRL is only published, not checked. */
    if (m->client_ca && m->crl && !(m->crls = tls_crl_load(m->crl, m->client_ca)))
        return -1;
    return 0;
}

int mtls_civetweb_options(const mtls *m, const char **opts, size_t room)
{
    /* Trust only --client-ca for client certificates, never the system's CA
     * store; a chain longer than the course's (root, intermediate, leaf) is
     * not one of ours. */
    const char *mine[] = {
        "ssl_verify_peer",          strcmp(m->client_mode, "required") == 0 ? "yes" : "optional",
        "ssl_ca_file",              m->client_ca,
        "ssl_default_verify_paths", "no",
        "ssl_verify_depth",         "4",
    };
    size_t n = 0, count = sizeof mine / sizeof *mine;
    while (n < room && opts[n])
        n++;
    if (!m->client_ca)
        return 0;
    /* room for them and the NULL after them, or a readable error */
    if (n + count + 1 > room) {
        errorf("civetweb options", "no room for mutual TLS's %zu in a table of %zu", count, room);
        return -1;
    }
    memcpy(opts + n, mine, sizeof mine);
    opts[n + count] = NULL;
    return 0;
}

int mtls_init_ssl(SSL_CTX *ctx, mtls *m)
{
    if (m->client_ca)
        tls_client_verify_narrate(ctx);
    /* A certificate the CA revoked must not pass for its owner. */
    if (m->crls && tls_crl_attach(ctx, m->crls))
        return -1;
    return 0;
}

static const char *coverage(tls_crl *crls)
{
    return tls_crl_covers_chain(crls) ? "every CA of the chain" : "the client's certificate only";
}

void mtls_announce(const mtls *m)
{
    if (!m->client_ca)
        return;
    step("mutual TLS: a client certificate from %s is %s", m->client_ca, m->client_mode);
    if (m->crls)
        note("revocation: checked against %s (%s)", m->crl, coverage(m->crls));
    else
        notice("mutual TLS without --crl: a client certificate the CA has revoked is still "
               "accepted");
}

/* The CA revoked a certificate and published a new CRL: take it without a
 * restart, so that no connection is dropped. */
void mtls_reload(void *arg)
{
    const mtls *m = arg;
    if (tls_crl_reload(m->crls, m->crl, m->client_ca) == 0)
        note("revocation: reloaded %s (%s)", m->crl, coverage(m->crls));
    else
        notice("revocation: kept the CRLs in force");
}

void mtls_free(mtls *m)
{
    tls_crl_free(m->crls);
    m->crls = NULL;
}

/* 1 with the verified client certificate's subject ("(empty)" for a
 * certificate without one: it was verified all the same), or 0 if the client
 * sent none (mutual TLS off or optional). civetweb only exposes certificates
 * that passed verification against --client-ca. */
static int client_subject(struct mg_connection *conn, char *out, size_t out_len)
{
    const struct mg_request_info *ri = mg_get_request_info(conn);
    if (!ri->client_cert || !ri->client_cert->peer_cert)
        return 0;
    pki_name_text(X509_get_subject_name((X509 *)ri->client_cert->peer_cert), out, out_len);
    return 1;
}

int mtls_secret_for(struct mg_connection *conn, const char *secret, char *reply, size_t len)
{
    char who[256];
    int n;
    if (!client_subject(conn, who, sizeof who))
        return 0;
    note("client certificate: %s; sending the secret to it", who);
    n = snprintf(reply, len, "%s (for %s)", secret, who);
    return n > 0 && (size_t)n < len; /* cut short: the plain secret instead */
}

/* Append text to out (of out_len, used n) with HTML's special characters
 * escaped; stops before an escape that would not fit whole. */
static size_t html_escape(char *out, size_t out_len, size_t n, const char *text)
{
    for (const char *s = text; *s; s++) {
        const char *e = *s == '<' ? "&lt;" : *s == '>' ? "&gt;" : *s == '&' ? "&amp;"
                      : *s == '"' ? "&quot;" : NULL;
        size_t len = e ? strlen(e) : 1;
        if (n + len >= out_len)
            break;
        memcpy(out + n, e ? e : s, len);
        n += len;
    }
    out[n] = '\0';
    return n;
}

void mtls_greeting_html(struct mg_connection *conn, char *html, size_t len)
{
    static const char OPEN[] = "<p id=\"hello\">Hello, ";
    static const char CLOSE[] = ": your certificate was verified.</p>\n";
    char who[256];
    size_t n;
    html[0] = '\0';
    /* 6 bytes per character at most once escaped: a greeting that does not
     * fit whole is left out rather than cut */
    if (!client_subject(conn, who, sizeof who) ||
        len < sizeof OPEN + 6 * strlen(who) + sizeof CLOSE)
        return;
    note("greeting the client certificate %s", who);
    memcpy(html, OPEN, sizeof OPEN);
    n = html_escape(html, len, sizeof OPEN - 1, who);
    memcpy(html + n, CLOSE, sizeof CLOSE);
}

int mtls_get_crl(struct mg_connection *conn, void *arg)
{
    const mtls *m = arg;
    BIO *in = NULL;
    X509_CRL *crl = NULL;
    unsigned char *der = NULL;
    int len = -1, st;

    if (!m->crl)
        return web_reply_error(conn, 404, "no CRL is published here (start with --crl FILE)");
    /* DER, as RFC 5280 wants it over HTTP; read at each request so that a
     * new CRL shows at once */
    if ((in = BIO_new_file(m->crl, "r")) != NULL &&
        (crl = PEM_read_bio_X509_CRL(in, NULL, NULL, NULL)) != NULL)
        len = i2d_X509_CRL(crl, &der);
    if (len <= 0)
        st = web_reply_error(conn, 500, "cannot read the CRL %s", m->crl);
    else
        st = web_reply(conn, 200, "application/pkix-crl", der, (size_t)len);
    OPENSSL_free(der);
    X509_CRL_free(crl);
    BIO_free(in);
    return st;
}
