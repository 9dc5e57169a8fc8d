/* SPDX-License-Identifier: MIT */
/*
 * pki.c - keys, files and the small helpers of common/pki/pki.h (serials,
 * fingerprints, days left). The other files of the module: see pki.h.
 */
#include "pki/pki.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include "pki/pki_internal.h"

static _Thread_local char g_err[512];

const char *pki_last_error(void)
{
    return g_err;
}

void pki_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_err, sizeof g_err, fmt, ap);
    va_end(ap);
}

int pki_write_file(const char *path, const void *data, size_t len, unsigned mode)
{
    char tmp[4096];
    const unsigned char *p = data;
    int fd = -1, rc = -1;

    if (snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", path) >= (int)sizeof tmp) {
        pki_fail("%s: path too long", path);
        return -1;
    }
    /* mkstemp creates the file 0600 and O_EXCL: nobody else can open it
     * between creation and rename, and a key never exists world-readable. */
    fd = mkstemp(tmp);
    if (fd < 0) {
        pki_fail("%s: cannot create: %s", path, strerror(errno));
        return -1;
    }
    if (fchmod(fd, (mode_t)mode) != 0) {
        pki_fail("%s: chmod: %s", path, strerror(errno));
        goto end;
    }
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            pki_fail("%s: write: %s", path, strerror(errno));
            goto end;
        }
        p += n;
        len -= (size_t)n;
    }
    if (fsync(fd) != 0) {
        pki_fail("%s: fsync: %s", path, strerror(errno));
        goto end;
    }
    if (close(fd) != 0) {
        fd = -1;
        pki_fail("%s: close: %s", path, strerror(errno));
        goto end;
    }
    fd = -1;
    if (rename(tmp, path) != 0) {
        pki_fail("%s: rename: %s", path, strerror(errno));
        goto end;
    }
    rc = 0;
end:
    if (fd >= 0)
        close(fd);
    if (rc != 0)
        unlink(tmp);
    return rc;
}

/* Write whatever a PEM writer put in a memory BIO to path. */
int pki_write_bio(const char *path, BIO *bio, unsigned mode)
{
    char *data = NULL;
    long len = BIO_get_mem_data(bio, &data);
    if (len <= 0) {
        pki_fail("%s: nothing to write", path);
        return -1;
    }
    return pki_write_file(path, data, (size_t)len, mode);
}

EVP_PKEY *pki_key_generate(const char *spec)
{
    EVP_PKEY *key = NULL;
    if (!spec || !strcmp(spec, "ec") || !strcmp(spec, "p256") || !strcmp(spec, "ec-p256"))
        key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    else if (!strcmp(spec, "rsa2048"))
        key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    else if (!strcmp(spec, "rsa3072") || !strcmp(spec, "rsa"))
        key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)3072);
    else if (!strcmp(spec, "rsa4096"))
        key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)4096);
    else if (!strcmp(spec, "ed25519"))
        key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    else {
        pki_fail("unknown key type '%s' (use ec, rsa2048, rsa3072, rsa4096 or ed25519)", spec);
        return NULL;
    }
    if (!key)
        pki_fail("key generation (%s) failed", spec);
    return key;
}

int pki_key_write(const char *path, EVP_PKEY *key, const char *passphrase)
{
    BIO *bio = BIO_new(BIO_s_mem());
    const EVP_CIPHER *cipher = NULL;
    int rc = -1, plen = 0;

    if (!bio) {
        pki_fail("out of memory");
        goto end;
    }
    if (passphrase && *passphrase) {
        /* PKCS#8 with a cipher means PBES2; OpenSSL 3 derives the AES key
         * with PBKDF2-HMAC-SHA256 and a random salt. */
        cipher = EVP_aes_256_cbc();
        plen = (int)strlen(passphrase);
    }
    if (!PEM_write_bio_PKCS8PrivateKey(bio, key, cipher, cipher ? (char *)passphrase : NULL,
                                       plen, NULL, NULL)) {
        pki_fail("%s: cannot encode the private key", path);
        goto end;
    }
    rc = pki_write_bio(path, bio, 0600);
end:
    /* the memory BIO held the key in the clear when unencrypted */
    if (bio) {
        char *data = NULL;
        long len = BIO_get_mem_data(bio, &data);
        if (len > 0)
            OPENSSL_cleanse(data, (size_t)len);
    }
    BIO_free(bio);
    return rc;
}

