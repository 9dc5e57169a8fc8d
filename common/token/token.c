/* SPDX-License-Identifier: MIT */
/* token.c - see token.h: HS256 JWTs through libjwt, inside a strict wrapper */
#include "token/token.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <jwt.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "core/cli.h"
#include "core/encoding.h"
#include "core/json.h"

#define JTI_BYTES 16
#define X5T_B64_LEN 43   /* base64url of 32 bytes, unpadded */
#define TOKEN_USE "access"

static const char *const REASONS[TOKEN_STATUS_COUNT] = {
    [TOKEN_OK] = "ok",
    [TOKEN_TOO_LONG] = "token longer than 2048 bytes",
    [TOKEN_MALFORMED] = "token is not three parts separated by dots",
    [TOKEN_BAD_BASE64] = "a token part is not strict unpadded base64url",
    [TOKEN_BAD_JSON] = "header or payload is not a JSON object",
    [TOKEN_DUPLICATE] = "header or payload repeats a member",
    [TOKEN_BAD_ALG] = "alg is not exactly HS256",
    [TOKEN_BAD_HEADER] = "header is not exactly {alg, kid, typ:JWT}",
    [TOKEN_UNKNOWN_KID] = "kid names no key this server holds",
    [TOKEN_BAD_SIGNATURE] = "signature does not verify",
    [TOKEN_BAD_CLAIMS] = "claims are not exactly the expected set, each of its type",
    [TOKEN_WRONG_ISSUER] = "token issued by another issuer",
    [TOKEN_WRONG_AUDIENCE] = "token meant for another audience",
    [TOKEN_WRONG_USE] = "token is not an access token",
    [TOKEN_WRONG_SESSION] = "token belongs to another session",
    [TOKEN_BAD_TIMES] = "token expires before it is issued or valid",
    [TOKEN_TOO_LONG_LIVED] = "token lives longer than 1800 seconds",
    [TOKEN_EXPIRED] = "token expired",
    [TOKEN_NOT_YET_VALID] = "token not valid yet (nbf in the future)",
    [TOKEN_ISSUED_IN_FUTURE] = "token issued in the future (iat)",
    [TOKEN_UNBOUND] = "token carries no certificate binding (cnf)",
    [TOKEN_BAD_CNF] = "cnf is not exactly {x5t#S256: base64url of 32 bytes}",
    [TOKEN_NO_PEER_CERT] = "no client certificate to check the token's binding against",
    [TOKEN_WRONG_CERT] = "token bound to another certificate",
    [TOKEN_BAD_INPUT] = "a claim to issue is out of range",
    [TOKEN_INTERNAL] = "internal error (out of memory, no randomness, or libjwt failed)",
};

const char *token_status_str(token_status s)
{
    if ((unsigned)s >= TOKEN_STATUS_COUNT)
        return "unknown token status";
    return REASONS[s];
}

/* ---- keys -------------------------------------------------------------------- */

void token_key_from_raw(token_key *k, const uint8_t secret[TOKEN_SECRET_LEN])
{
    static const char HEX[] = "0123456789abcdef";
    uint8_t digest[32];
    unsigned int n = 0;

    memcpy(k->secret, secret, TOKEN_SECRET_LEN);
    /* the kid says which key without saying anything useful about it: 32 bits
     * of a hash of 256 random bits */
    if (EVP_Digest(secret, TOKEN_SECRET_LEN, digest, &n, EVP_sha256(), NULL) != 1)
        memset(digest, 0, sizeof digest); /* cannot happen; the kid is then 00000000 */
    for (int i = 0; i < TOKEN_KID_LEN / 2; i++) {
        k->kid[2 * i] = HEX[digest[i] >> 4];
        k->kid[2 * i + 1] = HEX[digest[i] & 15];
    }
    k->kid[TOKEN_KID_LEN] = '\0';
    OPENSSL_cleanse(digest, sizeof digest);
}

int token_key_generate(token_key *k)
{
    uint8_t secret[TOKEN_SECRET_LEN];
    if (RAND_priv_bytes(secret, sizeof secret) != 1)
        return -1;
    token_key_from_raw(k, secret);
    OPENSSL_cleanse(secret, sizeof secret);
    return 0;
}

void token_key_clear(token_key *k)
{
    OPENSSL_cleanse(k, sizeof *k);
}

