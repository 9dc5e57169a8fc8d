/* SPDX-License-Identifier: MIT */
/* tls.c - see tls.h */
#include "tls/tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "core/narrate.h"
#include "pki/pki.h"

/* ---- key log ----------------------------------------------------------- */

/* SSLKEYLOGFILE is one file per process, like in libcurl and browsers, so one
 * descriptor is enough. Each line goes out in one writev() on an O_APPEND
 * descriptor: lines from concurrent connections never interleave. */
static int g_keylog_fd = -1;
static char g_keylog_path[512];

/* Open path for appending, as a regular file of ours with mode 0600: the
 * secrets must never go to a file others can read, and open()'s mode only
 * applies when it creates the file. Returns the descriptor or -1 (printed). */
static int keylog_open(const char *path)
{
    struct stat st;
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0600);
    const char *why = NULL;

    if (fd < 0) {
        errorf("SSLKEYLOGFILE", "cannot open %s: %s", path, strerror(errno));
        hint("unset SSLKEYLOGFILE, or point it at a writable file under build/");
        return -1;
    }
    /* checked on the descriptor, not the name: no race with a rename
     * (O_NONBLOCK above: a FIFO must not hang the open) */
    if (fstat(fd, &st) != 0)
        why = strerror(errno);
    else if (!S_ISREG(st.st_mode))
        why = "not a regular file";
    else if (st.st_uid != geteuid())
        why = "the file belongs to another user";
    else if ((st.st_mode & 07777) != 0600 && fchmod(fd, 0600) != 0)
        why = strerror(errno);
    if (why) {
        errorf("SSLKEYLOGFILE", "will not write TLS secrets to %s: %s", path, why);
        hint("point SSLKEYLOGFILE at a new file of yours under build/, e.g. build/keylog.txt");
        close(fd);
        return -1;
    }
    return fd;
}

int tls_keylog_open_from_env(void)
{
    const char *path = getenv("SSLKEYLOGFILE");
    if (!path || !path[0] || g_keylog_fd >= 0)
        return 0;
    if ((g_keylog_fd = keylog_open(path)) < 0)
        return -1;
    snprintf(g_keylog_path, sizeof g_keylog_path, "%s", path);
    return 0;
}

int tls_keylog_prepare_from_env(void)
{
    const char *path = getenv("SSLKEYLOGFILE");
    int fd;
    if (!path || !path[0])
        return 0;
    if ((fd = keylog_open(path)) < 0)
        return -1;
    close(fd);
    return 0;
}

void tls_keylog_announce(void)
{
    if (g_keylog_fd >= 0)
        notice("writing TLS session secrets to %s (SSLKEYLOGFILE): whoever has this file can "
               "decrypt the captured traffic",
               g_keylog_path);
}

static void keylog_line(const SSL *ssl, const char *line)
{
    struct iovec iov[2];
    (void)ssl;
    if (g_keylog_fd < 0)
        return;
    iov[0].iov_base = (void *)line;
    iov[0].iov_len = strlen(line);
    iov[1].iov_base = "\n";
    iov[1].iov_len = 1;
    /* A lost key log line only costs decryption of one capture: no retry. */
    if (writev(g_keylog_fd, iov, 2) < 0)
        return;
}

void tls_keylog_attach(SSL_CTX *ctx)
{
    if (g_keylog_fd >= 0)
        SSL_CTX_set_keylog_callback(ctx, keylog_line);
}

void tls_keylog_close(void)
{
    if (g_keylog_fd >= 0)
        close(g_keylog_fd);
    g_keylog_fd = -1;
}

/* ---- server ------------------------------------------------------------ */