/* PEM callback: hand over the passphrase, or refuse (never prompt here). */
static int pass_cb(char *buf, int size, int rwflag, void *u)
{
    const char *pass = u;
    size_t n;
    (void)rwflag;
    if (!pass || !*pass)
        return -1;
    n = strlen(pass);
    if (n > (size_t)size)
        return -1;
    memcpy(buf, pass, n);
    return (int)n;
}

EVP_PKEY *pki_key_read(const char *path, const char *passphrase)
{
    EVP_PKEY *key = NULL;
    size_t len = 0;
    char *pem = pki_read_all(path, &len);
    BIO *bio = NULL;

    if (!pem)
        return NULL;
    bio = BIO_new_mem_buf(pem, (int)len);
    if (bio)
        key = PEM_read_bio_PrivateKey(bio, NULL, pass_cb, (void *)passphrase);
    if (!key) {
        if (strstr(pem, "ENCRYPTED"))
            pki_fail("%s: the key is encrypted: wrong or missing passphrase", path);
        else
            pki_fail("%s: not a PEM private key", path);
    }
    BIO_free(bio);
    OPENSSL_cleanse(pem, len);
    free(pem);
    return key;
}

int pki_key_file_is_encrypted(const char *path)
{
    size_t len = 0;
    char *pem = pki_read_all(path, &len);
    int enc = pem && strstr(pem, "-----BEGIN " PEM_STRING_PKCS8 "-----") != NULL;
    if (pem) {
        OPENSSL_cleanse(pem, len);
        free(pem);
    }
    return enc;
}

void pki_key_describe(const EVP_PKEY *key, char *out, size_t out_len)
{
    char group[64] = "";
    if (EVP_PKEY_is_a(key, "EC")) {
        size_t glen = 0;
        EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                       &glen);
        snprintf(out, out_len, "EC %s (%d bits)", strcmp(group, "prime256v1") ? group : "P-256",
                 EVP_PKEY_get_bits(key));
    } else if (EVP_PKEY_is_a(key, "RSA")) {
        snprintf(out, out_len, "RSA %d", EVP_PKEY_get_bits(key));
    } else if (EVP_PKEY_is_a(key, "ED25519")) {
        snprintf(out, out_len, "Ed25519");
    } else {
        snprintf(out, out_len, "%s (%d bits)", EVP_PKEY_get0_type_name(key),
                 EVP_PKEY_get_bits(key));
    }
}

int pki_serial_hex(const ASN1_INTEGER *serial, char *out, size_t out_len)
{
    BIGNUM *bn = ASN1_INTEGER_to_BN(serial, NULL);
    char *hex = bn ? BN_bn2hex(bn) : NULL;
    int rc = -1;
    if (hex && strlen(hex) < out_len) {
        for (size_t i = 0; hex[i]; i++)
            out[i] = (char)(hex[i] >= 'A' && hex[i] <= 'F' ? hex[i] + 32 : hex[i]);
        out[strlen(hex)] = '\0';
        rc = 0;
    }
    OPENSSL_free(hex);
    BN_free(bn);
    return rc;
}

int pki_fingerprint(X509 *cert, char *out, size_t out_len)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (out_len < 32 * 3 || !X509_digest(cert, EVP_sha256(), md, &n))
        return -1;
    for (unsigned int i = 0; i < n; i++)
        snprintf(out + 3 * i, out_len - 3 * i, i + 1 < n ? "%02X:" : "%02X", md[i]);
    return 0;
}

long pki_days_until(const ASN1_TIME *t)
{
    int days = 0, secs = 0;
    long long total;
    if (!ASN1_TIME_diff(&days, &secs, NULL, t))
        return 0;
    /* to the nearest day: a certificate issued for 825 days a second ago
     * still "expires in 825 days" */
    total = (long long)days * 86400 + secs;
    return (long)((total >= 0 ? total + 43200 : total - 43200) / 86400);
}
