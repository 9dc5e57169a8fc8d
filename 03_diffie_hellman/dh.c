/* SPDX-License-Identifier: MIT */
/*
 * dh - chapter 03's Diffie-Hellman workbench: every step narrated, a random
 * mode beside a known-answer mode.
 *
 *   dh toy [--p P --g G] [--crack]    small numbers you can check by hand (dh_toy.c);
 *        --crack --public Y [--other Z]   Eve's attack on values seen on the wire
 *   dh ffdhe [--group ffdhe2048|modp2048] | dh x25519 | dh p256
 *        no options: Alice and Bob each make a key pair and agree a secret
 *        --private HEX / --key FILE       our private key (known answer / PEM file)
 *        --peer HEX / --peer-key FILE     the peer's public value (validated first)
 *        --save-key FILE                  write our private key (0600) and FILE.pub
 *   dh hkdf --ikm HEX [--salt HEX] [--info HEX] [--len N]    RFC 5869, SHA-256
 *
 * Key files are the PEM files `openssl genpkey` makes and `openssl pkeyutl
 * -derive` reads, so OpenSSL can sit on the other side.
 *
 * Needs: OpenSSL 3.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "core/cli.h"
#include "dh.h"
#include "core/encoding.h"
#include "kex/kex.h"

static const char USAGE[] =
    "usage: dh toy [--p P] [--g G] [--a N] [--b N] [--crack [--public Y [--other Z]]]\n"
    "       dh toy [--p P] [--g G] --a N --peer Y\n"
    "       dh ffdhe [--group ffdhe2048|modp2048] [KEY OPTIONS]\n"
    "       dh x25519 [KEY OPTIONS]\n"
    "       dh p256 [KEY OPTIONS]\n"
    "       dh hkdf --ikm HEX [--salt HEX] [--info HEX] [--len N]\n"
    "\n"
    "Chapter 03's Diffie-Hellman workbench. With no key options, Alice and Bob each\n"
    "make a key pair, swap public values and compute the same secret.\n"
    "\n"
    "KEY OPTIONS (known-answer mode):\n"
    "  --private HEX    our private key (X25519: 32 bytes; P-256: scalar; ffdhe: exponent)\n"
    "  --key FILE       our private key from a PEM file (openssl genpkey)\n"
    "  --peer HEX       the peer's public value (X25519 32 bytes, P-256 65-byte point,\n"
    "                   ffdhe 256 bytes); checked before use\n"
    "  --peer-key FILE  the peer's public (or private) key from a PEM file\n"
    "  --save-key FILE  write our private key to FILE (0600) and its public key to FILE.pub\n"
    "\n"
    "toy: --p/--g the group (default 23 and 5; p prime below 2^32), --a/--b the private\n"
    "values (default random); --crack recovers a private value by trying every exponent\n"
    "(--public Y: crack Y instead of Alice's value; --other Z: the other side's public\n"
    "value, so Eve also prints the shared secret). Y and Z are decimal, or hex as the\n"
    "wire carries them with 0x in front: {\"public\":\"13\"} is --public 0x13 (= 19).\n"
    "--peer Y: Alice alone, with Y arriving in place of Bob's public value (taken as\n"
    "it comes, to show what a value outside the group does to the secret).\n"
    "hkdf: HKDF-SHA256; --len 1..8160 bytes (default 32); empty salt = 32 zero bytes.\n"
    "\n"
    "  -q, --quiet      print only results and errors\n"
    "  -v, --verbose    more detail\n"
    "  -h, --help       this text\n"
    "\n"
    "Results are lines 'public: HEX', 'shared: HEX' or 'okm: HEX'. Exit status: 0 success,\n"
    "1 a value was refused or an operation failed, 2 usage.\n";

const char *dh_usage(void) { return USAGE; }

static uint8_t *hex_arg(const char *opt, const char *s, size_t *n)
{
    uint8_t *b = NULL;
    if (strlen(s) > 4096 || hex_decode(s, &b, n) != 0)
        cli_usage_error("%s: '%.40s' is not an even number of hex digits (at most 2048 bytes)", opt,
                        s);
    return b;
}

static void print_hex(const char *label, const uint8_t *b, size_t n)
{
    char *h = hex_encode(b, n);
    result("%s: %s", label, h ? h : "(out of memory)");
    free(h);
}

/* One clear line for each reason a value can be refused, and what to do. */
static void kex_error(const char *what, kex_status st)
{
    errorf(what, "%s", kex_status_str(st));
    switch (st) {
    case KEX_ERR_PUBLIC_RANGE:
    case KEX_ERR_PUBLIC_INVALID:
        hint("an honest peer sends g^x mod p for a random x; 1 and p-1 only come from an attacker");
        break;
    case KEX_ERR_ZERO_SECRET:
        hint("low-order points (such as 0 or 1) make the secret known to everyone; refuse them");
        break;
    case KEX_ERR_NOT_ON_CURVE:
        hint("a P-256 public value is an uncompressed point 04||x||y (65 bytes) on the curve");
        break;
    case KEX_ERR_PUBLIC_LENGTH:
        hint("X25519: 32 bytes; P-256: 65 bytes (04||x||y) or 33 compressed; ffdhe: 256 bytes");
        break;
    case KEX_ERR_GROUP:
        hint("key files must hold X25519, P-256 or DH ffdhe2048/modp_2048 keys");
        break;
    default:
        break;
    }
}