int token_key_write(const token_key *k, const char *path, char *err, size_t err_len)
{
    size_t done = 0;
    /* O_EXCL: never replace a key; O_NOFOLLOW: never write through a link */
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, err_len, "%s: %s", path, strerror(errno));
        return -1;
    }
    while (done < TOKEN_SECRET_LEN) {
        ssize_t w = write(fd, k->secret + done, TOKEN_SECRET_LEN - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        done += (size_t)w;
    }
    if (done != TOKEN_SECRET_LEN || fsync(fd) != 0) {
        snprintf(err, err_len, "%s: write failed: %s", path, strerror(errno));
        close(fd);
        unlink(path);
        return -1;
    }
    if (close(fd) != 0) {
        snprintf(err, err_len, "%s: write failed: %s", path, strerror(errno));
        unlink(path);
        return -1;
    }
    return 0;
}

int token_key_load(token_key *k, const char *path, char *err, size_t err_len)
{
    uint8_t secret[TOKEN_SECRET_LEN + 1];
    struct stat st;
    size_t got = 0;
    int rc = -1;
    /* fstat the descriptor we read from, so the checks and the read are
     * about one and the same file; O_NONBLOCK so a FIFO in its place cannot
     * hang the start (it is refused as not a regular file) */
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);

    if (fd < 0) {
        snprintf(err, err_len, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (fstat(fd, &st) != 0) {
        snprintf(err, err_len, "%s: %s", path, strerror(errno));
        goto end;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(err, err_len, "%s is not a regular file", path);
        goto end;
    }
    /* this key signs logins for every account: refuse, don't just warn. Its
     * owner can rewrite it, so the owner must be us; a second hard link is a
     * second name someone else may control. */
    if (st.st_uid != geteuid()) {
        snprintf(err, err_len, "%s belongs to user %u, not to this server's user %u: whoever "
                 "owns it can mint tokens", path, (unsigned)st.st_uid, (unsigned)geteuid());
        goto end;
    }
    if (st.st_nlink != 1) {
        snprintf(err, err_len, "%s has %u hard links; a token key has one name", path,
                 (unsigned)st.st_nlink);
        goto end;
    }
    if (cli_mode_open(st.st_mode)) {
        snprintf(err, err_len, "%s can be read or written by other users (mode %03o); run: "
                 "chmod 600 %s", path, (unsigned)(st.st_mode & 0777), path);
        goto end;
    }
    /* read one byte more than a key: a longer file is not a key file */
    for (;;) {
        ssize_t r = read(fd, secret + got, sizeof secret - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            snprintf(err, err_len, "%s: %s", path, strerror(errno));
            goto end;
        }
        if (r == 0)
            break;
        got += (size_t)r;
        if (got == sizeof secret)
            break;
    }
    if (got != TOKEN_SECRET_LEN) {
        snprintf(err, err_len, "%s holds %s%zu bytes; a token key is exactly %d raw bytes", path,
                 got > TOKEN_SECRET_LEN ? "more than " : "", got > TOKEN_SECRET_LEN ? got - 1 : got,
                 TOKEN_SECRET_LEN);
        goto end;
    }
    token_key_from_raw(k, secret);
    rc = 0;
end:
    OPENSSL_cleanse(secret, sizeof secret);
    close(fd);
    return rc;
}

int token_x5t(X509 *cert, uint8_t out[TOKEN_X5T_LEN])
{
    unsigned int n = 0;
    /* X509_digest hashes the DER encoding: exactly RFC 8705's x5t#S256 */
    if (!cert || X509_digest(cert, EVP_sha256(), out, &n) != 1 || n != TOKEN_X5T_LEN)
        return -1;
    return 0;
}

/* ---- shared rules --------------------------------------------------------------- */

/* 1..max bytes of printable ASCII without space: URLs, usernames, session ids */
static int valid_text(const char *s, size_t max)
{
    size_t n;
    if (!s)
        return 0;
    n = strlen(s);
    if (n == 0 || n > max)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
            return 0;
    return 1;
}

/* Equal strings, compared without an early exit (none of these is a secret,
 * but one rule for every comparison in this file is easier to check). */
static int same_text(const char *a, const char *b)
{
    size_t n = strlen(a);
    return n == strlen(b) && CRYPTO_memcmp(a, b, n) == 0;
}

/* exactly len base64url characters that decode to exactly want bytes */
static int b64url_exact(const char *s, size_t want, uint8_t *out)
{
    uint8_t *raw = NULL;
    size_t n = 0;
    int ok;
    if (b64url_decode(s, strlen(s), B64_NO_PAD, &raw, &n) != 0)
        return 0;
    ok = n == want;
    if (ok && out)
        memcpy(out, raw, want);
    encoding_free_secret(raw, n);
    return ok;
}

/* ---- issue ------------------------------------------------------------------------- */

token_status token_issue(const token_key *key, const token_request *req, int64_t now,
                         token_claims *claims, char **out)
{
    uint8_t jti_raw[JTI_BYTES];
    char *jti = NULL, *x5t = NULL, *cnf_text = NULL, *tok = NULL;
    json_t *cnf = NULL;
    jwt_t *jwt = NULL;
    token_status st = TOKEN_INTERNAL;
    long lifetime = req->lifetime ? req->lifetime : TOKEN_MAX_LIFETIME;

    *out = NULL;
    /* issue nothing token_verify() would refuse: a bug shows here, not later */
    if (!valid_text(req->iss, TOKEN_MAX_URL) || !valid_text(req->aud, TOKEN_MAX_URL) ||
        !valid_text(req->sub, TOKEN_MAX_NAME) || !valid_text(req->sid, TOKEN_MAX_NAME) ||
        !req->x5t || lifetime < 1 || lifetime > TOKEN_MAX_LIFETIME || now <= 0 ||
        now > TOKEN_MAX_TIME - lifetime)
        return TOKEN_BAD_INPUT;

    if (RAND_bytes(jti_raw, sizeof jti_raw) != 1)
        return TOKEN_INTERNAL;
    jti = b64url_encode(jti_raw, sizeof jti_raw, B64_NO_PAD);
    x5t = b64url_encode(req->x5t, TOKEN_X5T_LEN, B64_NO_PAD);
    /* libjwt takes a nested claim only as JSON text */
    if (!jti || !x5t || !(cnf = json_pack("{s:{s:s}}", "cnf", "x5t#S256", x5t)) ||
        !(cnf_text = json_compact(cnf)))
        goto end;

    if (jwt_new(&jwt) != 0 ||
        jwt_set_alg(jwt, JWT_ALG_HS256, key->secret, TOKEN_SECRET_LEN) != 0 ||
        jwt_add_header(jwt, "kid", key->kid) != 0 ||
        jwt_add_grant(jwt, "iss", req->iss) != 0 || jwt_add_grant(jwt, "aud", req->aud) != 0 ||
        jwt_add_grant(jwt, "sub", req->sub) != 0 || jwt_add_grant(jwt, "sid", req->sid) != 0 ||
        jwt_add_grant(jwt, "jti", jti) != 0 ||
        jwt_add_grant(jwt, "token_use", TOKEN_USE) != 0 ||
        jwt_add_grant_int(jwt, "iat", (long)now) != 0 ||
        jwt_add_grant_int(jwt, "nbf", (long)now) != 0 ||
        jwt_add_grant_int(jwt, "exp", (long)(now + lifetime)) != 0 ||
        jwt_add_grants_json(jwt, cnf_text) != 0)
        goto end;
    /* libjwt sorts the members and adds typ:"JWT": the header comes out as
     * {"alg":"HS256","kid":K,"typ":"JWT"} */
    if (!(tok = jwt_encode_str(jwt)))
        goto end;
    if (strlen(tok) > TOKEN_MAX_LEN) { /* the limits above keep it near 1300 */
        token_free(tok);
        st = TOKEN_BAD_INPUT;
        goto end;
    }
    if (claims) {
        memset(claims, 0, sizeof *claims);
        strcpy(claims->iss, req->iss); /* lengths checked by valid_text above */
        strcpy(claims->aud, req->aud);
        strcpy(claims->sub, req->sub);
        strcpy(claims->sid, req->sid);
        memcpy(claims->jti, jti, TOKEN_JTI_LEN + 1);
        claims->iat = claims->nbf = now;
        claims->exp = now + lifetime;
        memcpy(claims->x5t, req->x5t, TOKEN_X5T_LEN);
    }
    *out = tok;
    st = TOKEN_OK;
end:
    /* libjwt memsets its copy of the key before freeing it (a plain memset
     * a compiler may drop; nothing better can be done from outside) */
    jwt_free(jwt);
    json_decref(cnf);
    free(cnf_text);
    free(x5t);
    free(jti);
    OPENSSL_cleanse(jti_raw, sizeof jti_raw);
    return st;
}

void token_free(char *token)
{
    if (!token)
        return;
    OPENSSL_cleanse(token, strlen(token));
    free(token);
}

/* ---- verify ------------------------------------------------------------------------ */

/* Parse one part as a JSON object with core/json.h's strict parser; tell a
 * repeated member (which a lenient parser accepts) from text that is no JSON. */
static token_status parse_object(const uint8_t *buf, size_t len, json_t **out)
{
    char err[200];
    json_t *v = json_parse((const char *)buf, len, JSON_DEFAULT_MAX_DEPTH, err, sizeof err);
    *out = NULL;
    if (!v) {
        json_error_t je;
        json_t *lax = strstr(err, "nesting deeper") ? NULL
                                                    : json_loadb((const char *)buf, len, 0, &je);
        int lenient_takes_it = lax != NULL;
        json_decref(lax);
        return lenient_takes_it ? TOKEN_DUPLICATE : TOKEN_BAD_JSON;
    }
    if (!json_is_object(v)) {
        json_decref(v);
        return TOKEN_BAD_JSON;
    }
    *out = v;
    return TOKEN_OK;
}

/* the header, steps 4 to 6 of token.h */
static token_status check_header(const json_t *h, const token_key *keys, size_t nkeys,
                                 const token_key **key)
{
    const char *alg = json_get_str(h, "alg"), *typ = json_get_str(h, "typ");
    const char *kid = json_get_str(h, "kid");

    if (!alg || !same_text(alg, "HS256"))
        return TOKEN_BAD_ALG;
    if (json_object_size(h) != 3 || !typ || !same_text(typ, "JWT") || !kid ||
        strlen(kid) != TOKEN_KID_LEN || strspn(kid, "0123456789abcdef") != TOKEN_KID_LEN)
        return TOKEN_BAD_HEADER;
    for (size_t i = 0; i < nkeys; i++) {
        if (CRYPTO_memcmp(kid, keys[i].kid, TOKEN_KID_LEN) == 0) {
            *key = &keys[i];
            return TOKEN_OK;
        }
    }
    return TOKEN_UNKNOWN_KID;
}

static const char *const CLAIMS[] = {"iss", "aud", "sub", "sid", "jti", "token_use",
                                     "iat", "nbf", "exp", "cnf"};

static int time_claim(const json_t *p, const char *name, int64_t *v)
{
    const json_t *j = json_object_get(p, name);
    if (!json_is_integer(j) || json_integer_value(j) < 0 ||
        json_integer_value(j) > TOKEN_MAX_TIME)
        return 0;
    *v = (int64_t)json_integer_value(j);
    return 1;
}

/* the claims set, steps 8 to 11 of token.h */
static token_status check_claims(const json_t *p, const token_expect *ex, int64_t now,
                                 token_claims *c)
{
    const char *key, *iss, *aud, *sub, *sid, *jti, *use, *x5t;
    const json_t *v, *cnf;

    json_object_foreach((json_t *)p, key, v) {
        size_t i = 0;
        while (i < sizeof CLAIMS / sizeof *CLAIMS && strcmp(key, CLAIMS[i]) != 0)
            i++;
        if (i == sizeof CLAIMS / sizeof *CLAIMS)
            return TOKEN_BAD_CLAIMS; /* a member we never issue */
    }
    iss = json_get_str(p, "iss");
    aud = json_get_str(p, "aud");
    sub = json_get_str(p, "sub");
    sid = json_get_str(p, "sid");
    jti = json_get_str(p, "jti");
    use = json_get_str(p, "token_use");
    if (!valid_text(iss, TOKEN_MAX_URL) || !valid_text(aud, TOKEN_MAX_URL) ||
        !valid_text(sub, TOKEN_MAX_NAME) || !valid_text(sid, TOKEN_MAX_NAME) ||
        !jti || strlen(jti) != TOKEN_JTI_LEN || !b64url_exact(jti, JTI_BYTES, NULL) || !use ||
        !time_claim(p, "iat", &c->iat) || !time_claim(p, "nbf", &c->nbf) ||
        !time_claim(p, "exp", &c->exp))
        return TOKEN_BAD_CLAIMS;
    if (!(cnf = json_object_get(p, "cnf")))
        return TOKEN_UNBOUND;
    x5t = json_get_str(cnf, "x5t#S256");
    if (!json_is_object(cnf) || json_object_size(cnf) != 1 || !x5t ||
        strlen(x5t) != X5T_B64_LEN || !b64url_exact(x5t, TOKEN_X5T_LEN, c->x5t))
        return TOKEN_BAD_CNF;

    if (!same_text(iss, ex->iss))
        return TOKEN_WRONG_ISSUER;
    if (!same_text(aud, ex->aud))
        return TOKEN_WRONG_AUDIENCE;
    if (!same_text(use, TOKEN_USE))
        return TOKEN_WRONG_USE;
    if (ex->sid && !same_text(sid, ex->sid))
        return TOKEN_WRONG_SESSION;

    /* a token that is never valid is broken, whatever the clock says */
    if (c->nbf >= c->exp || c->iat >= c->exp)
        return TOKEN_BAD_TIMES;
    if (c->exp - c->iat > TOKEN_MAX_LIFETIME)
        return TOKEN_TOO_LONG_LIVED;
    if (c->exp <= now - TOKEN_LEEWAY)
        return TOKEN_EXPIRED;
    if (c->nbf > now + TOKEN_LEEWAY)
        return TOKEN_NOT_YET_VALID;
    if (c->iat > now + TOKEN_LEEWAY)
        return TOKEN_ISSUED_IN_FUTURE;

    if (!ex->x5t)
        return TOKEN_NO_PEER_CERT;
    /* the binding: this token was issued to the certificate on this connection */
    if (!ex->lab_bearer && CRYPTO_memcmp(c->x5t, ex->x5t, TOKEN_X5T_LEN) != 0)
        return TOKEN_WRONG_CERT;

    strcpy(c->iss, iss); /* lengths checked by valid_text above */
    strcpy(c->aud, aud);
    strcpy(c->sub, sub);
    strcpy(c->sid, sid);
    memcpy(c->jti, jti, TOKEN_JTI_LEN + 1);
    return TOKEN_OK;
}

token_status token_verify(const token_key *keys, size_t nkeys, const char *token, size_t len,
                          const token_expect *expect, int64_t now, token_claims *claims)
{
    char copy[TOKEN_MAX_LEN + 1];
    const char *dot1, *dot2;
    uint8_t *head = NULL, *body = NULL, *sig = NULL;
    size_t head_len = 0, body_len = 0, sig_len = 0;
    json_t *h = NULL, *p = NULL;
    const token_key *key = NULL;
    jwt_t *jwt = NULL;
    token_claims c;
    token_status st;
    int rc;

    memset(&c, 0, sizeof c);
    if (claims)
        memset(claims, 0, sizeof *claims);
    if (!expect || !expect->iss || !expect->aud)
        return TOKEN_INTERNAL; /* a caller's bug: nothing to check against */
    /* a clock outside the times a token may carry is a caller's bug too (and
     * now +- the leeway must not overflow) */
    if (now <= 0 || now > TOKEN_MAX_TIME)
        return TOKEN_INTERNAL;
    /* 1. the length, before anything reads the text (libjwt alloca()s its
     * length), and no NUL inside (libjwt would read up to it only) */
    if (!token)
        return TOKEN_MALFORMED;
    if (len > TOKEN_MAX_LEN)
        return TOKEN_TOO_LONG;
    if (memchr(token, '\0', len))
        return TOKEN_MALFORMED;
    /* 2. three parts, each strict base64url; the signature may be empty here
     * (an alg:none token) so that step 4 names the real problem */
    dot1 = memchr(token, '.', len);
    dot2 = dot1 ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token)) : NULL;
    if (!dot2 || dot1 == token || dot2 == dot1 + 1 ||
        memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token)))
        return TOKEN_MALFORMED;
    if (b64url_decode(token, (size_t)(dot1 - token), B64_NO_PAD, &head, &head_len) != 0 ||
        b64url_decode(dot1 + 1, (size_t)(dot2 - dot1 - 1), B64_NO_PAD, &body, &body_len) != 0 ||
        b64url_decode(dot2 + 1, len - (size_t)(dot2 + 1 - token), B64_NO_PAD, &sig,
                      &sig_len) != 0) {
        st = TOKEN_BAD_BASE64;
        goto end;
    }
    /* 3.-6. the header, strictly, then the payload, strictly */
    if ((st = parse_object(head, head_len, &h)) != TOKEN_OK ||
        (st = check_header(h, keys, nkeys, &key)) != TOKEN_OK ||
        (st = parse_object(body, body_len, &p)) != TOKEN_OK)
        goto end;
    /* 7. the signature, by libjwt, with the one key the kid named (it
     * compares the text of the MAC, so a signature of another length, or
     * another spelling of the same bytes, fails there) */
    memcpy(copy, token, len);
    copy[len] = '\0';
    rc = jwt_decode(&jwt, copy, key->secret, TOKEN_SECRET_LEN);
    if (rc != 0) {
        /* everything but the HMAC was checked above: EINVAL is the HMAC */
        st = rc == EINVAL ? TOKEN_BAD_SIGNATURE : TOKEN_INTERNAL;
        goto end;
    }
    /* 8.-11. the claims, from our own strict parse of the same bytes */
    st = check_claims(p, expect, now, &c);
    if (st == TOKEN_OK && claims)
        *claims = c;
end:
    jwt_free(jwt);
    json_decref(h);
    json_decref(p);
    encoding_free_secret(head, head_len);
    encoding_free_secret(body, body_len);
    encoding_free_secret(sig, sig_len);
    OPENSSL_cleanse(copy, sizeof copy);
    OPENSSL_cleanse(&c, sizeof c);
    return st;
}
