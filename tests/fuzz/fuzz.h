/* SPDX-License-Identifier: MIT */
/*
 * fuzz.h - what the libFuzzer targets share (tests/fuzz/README.md).
 *
 * A target that needs its input in a file (the tools read files a student
 * may be handed) writes it to one scratch file of its own, in /dev/shm when
 * there is one: rewritten for each input, never a new file per run.
 */
#ifndef COURSE_FUZZ_H
#define COURSE_FUZZ_H

#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* A folder of this process's own, made once (removed at exit). */
static char fuzz_dir_path[256];
static inline void fuzz_dir_remove(void)
{
    char cmd[300];
    if (fuzz_dir_path[0] && snprintf(cmd, sizeof cmd, "rm -rf '%s'", fuzz_dir_path) < (int)sizeof cmd)
        if (system(cmd) != 0) {
        }
}
static inline const char *fuzz_dir(void)
{
    if (!fuzz_dir_path[0]) {
        const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
        snprintf(fuzz_dir_path, sizeof fuzz_dir_path, "%s/course-fuzz.XXXXXX", base);
        if (!mkdtemp(fuzz_dir_path))
            abort();
        atexit(fuzz_dir_remove);
    }
    return fuzz_dir_path;
}

/* Path of FILE inside fuzz_dir() (a static buffer per call site is enough) */
static inline void fuzz_path(char *out, size_t n, const char *file)
{
    snprintf(out, n, "%s/%s", fuzz_dir(), file);
}

/* Write data to FILE inside fuzz_dir(), mode 0600; abort if that fails (the
 * machine, not the input). */
static inline void fuzz_write(const char *path, const void *data, size_t size)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        abort();
    if (size && write(fd, data, size) != (ssize_t)size)
        abort();
    close(fd);
}

/* A NUL-terminated copy of the input (a parser that takes C strings). */
static inline char *fuzz_str(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        abort();
    memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

/* An EC P-256 key and a self-signed certificate for it, made once per
 * process (a CA for the targets that sign, a peer for those that verify). */
static inline EVP_PKEY *fuzz_key(void)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    if (!k)
        abort();
    return k;
}

static inline X509 *fuzz_self_signed(EVP_PKEY *k, const char *cn, int ca)
{
    X509 *c = X509_new();
    X509_NAME *n = X509_NAME_new();
    X509_EXTENSION *ext;
    X509V3_CTX v3;
    if (!c || !n)
        abort();
    X509_set_version(c, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(c), 4242);
    X509_gmtime_adj(X509_getm_notBefore(c), -3600);
    X509_gmtime_adj(X509_getm_notAfter(c), 3600L * 24 * 365);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0);
    X509_set_subject_name(c, n);
    X509_set_issuer_name(c, n);
    X509_NAME_free(n);
    X509_set_pubkey(c, k);
    X509V3_set_ctx(&v3, c, c, NULL, NULL, 0);
    if (ca) {
        ext = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints, "critical,CA:TRUE");
        X509_add_ext(c, ext, -1);
        X509_EXTENSION_free(ext);
        ext = X509V3_EXT_conf_nid(NULL, &v3, NID_key_usage, "critical,keyCertSign,cRLSign");
        X509_add_ext(c, ext, -1);
        X509_EXTENSION_free(ext);
    }
    ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_key_identifier, "hash");
    X509_add_ext(c, ext, -1);
    X509_EXTENSION_free(ext);
    if (!X509_sign(c, k, EVP_sha256()))
        abort();
    return c;
}

#endif