static void group_mismatch(const char *path, kex_group got, kex_group want)
{
    errorf(path, "this is a %s key, and this exchange is in %s", kex_group_name(got),
           kex_group_name(want));
    hint("both sides must use the same group (dh ffdhe --group modp2048 for RFC 3526 keys)");
}

static kex_key *load_key(const char *path, kex_group want)
{
    size_t len = 0;
    char *pem = cli_read_file(path, 64 * 1024, &len);
    kex_key *k = NULL;
    kex_status st;
    if (!pem)
        return NULL;
    st = kex_from_pem(pem, len, &k);
    encoding_free_secret(pem, len);
    if (st == KEX_OK && kex_key_group(k) != want) {
        group_mismatch(path, kex_key_group(k), want);
        kex_free(k);
        return NULL;
    }
    if (st != KEX_OK)
        kex_error(path, st);
    return k;
}

/* no key options: Alice and Bob, both in this process, narrated */
static int two_party(kex_group g)
{
    kex_key *a = NULL, *b = NULL;
    uint8_t *pa = NULL, *pb = NULL, *sa = NULL, *sb = NULL;
    size_t na = 0, nb = 0, la = 0, lb = 0;
    int rc = EXIT_FAILED;
    kex_status st;

    step("Alice and Bob each make a fresh %s key pair; private values stay private",
         kex_group_name(g));
    if ((st = kex_generate(g, &a)) != KEX_OK || (st = kex_generate(g, &b)) != KEX_OK ||
        (st = kex_public(a, &pa, &na)) != KEX_OK || (st = kex_public(b, &pb, &nb)) != KEX_OK) {
        kex_error("generate", st);
        goto end;
    }
    step("they swap public values over the open wire (%zu bytes each)", na);
    print_hex("Alice public", pa, na);
    print_hex("Bob public", pb, nb);
    step("each combines their own private value with the other's public value");
    if ((st = kex_derive(a, pb, nb, &sa, &la)) != KEX_OK ||
        (st = kex_derive(b, pa, na, &sb, &lb)) != KEX_OK) {
        kex_error("derive", st);
        goto end;
    }
    if (la != lb || CRYPTO_memcmp(sa, sb, la) != 0) {
        errorf("derive", "Alice and Bob computed different secrets");
        goto end;
    }
    step("both got the same %zu-byte secret; it never crossed the wire", la);
    print_hex("shared", sa, la);
    note("next: never use it as a key directly; run it through HKDF (dh hkdf)");
    rc = EXIT_OK;
end:
    encoding_free_secret(sa, la);
    encoding_free_secret(sb, lb);
    free(pa);
    free(pb);
    kex_free(a);
    kex_free(b);
    return rc;
}