/* Load the chain and key into ctx; on failure say which file and why. */
static int load_cert_and_key(SSL_CTX *ctx, const tls_server_policy *pol)
{
    if (SSL_CTX_use_certificate_chain_file(ctx, pol->cert_chain) != 1) {
        errorf("cannot use the server certificate", "%s", pol->cert_chain);
        hint("`make pki` creates the course certificates; or name yours with --cert FILE");
        return -1;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, pol->key, SSL_FILETYPE_PEM) != 1) {
        if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH) {
            errorf("the private key does not belong to the certificate", "%s and %s",
                   pol->key, pol->cert_chain);
            hint("pass the key that was made together with this certificate");
            return -1;
        }
        errorf("cannot use the server's private key", "%s", pol->key);
        hint("`make pki` creates it; or name yours with --key FILE");
        return -1;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        errorf("the private key does not belong to the certificate", "%s and %s", pol->key,
               pol->cert_chain);
        hint("pass the key that was made together with this certificate");
        return -1;
    }
    return 0;
}

int tls_check_server_files(const tls_server_policy *pol)
{
    SSL_CTX *ctx = NULL;
    int rc = -1;

    ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) {
        errorf("TLS", "cannot create a TLS context");
        goto end;
    }
    if (load_cert_and_key(ctx, pol))
        goto end;
    rc = 0;
end:
    SSL_CTX_free(ctx);
    return rc;
}

void tls_server_announce(const tls_server_policy *pol)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    X509 *leaf = NULL;
    char when[40];

    /* An expired certificate still loads: the break-it lesson needs such a
     * server. Say it loudly instead of refusing. */
    if (ctx && SSL_CTX_use_certificate_chain_file(ctx, pol->cert_chain) == 1)
        leaf = SSL_CTX_get0_certificate(ctx);
    if (leaf && X509_cmp_current_time(X509_get0_notAfter(leaf)) < 0) {
        pki_time_text(X509_get0_notAfter(leaf), when, sizeof when);
        warning("the server certificate %s expired on %s: clients will refuse it",
                pol->cert_chain, when);
    }
    ERR_clear_error();
    SSL_CTX_free(ctx);
    tls_keylog_announce();
}

/* One certificate per server: acknowledge the client's SNI and stay on this
 * context. (civetweb's own callback re-installs the context with
 * SSL_set_SSL_CTX under a process-wide lock on every handshake, which copies
 * the certificate set each time and serialises the handshakes.) */
static int on_servername(SSL *ssl, int *alert, void *arg)
{
    (void)ssl;
    (void)alert;
    (void)arg;
    return SSL_TLSEXT_ERR_OK;
}

int tls_server_configure(SSL_CTX *ctx, const tls_server_policy *pol)
{
    /* A client that drops the connection without close_notify is normal on
     * the web (its response was complete): not an error to log. */
    SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
    SSL_CTX_set_tlsext_servername_callback(ctx, on_servername);
    if (load_cert_and_key(ctx, pol))
        return -1;
    tls_keylog_attach(ctx);
    return 0;
}

/* ---- names and dates --------------------------------------------------- */

void tls_san_text(X509 *cert, char *out, size_t out_len)
{
    GENERAL_NAMES *names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    size_t used = 0;
    out[0] = '\0';
    for (int i = 0; names && i < sk_GENERAL_NAME_num(names); i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
        char one[128] = "";
        if (g->type == GEN_DNS) {
            snprintf(one, sizeof one, "DNS:%.*s", ASN1_STRING_length(g->d.dNSName),
                     (const char *)ASN1_STRING_get0_data(g->d.dNSName));
        } else if (g->type == GEN_IPADD) {
            const ASN1_OCTET_STRING *a = g->d.iPAddress;
            int len = ASN1_STRING_length(a);
            char ip[INET6_ADDRSTRLEN] = "?";
            if (len == 4 || len == 16)
                inet_ntop(len == 4 ? AF_INET : AF_INET6, ASN1_STRING_get0_data(a), ip, sizeof ip);
            snprintf(one, sizeof one, "IP:%s", ip);
        } else if (g->type == GEN_EMAIL) {
            snprintf(one, sizeof one, "email:%.*s", ASN1_STRING_length(g->d.rfc822Name),
                     (const char *)ASN1_STRING_get0_data(g->d.rfc822Name));
        }
        if (one[0] && used + strlen(one) + 3 < out_len)
            used += (size_t)snprintf(out + used, out_len - used, "%s%s", used ? ", " : "", one);
    }
    GENERAL_NAMES_free(names);
}
