/* SPDX-License-Identifier: MIT */
/*
 * minica_util.c - what minica's subcommands share: the passphrase, opening
 * a CA folder, and saying what was written in words.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/ui.h>

#include "core/cli.h"
#include "minica.h"

#define MAX_PASS 1024

void mc_free_pass(char *pass)
{
    if (pass) {
        OPENSSL_cleanse(pass, strlen(pass));
        free(pass);
    }
}

char *mc_passphrase(const char *pass_file, int confirm)
{
    char *pass = NULL;
    const char *env = getenv("MINICA_PASSPHRASE");

    if (pass_file) {
        size_t len = 0;
        char *text = cli_read_file(pass_file, MAX_PASS, &len);
        if (!text)
            return NULL;
        text[strcspn(text, "\r\n")] = '\0'; /* the first line only */
        if (!*text) {
            errorf(pass_file, "the passphrase file is empty");
            mc_free_pass(text);
            return NULL;
        }
        if (strlen(text) < 8) {
            errorf(pass_file, "a CA passphrase needs at least 8 characters");
            mc_free_pass(text);
            return NULL;
        }
        return text;
    }
    if (env && *env) {
        if (strlen(env) < 8 || strlen(env) > MAX_PASS) {
            errorf("MINICA_PASSPHRASE", "a CA passphrase needs 8 to %d characters", MAX_PASS);
            return NULL;
        }
        return strdup(env);
    }
    if (!isatty(STDIN_FILENO)) {
        errorf("passphrase", "the CA key needs a passphrase and there is no terminal to ask on");
        hint("use --pass-file FILE (first line) or set MINICA_PASSPHRASE");
        return NULL;
    }
    pass = calloc(1, MAX_PASS + 1);
    if (!pass)
        return NULL;
    /* OpenSSL's UI reads from the terminal with echo off */
    if (EVP_read_pw_string_min(pass, 8, MAX_PASS, "CA passphrase (8+ characters): ", confirm) != 0) {
        errorf("passphrase", "no passphrase read (at least 8 characters, typed the same twice)");
        mc_free_pass(pass);
        return NULL;
    }
    return pass;
}

void mc_path(char *out, size_t n, const char *dir, const char *name)
{
    if (snprintf(out, n, "%s/%s", dir, name) >= (int)n)
        cli_usage_error("--dir '%s' is too long", dir);
}

int mc_fail(const char *what)
{
    errorf(what, "%s", pki_last_error());
    return EXIT_FAILED;
}

int mc_ca_open(const char *dir, const char *pass_file, mc_ca *ca)
{
    char path[4096];
    char *pass = NULL;
    int rc = -1;

    memset(ca, 0, sizeof *ca);
    if (!dir)
        cli_usage_error("--dir DIR is needed (the CA's folder, made by 'minica init')");
    mc_path(path, sizeof path, dir, "ca.crt");
    if (!(ca->cert = pki_cert_read(path))) {
        mc_fail("CA certificate");
        hint("is '%s' a CA folder? make one with: minica init --dir %s", dir, dir);
        goto end;
    }
    mc_path(path, sizeof path, dir, "chain.crt");
    if (access(path, F_OK) == 0) {
        if (!(ca->chain = pki_certs_read(path))) {
            mc_fail("CA chain");
            goto end;
        }
    } else if (!(ca->chain = sk_X509_new_null())) {
        goto end;
    }
    if (!(pass = mc_passphrase(pass_file, 0)))
        goto end;
    mc_path(path, sizeof path, dir, "ca.key");
    if (!(ca->key = pki_key_read(path, pass))) {
        mc_fail("CA key");
        hint("the CA key is encrypted: give the passphrase it was made with");
        goto end;
    }
    rc = 0;
end:
    mc_free_pass(pass);
    if (rc)
        mc_ca_close(ca);
    return rc;
}

void mc_ca_close(mc_ca *ca)
{
    X509_free(ca->cert);
    EVP_PKEY_free(ca->key);
    sk_X509_pop_free(ca->chain, X509_free);
    memset(ca, 0, sizeof *ca);
}

void mc_report_cert(const char *path, X509 *cert, const char *what)
{
    char when[40];
    long days = pki_days_until(X509_get0_notAfter(cert));
    pki_time_text(X509_get0_notAfter(cert), when, sizeof when);
    if (days >= 0)
        result("wrote %s  (%s; expires %s, in %ld day%s)", path, what, when, days, mc_s(days));
    else
        result("wrote %s  (%s; EXPIRED on %s, %ld day%s ago)", path, what, when, -days,
               mc_s(days));
}
