/* SPDX-License-Identifier: MIT */
/*
 * token.h - chapter 06's access tokens: HS256 JWTs (RFC 7519) bound to the
 * client certificate (RFC 8705), made and checked through libjwt 1.10.2 inside
 * a strict wrapper.
 *
 * A token looks like this (three base64url parts, no padding):
 *
 *   header  {"alg":"HS256","kid":"1a2b3c4d","typ":"JWT"}
 *   payload {"aud":URL,"cnf":{"x5t#S256":B64URL(SHA-256(cert DER))},"exp":iat+1800,
 *            "iat":T,"iss":URL,"jti":22 chars,"nbf":T,"sid":SESSION,"sub":USER,
 *            "token_use":"access"}
 *   HMAC-SHA256(secret, header "." payload)
 *
 * Why a wrapper. Debian 12's libjwt 1.10.2 checks the signature and nothing
 * else: no claim at all (exp included), "alg":"hs256" is taken as HS256
 * (strcasecmp), an HS512 token made with the same key is accepted, duplicate
 * members are settled by "last one wins", and it alloca()s strlen(token)
 * bytes. So token_verify() runs these checks, cheapest first, and only the
 * signature is left to libjwt (each failure has its own token_status):
 *
 *   1. length <= TOKEN_MAX_LEN, counted BEFORE anything reads the text, and no
 *      NUL inside it (libjwt would stop at the NUL and check a shorter token)
 *   2. exactly three parts (header and payload not empty), each strict
 *      unpadded base64url (core/encoding.h: one text, one byte string)
 *   3. the header parsed with core/json.h (duplicates refused: two parsers
 *      reading one token two ways is how "last one wins" bites); the payload
 *      is parsed the same way once the header passed steps 4 to 6
 *   4. alg is exactly "HS256": the algorithm is pinned on the bytes, before
 *      libjwt can read "hs256" or "HS512" its own way (RFC 8725 section 3.1)
 *   5. the header has exactly alg, kid and typ:"JWT" (RFC 8725 section 3.11)
 *   6. kid names one of the keys we hold (rotation: two keys at once); kid is
 *      only compared with our own kids, never used as a name (RFC 8725 3.10)
 *   7. jwt_decode() with that key: the HMAC (compared in constant time
 *      since libjwt 1.10.2-1+deb12u1, CVE-2024-25189)
 *   8. the claims set has exactly the members above, each of its type
 *   9. iss, aud (RFC 8725 3.8, 3.9), token_use (3.12), sid when the caller
 *      names one
 *  10. time: nbf < exp, iat < exp, exp - iat <= TOKEN_MAX_LIFETIME, and with
 *      TOKEN_LEEWAY seconds of clock skew: exp > now - leeway,
 *      nbf <= now + leeway, iat <= now + leeway
 *  11. cnf.x5t#S256 equals the SHA-256 of the peer's certificate, compared with
 *      CRYPTO_memcmp: a token copied off one device is useless from another
 *
 * Where this departs from the design brief (06-design.md 2.1, 3.7):
 *  - The brief checks jwt_get_alg() == HS256 after jwt_decode(). Step 4 pins
 *    the exact bytes "HS256" before libjwt sees the token, and libjwt maps
 *    exactly "HS256" to JWT_ALG_HS256, so that check could never fire and no
 *    test could show it working; it is left out rather than kept as dead code.
 *  - The header must have exactly these members with these values; the bytes
 *    themselves may differ (JSON allows other spacing and escapes). PyJWT's
 *    header happens to be byte-identical to libjwt's.
 *  - The claims set is closed: an unknown claim is refused, although RFC 7519
 *    section 4 lets a verifier ignore one. We are the only issuer; anything
 *    else in a token is either a bug or an attack.
 *  - aud must be one string, not an array: we issue one audience.
 *  - No `ip` claim (the brief's optional R3 binding, off by default there):
 *    cnf is the real binding and NAT makes ip a nuisance.
 *  - The key file holds the 32 raw secret bytes and nothing else, mode 0600;
 *    a file others can read is refused, not merely warned about (unlike
 *    chapter 02's Fernet keys: this key mints logins for every account).
 *  - The reason is token_status_str(status), one fixed sentence per status,
 *    rather than a separate out-parameter.
 *
 *  - A token that is never valid (nbf or iat not before exp) is refused as
 *    such (TOKEN_BAD_TIMES), whatever the clock says.
 *
 * What a token alone cannot tell, the server checks with the claims returned:
 * the account (sub) is active and iat >= its tokens_valid_after, the session
 * (sid) is live and the envelope's, the jti is not revoked (06-design.md 3.7).
 *
 * The functions print nothing (the server decides what a client hears: one
 * 401 for every failure, the reason in its own log) and are thread-safe.
 * Chapter 06 is the chapter that introduces this module (README.md).
 */
#ifndef COURSE_TOKEN_H
#define COURSE_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#define TOKEN_SECRET_LEN 32     /* RFC 7518 3.2 and RFC 8725 3.5: >= 256 bits */
#define TOKEN_KID_LEN 8         /* hex characters: SHA-256(secret), first 4 bytes */
#define TOKEN_MAX_LEN 2048      /* bytes; a real token is ~450 */
#define TOKEN_MAX_LIFETIME 1800 /* seconds, exp - iat; also the default */
#define TOKEN_LEEWAY 30         /* seconds of clock skew tolerated */
#define TOKEN_X5T_LEN 32        /* SHA-256 of the certificate's DER */
#define TOKEN_MAX_URL 255       /* iss and aud */
#define TOKEN_MAX_NAME 64       /* sub and sid */
#define TOKEN_JTI_LEN 22        /* base64url of 16 random bytes */
#define TOKEN_MAX_TIME 253402300799LL /* 9999-12-31T23:59:59Z: times past it are junk */

