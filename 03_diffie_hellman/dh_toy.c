/* SPDX-License-Identifier: MIT */
/*
 * dh_toy.c - `dh toy`: Diffie-Hellman with numbers small enough to check by
 * hand (the default is the textbook p = 23, g = 5), and `--crack`: the
 * eavesdropper's brute-force search for a private exponent, which is why
 * real groups are 2048 bits (or elliptic curves of 256 bits).
 *
 * Only 64-bit integers and kex_toy_modpow(): with p < 2^32 every product
 * fits, so each number printed can be recomputed with a pocket calculator.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <openssl/rand.h>

#include "core/cli.h"
#include "dh.h"
#include "kex/kex.h"

typedef unsigned long long ull;

static int is_prime(uint64_t n)
{
    if (n < 2)
        return 0;
    for (uint64_t d = 2; d * d <= n; d++)
        if (n % d == 0)
            return 0;
    return 1;
}

/* uniform in 2..p-2, by rejection; exponents giving g^x = 1 or p-1 are
 * skipped too: a careful peer refuses those public values */
static int random_exponent(uint64_t p, uint64_t g, uint64_t *x)
{
    uint64_t mask = 1;
    while (mask < p)
        mask = mask << 1 | 1;
    for (int tries = 0; tries < 1000; tries++) {
        uint64_t r;
        if (RAND_bytes((unsigned char *)&r, sizeof r) != 1)
            return -1;
        r &= mask;
        if (r >= 2 && r <= p - 2 && kex_toy_modpow(g, r, p) > 1 && kex_toy_modpow(g, r, p) < p - 1) {
            *x = r;
            return 0;
        }
    }
    return -1;
}

/* A toy number as a learner copies it: decimal ("19"), or hex with 0x
 * ("0x13"), the way the wire and the capture carry it ({"public":"13"}).
 * A bare "13" is decimal; leading zeros are not octal. */
static uint64_t toy_number(const char *opt, const char *s, uint64_t min, uint64_t max)
{
    int hex = s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
    const char *digits = hex ? s + 2 : s;
    char *end = NULL;
    unsigned long long v;
    errno = 0;
    v = strtoull(digits, &end, hex ? 16 : 10);
    if (errno || end == digits || *end != '\0' || digits[0] == '-' || digits[0] == '+' || v < min ||
        v > max)
        cli_usage_error("%s: '%s' is not a number from %llu to %llu (decimal, or hex as on the "
                        "wire with 0x: 0x13 = 19)",
                        opt, s, (ull)min, (ull)max);
    return (uint64_t)v;
}

/* The shared secret as the exchange uses it: big-endian in the byte length
 * of p (p = 23: one byte), in hex, ready for `dh hkdf --ikm`. */