static int group_cmd(kex_group g, int argc, char **argv)
{
    static const struct option opts[] = {
        {"private", required_argument, NULL, 'x'}, {"key", required_argument, NULL, 'k'},
        {"peer", required_argument, NULL, 'y'},    {"peer-key", required_argument, NULL, 'K'},
        {"save-key", required_argument, NULL, 's'}, {"group", required_argument, NULL, 'g'},
        CLI_COMMON_OPTIONS,                         {0},
    };
    const char *priv_hex = NULL, *key_file = NULL, *peer_hex = NULL, *peer_file = NULL;
    const char *save = NULL;
    kex_key *k = NULL;
    uint8_t *priv = NULL, *peer = NULL, *pub = NULL, *secret = NULL;
    size_t npriv = 0, npeer = 0, npub = 0, nsecret = 0;
    int c, rc = EXIT_FAILED;
    kex_status st;

    while ((c = getopt_long(argc, argv, "x:k:y:K:s:g:" CLI_COMMON_SHORT, opts, NULL)) != -1) {
        if (cli_common(c, USAGE))
            continue;
        switch (c) {
        case 'x': priv_hex = optarg; break;
        case 'k': key_file = optarg; break;
        case 'y': peer_hex = optarg; break;
        case 'K': peer_file = optarg; break;
        case 's': save = optarg; break;
        case 'g':
            if (g == KEX_X25519 || g == KEX_P256 ||
                (strcmp(optarg, "ffdhe2048") && strcmp(optarg, "modp2048")))
                cli_usage_error("--group: ffdhe takes ffdhe2048 or modp2048");
            kex_group_from_name(optarg, &g);
            break;
        }
    }
    if (optind < argc)
        cli_usage_error("unexpected argument '%s'", argv[optind]);
    if ((priv_hex && key_file) || (peer_hex && peer_file))
        cli_usage_error("give our key as --private or --key, the peer's as --peer or --peer-key");
    if (!priv_hex && !key_file && !peer_hex && !peer_file && !save)
        return two_party(g);

    /* our side: known private value, key file, or fresh */
    if (priv_hex) {
        priv = hex_arg("--private", priv_hex, &npriv);
        st = kex_from_private(g, priv, npriv, &k);
        encoding_free_secret(priv, npriv);
        if (st != KEX_OK) {
            kex_error("--private", st);
            goto end;
        }
    } else if (key_file) {
        if (!(k = load_key(key_file, g)))
            goto end;
    } else if ((st = kex_generate(g, &k)) != KEX_OK) {
        kex_error("generate", st);
        goto end;
    }
    if ((st = kex_public(k, &pub, &npub)) != KEX_OK) {
        kex_error("public value", st);
        goto end;
    }
    step("our %s public value (this is what goes on the wire)", kex_group_name(g));
    print_hex("public", pub, npub);
    if (save) {
        char pubpath[4096];
        if ((size_t)snprintf(pubpath, sizeof pubpath, "%s.pub", save) >= sizeof pubpath)
            cli_usage_error("--save-key: path too long");
        if ((st = kex_save_pem(k, save, pubpath)) != KEX_OK) {
            errorf("--save-key", "cannot write %s or %s", save, pubpath);
            goto end;
        }
        step("wrote our private key to %s (mode 0600) and the public key to %s", save, pubpath);
    }
    /* their side: hex or a key file, then the validated derivation */
    if (peer_file) {
        size_t len = 0;
        kex_group pg;
        char *pem = cli_read_file(peer_file, 64 * 1024, &len);
        if (!pem)
            goto end;
        st = kex_public_from_pem(pem, len, &pg, &peer, &npeer);
        encoding_free_secret(pem, len);
        if (st == KEX_OK && pg != g) {
            group_mismatch(peer_file, pg, g);
            goto end;
        }
        if (st != KEX_OK) {
            kex_error(peer_file, st);
            goto end;
        }
    } else if (peer_hex) {
        peer = hex_arg("--peer", peer_hex, &npeer);
    }
    if (peer) {
        step("checking the peer's %zu-byte public value, then combining it with our private value",
             npeer);
        if ((st = kex_derive(k, peer, npeer, &secret, &nsecret)) != KEX_OK) {
            kex_error("peer public value", st);
            goto end;
        }
        print_hex("shared", secret, nsecret);
    }
    rc = EXIT_OK;
end:
    encoding_free_secret(secret, nsecret);
    free(peer);
    free(pub);
    kex_free(k);
    return rc;
}