typedef struct token_key {
    uint8_t secret[TOKEN_SECRET_LEN];
    char kid[TOKEN_KID_LEN + 1];
} token_key;

typedef enum token_status {
    TOKEN_OK = 0,
    TOKEN_TOO_LONG,
    TOKEN_MALFORMED,
    TOKEN_BAD_BASE64,
    TOKEN_BAD_JSON,
    TOKEN_DUPLICATE,
    TOKEN_BAD_ALG,
    TOKEN_BAD_HEADER,
    TOKEN_UNKNOWN_KID,
    TOKEN_BAD_SIGNATURE,
    TOKEN_BAD_CLAIMS,
    TOKEN_WRONG_ISSUER,
    TOKEN_WRONG_AUDIENCE,
    TOKEN_WRONG_USE,
    TOKEN_WRONG_SESSION,
    TOKEN_BAD_TIMES,
    TOKEN_TOO_LONG_LIVED,
    TOKEN_EXPIRED,
    TOKEN_NOT_YET_VALID,
    TOKEN_ISSUED_IN_FUTURE,
    TOKEN_UNBOUND,
    TOKEN_BAD_CNF,
    TOKEN_NO_PEER_CERT,
    TOKEN_WRONG_CERT,
    TOKEN_BAD_INPUT, /* token_issue: a claim we would not accept back */
    TOKEN_INTERNAL,  /* out of memory, no randomness, libjwt failed */
    TOKEN_STATUS_COUNT
} token_status;

/* One fixed sentence per status, e.g. "token bound to another certificate". */
const char *token_status_str(token_status s);

/* ---- keys ------------------------------------------------------------------ */
/* Copy the secret and compute the kid. */
void token_key_from_raw(token_key *k, const uint8_t secret[TOKEN_SECRET_LEN]);
/* 32 bytes from RAND_priv_bytes. 0 on success. */
int token_key_generate(token_key *k);
/* Write the secret to a NEW file, mode 0600 (an existing file is never
 * overwritten: that would log everybody out, or worse, share a key). 0 on
 * success; otherwise -1 and err says why. */
int token_key_write(const token_key *k, const char *path, char *err, size_t err_len);
/* Read a key file: a regular file (no symlink), exactly 32 bytes, readable and
 * writable by its owner only. 0 on success; otherwise -1 and err says why. */
int token_key_load(token_key *k, const char *path, char *err, size_t err_len);
/* OPENSSL_cleanse */
void token_key_clear(token_key *k);

/* ---- the binding ----------------------------------------------------------- */
/* SHA-256 of the certificate's DER encoding: RFC 8705's x5t#S256. 0 on success. */
int token_x5t(X509 *cert, uint8_t out[TOKEN_X5T_LEN]);

/* ---- claims ---------------------------------------------------------------- */
/* What token_issue() needs. */
typedef struct token_request {
    const char *iss;       /* the service URL */
    const char *aud;       /* the service URL (it is its own audience) */
    const char *sub;       /* the account's username */
    const char *sid;       /* the session the token belongs to */
    const uint8_t *x5t;    /* TOKEN_X5T_LEN bytes: the client certificate's */
    long lifetime;         /* seconds, 1..TOKEN_MAX_LIFETIME; 0 = TOKEN_MAX_LIFETIME */
} token_request;

/* What token_verify() checks the token against. */
typedef struct token_expect {
    const char *iss;
    const char *aud;
    const char *sid;    /* NULL: any session (the caller checks it is live) */
    const uint8_t *x5t; /* the TLS peer certificate's, TOKEN_X5T_LEN bytes;
                           NULL (no certificate) refuses every token */
    int lab_bearer;     /* LAB ONLY (06-server --lab-bearer): skip the cnf
                           comparison, turning the token into a bearer token;
                           cnf must still be well formed */
} token_expect;

/* A token's claims, after token_verify() or token_issue(). */
typedef struct token_claims {
    char iss[TOKEN_MAX_URL + 1];
    char aud[TOKEN_MAX_URL + 1];
    char sub[TOKEN_MAX_NAME + 1];
    char sid[TOKEN_MAX_NAME + 1];
    char jti[TOKEN_JTI_LEN + 1];
    int64_t iat, nbf, exp;
    uint8_t x5t[TOKEN_X5T_LEN];
} token_claims;

/* Make a token with key: iat = nbf = now, exp = now + lifetime, a fresh jti.
 * On TOKEN_OK *out is the malloc'ed token (free it with token_free) and, if
 * claims is not NULL, it receives what went in (the jti, for revocation).
 * TOKEN_BAD_INPUT when a claim is one token_verify() would refuse. */
token_status token_issue(const token_key *key, const token_request *req, int64_t now,
                         token_claims *claims, char **out);

/* Check token[0..len) against keys[0..nkeys) (during a rotation the new key
 * and the old one), expect and now (unix time). On TOKEN_OK *claims (if not
 * NULL) is filled in; on failure it is zeroed. */
token_status token_verify(const token_key *keys, size_t nkeys, const char *token, size_t len,
                          const token_expect *expect, int64_t now, token_claims *claims);

/* A token is a credential: wipe it, then free it. NULL is fine. */
void token_free(char *token);

#endif