static void print_shared(uint64_t p, uint64_t s)
{
    int bytes = 0;
    for (uint64_t v = p; v; v >>= 8)
        bytes++;
    result("shared: %0*llx", 2 * bytes, (ull)s);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The search itself, by brute force: the smallest x >= 1 with g^x mod p ==
 * y, or 0 if there is none; *tries counts the powers of g it computed (at
 * most p-1). Exercise 03-3 makes it baby-step giant-step: about 2*sqrt(p). */
static uint64_t discrete_log(uint64_t p, uint64_t g, uint64_t y, uint64_t *tries)
{
    uint64_t cur = 1;
    for (uint64_t i = 1; i < p; i++) {
        cur = cur * g % p;
        if (cur == y) {
            *tries = i;
            return i;
        }
    }
    *tries = p - 1;
    return 0;
}

/* Eve's attack: find the private exponent behind the public value y. */
static int crack(uint64_t p, uint64_t g, uint64_t y, const uint64_t *other_public)
{
    uint64_t x, tries = 0;
    double t0 = now_s(), dt;
    int bits = 0;

    step("Eve saw p = %llu, g = %llu and the public value %llu on the wire; she tries every "
         "exponent x until %llu^x mod %llu = %llu",
         (ull)p, (ull)g, (ull)y, (ull)g, (ull)p, (ull)y);
    x = discrete_log(p, g, y, &tries);
    dt = now_s() - t0;
    if (!x) {
        errorf("crack", "no exponent gives %llu: it is not a power of %llu mod %llu", (ull)y,
               (ull)g, (ull)p);
        hint("public values come from g^x mod p; pick --public from a real run");
        return EXIT_FAILED;
    }
    step("found x = %llu after %llu tries in %.3f s", (ull)x, (ull)tries, dt);
    if (other_public)
        step("so Eve computes the shared secret herself: %llu^%llu mod %llu = %llu",
             (ull)*other_public, (ull)x, (ull)p, (ull)kex_toy_modpow(*other_public, x, p));
    else
        note("give the other side's public value too (--other) and Eve computes the shared "
             "secret");
    for (uint64_t v = p; v; v >>= 1)
        bits++;
    /* tries per second, then 2^2048 tries in years, as a power of ten */
    double rate = (double)tries / (dt > 1e-6 ? dt : 1e-6);
    double years = 2048 * log10(2.0) - log10(rate * 3.156e7);
    note("brute force needs up to p tries: p has %d bits here. At this speed a 2048-bit group "
         "would take about 10^%.0f years.",
         bits, years);
    note("(the number field sieve beats brute force by far, yet 2048-bit groups stay out of "
         "reach; X25519 and P-256 need about 2^128 steps)");
    result("cracked: x = %llu", (ull)x);
    if (other_public)
        print_shared(p, kex_toy_modpow(*other_public, x, p));
    return EXIT_OK;
}

/* Alice's side alone: her private a, and a value that arrives as Bob's
 * public value (--peer), from whoever sent it. It is taken as it comes, so
 * 0, 1, p-1 or p show what they do to the secret (the sheet's Break it);
 * exercise 03-1 makes Alice refuse them, as kex_derive() does for the
 * groups the chapter pair uses. */
static int alice_receives(uint64_t p, uint64_t g, uint64_t a, uint64_t y)
{
    uint64_t A = kex_toy_modpow(g, a, p), s;

    step("public parameters, known to everyone: p = %llu, g = %llu", (ull)p, (ull)g);
    step("Alice picks a private a = %llu and sends A = g^a mod p = %llu^%llu mod %llu = %llu",
         (ull)a, (ull)g, (ull)a, (ull)p, (ull)A);
    step("a value arrives as Bob's public value: B = %llu (from --peer: whoever sent it)", (ull)y);
    s = kex_toy_modpow(y, a, p);
    step("Alice computes B^a mod p = %llu^%llu mod %llu = %llu", (ull)y, (ull)a, (ull)p, (ull)s);
    print_shared(p, s);
    return EXIT_OK;
}

int dh_toy(int argc, char **argv)
{
    static const struct option opts[] = {
        {"p", required_argument, NULL, 'p'},      {"g", required_argument, NULL, 'g'},
        {"a", required_argument, NULL, 'a'},      {"b", required_argument, NULL, 'b'},
        {"crack", no_argument, NULL, 'c'},        {"public", required_argument, NULL, 'y'},
        {"other", required_argument, NULL, 'o'},  {"peer", required_argument, NULL, 'e'},
        CLI_COMMON_OPTIONS,                       {0},
    };
    uint64_t p = KEX_TOY_P, g = KEX_TOY_G, a = 0, b = 0, y = 0, other = 0;
    int c, do_crack = 0;
    const char *sa = NULL, *sb = NULL, *sy = NULL, *so = NULL, *se = NULL;

    while ((c = getopt_long(argc, argv, "p:g:a:b:cy:o:e:" CLI_COMMON_SHORT, opts, NULL)) != -1) {
        if (cli_common(c, dh_usage()))
            continue;
        switch (c) {
        case 'p': p = (uint64_t)cli_long("--p", optarg, 5, 4294967295L); break;
        case 'g': g = (uint64_t)cli_long("--g", optarg, 2, 4294967295L); break;
        case 'a': sa = optarg; break;
        case 'b': sb = optarg; break;
        case 'c': do_crack = 1; break;
        case 'y': sy = optarg; break;
        case 'o': so = optarg; break;
        case 'e': se = optarg; break;
        }
    }
    if (optind < argc)
        cli_usage_error("unexpected argument '%s'", argv[optind]);
    if (!is_prime(p))
        cli_usage_error("--p: %llu is not prime (DH needs a prime modulus)", (ull)p);
    if (g > p - 2)
        cli_usage_error("--g: must be in 2..p-2 = %llu", (ull)(p - 2));
    /* ranges depend on p, so they are checked after it is known */
    if (sa)
        a = (uint64_t)cli_long("--a", sa, 2, (long)(p - 2));
    if (sb)
        b = (uint64_t)cli_long("--b", sb, 2, (long)(p - 2));
    if (sy && !do_crack)
        cli_usage_error("--public goes with --crack");
    if (so && !sy)
        cli_usage_error("--other goes with --crack --public");
    if (sy) {
        y = toy_number("--public", sy, 1, p - 1);
        if (so)
            other = toy_number("--other", so, 1, p - 1);
        return crack(p, g, y, so ? &other : NULL);
    }
    if (se) {
        if (!sa || sb || do_crack)
            cli_usage_error("--peer goes with --a alone: Alice's private value, and the value "
                            "that arrives in place of Bob's");
        /* anything a 4-byte wire value could carry, in the group or not */
        return alice_receives(p, g, a, toy_number("--peer", se, 0, 4294967295ULL));
    }
    if ((!a && random_exponent(p, g, &a)) || (!b && random_exponent(p, g, &b))) {
        errorf("random", "the random number generator failed");
        return EXIT_FAILED;
    }

    uint64_t A = kex_toy_modpow(g, a, p), B = kex_toy_modpow(g, b, p);
    uint64_t sA = kex_toy_modpow(B, a, p), sB = kex_toy_modpow(A, b, p);
    step("public parameters, known to everyone (the shared paint): p = %llu, g = %llu", (ull)p,
         (ull)g);
    if (p < 100000) {
        uint64_t order = 1;
        for (uint64_t v = g; v != 1; v = v * g % p)
            order++;
        note("g = %llu takes %llu different values mod %llu%s", (ull)g, (ull)order, (ull)p,
             order == p - 1 ? ": all of 1..p-1, so g is a generator" : ": not a generator");
    }
    step("Alice picks a private a = %llu (her secret colour) and sends A = g^a mod p = "
         "%llu^%llu mod %llu = %llu",
         (ull)a, (ull)g, (ull)a, (ull)p, (ull)A);
    step("Bob picks a private b = %llu and sends B = g^b mod p = %llu^%llu mod %llu = %llu",
         (ull)b, (ull)g, (ull)b, (ull)p, (ull)B);
    step("on the wire: p, g, A = %llu, B = %llu (the mixed colours); never: a, b", (ull)A, (ull)B);
    step("Alice computes B^a mod p = %llu^%llu mod %llu = %llu", (ull)B, (ull)a, (ull)p, (ull)sA);
    step("Bob computes A^b mod p = %llu^%llu mod %llu = %llu", (ull)A, (ull)b, (ull)p, (ull)sB);
    if (sA != sB) {
        errorf("toy", "the two sides disagree (%llu != %llu)", (ull)sA, (ull)sB);
        return EXIT_FAILED;
    }
    note("both got (g^a)^b = (g^b)^a = g^(ab) mod p without ever sending a or b");
    result("A = %llu, B = %llu, shared = %llu", (ull)A, (ull)B, (ull)sA);
    return do_crack ? crack(p, g, A, &B) : EXIT_OK;
}