static int hkdf_cmd(int argc, char **argv)
{
    static const struct option opts[] = {
        {"ikm", required_argument, NULL, 'i'}, {"salt", required_argument, NULL, 's'},
        {"info", required_argument, NULL, 'f'}, {"len", required_argument, NULL, 'l'},
        CLI_COMMON_OPTIONS, {0},
    };
    uint8_t *ikm = NULL, *salt = NULL, *info = NULL, *okm = NULL;
    size_t ni = 0, ns = 0, nf = 0, len = 32;
    int c, rc = EXIT_FAILED, have_ikm = 0;
    kex_status st;

    while ((c = getopt_long(argc, argv, "i:s:f:l:" CLI_COMMON_SHORT, opts, NULL)) != -1) {
        if (cli_common(c, USAGE))
            continue;
        switch (c) {
        case 'i': free(ikm); ikm = hex_arg("--ikm", optarg, &ni); have_ikm = 1; break;
        case 's': free(salt); salt = hex_arg("--salt", optarg, &ns); break;
        case 'f': free(info); info = hex_arg("--info", optarg, &nf); break;
        case 'l': len = (size_t)cli_long("--len", optarg, 1, 255 * 32); break;
        }
    }
    if (optind < argc)
        cli_usage_error("unexpected argument '%s'", argv[optind]);
    if (!have_ikm)
        cli_usage_error("hkdf needs --ikm HEX (the shared secret)");
    step("HKDF-SHA256 extract: PRK = HMAC-SHA256(salt (%zu bytes%s), IKM (%zu bytes))", ns,
         ns ? "" : " = 32 zero bytes", ni);
    step("HKDF-SHA256 expand: %zu bytes from PRK and info (%zu bytes)", len, nf);
    if (!(okm = malloc(len))) {
        errorf("hkdf", "out of memory");
        goto end;
    }
    if ((st = kex_hkdf_sha256(ikm, ni, salt, ns, info, nf, okm, len)) != KEX_OK) {
        kex_error("hkdf", st);
        goto end;
    }
    print_hex("okm", okm, len);
    rc = EXIT_OK;
end:
    if (okm)
        encoding_free_secret(okm, len);
    encoding_free_secret(ikm, ni);
    free(salt);
    free(info);
    return rc;
}

int main(int argc, char **argv)
{
    const char *cmd = argc > 1 ? argv[1] : "";
    narrate_init("dh", NULL);
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0)
        cli_help(USAGE);
    /* each subcommand parses its own options from argv[1] on */
    if (strcmp(cmd, "toy") == 0)
        return dh_toy(argc - 1, argv + 1);
    if (strcmp(cmd, "ffdhe") == 0)
        return group_cmd(KEX_FFDHE2048, argc - 1, argv + 1);
    if (strcmp(cmd, "x25519") == 0)
        return group_cmd(KEX_X25519, argc - 1, argv + 1);
    if (strcmp(cmd, "p256") == 0)
        return group_cmd(KEX_P256, argc - 1, argv + 1);
    if (strcmp(cmd, "hkdf") == 0)
        return hkdf_cmd(argc - 1, argv + 1);
    cli_usage_error("%s'%s': give one of toy, ffdhe, x25519, p256, hkdf",
                    *cmd ? "unknown subcommand " : "no subcommand ", cmd);
    return EXIT_USAGE;
}
