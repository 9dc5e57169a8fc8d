/* SPDX-License-Identifier: MIT */
/*
 * minica - chapter 04: a small certificate authority you can read.
 *
 * Shows: how a CA is made (a key and a self-signed certificate), how a
 * server asks for a certificate (a CSR), what a CA checks before it signs
 * (the CSR's self-signature, its policy), and how a client decides to trust
 * one (chain, names, validity, purpose, revocation). Says what it wrote,
 * where, and when it expires, in the style of mkcert; keys are written 0600.
 *
 * This file: the command line. The subcommands are in minica_ca.c (init,
 * intermediate, sign), minica_issue.c (issue, revoke, crl), minica_req.c
 * (key, csr), minica_inspect.c (inspect) and minica_verify.c (verify); what
 * they share (the passphrase, opening a CA folder, reports) in minica_util.c
 * and minica.h. All of it stands on common/pki/ (pki/pki.h).
 *
 * Needs: OpenSSL 3.
 */
#define _XOPEN_SOURCE 700 /* strptime */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/cli.h"
#include "minica.h"

static const char USAGE[] =
    "usage: minica COMMAND [options]\n"
    "\n"
    "Chapter 04: a home-made certificate authority.\n"
    "\n"
    "  init         --dir D [--pass-file F] [--cn NAME] [--key-type T] [--days N]\n"
    "               make a root CA in D: ca.key (encrypted, 0600), ca.crt, index.txt\n"
    "  intermediate --dir ROOT [--pass-file F] --out DIR [--new-pass-file F] [--cn NAME]\n"
    "               [--purpose client|server]\n"
    "               make an intermediate CA (pathlen 0) in DIR, signed by the CA in ROOT;\n"
    "               --purpose gives it that one EKU: nothing under it passes for the other\n"
    "  key          --out F [--key-type T] [--encrypt --pass-file F]\n"
    "  csr          --key F --cn NAME [--san DNS:x,IP:y,email:z,URI:u ...] --out F\n"
    "               [--country C --state ST --locality L --org O --ou OU]\n"
    "  sign         --dir D [--pass-file F] --csr F --profile server|client --out F\n"
    "               [--days N] [--crl-url URL]\n"
    "  issue        --dir D [--pass-file F] --profile server|client [--name BASE]\n"
    "               [--days N] NAME...   key + CSR + sign: BASE.key, BASE.crt,\n"
    "               BASE-chain.crt (default BASE: the first name)\n"
    "  inspect      [--pass-file F] FILE...  certificate, CSR, CRL or key, in words\n"
    "  verify       --ca F [--untrusted F] [--host NAME | --ip ADDR]\n"
    "               [--purpose server|client] [--crl F] CERT\n"
    "  revoke       --dir D --reason R SERIAL|CERT\n"
    "  crl          --dir D [--pass-file F] [--days N] [--out F]  (default D/crl.pem)\n"
    "\n"
    "Key types (--key-type): ec (P-256, default), rsa2048, rsa3072, rsa4096, ed25519.\n"
    "The CA passphrase comes from --pass-file F (its first line), else the\n"
    "environment variable MINICA_PASSPHRASE, else a prompt when stdin is a terminal.\n"
    "\n"
    "Lab options (sign, issue, crl), to make certificates and CRLs that fail on purpose:\n"
    "  --not-before T --not-after T   T = now, +3d, -2d, +12h, -30m or 2030-01-31\n"
    "                                 e.g. --not-before -10d --not-after -1d: expired\n"
    "                                 (for crl: its this update and next update)\n"
    "\n"
    "  -q, --quiet    print only what was written and errors\n"
    "  -v, --verbose  more detail\n"
    "  -h, --help     this text\n"
    "\n"
    "Exit status: 0 success, 1 the operation failed (verification failed, CSR\n"
    "refused, wrong passphrase), 2 usage error.\n";

enum {
    O_DIR = 'd', O_PASS = 'P', O_OUT = 'o', O_CSR = 'c', O_KEY = 'k', O_TYPE = 't',
    O_PROFILE = 'p', O_REASON = 'r', O_CRLURL = 'U', O_CA = 'A', O_UNTRUSTED = 'u',
    O_HOST = 'H', O_IP = 'I', O_PURPOSE = 'R', O_CRL = 'C', O_NEWPASS = 'N', O_NAME = 'n',
    O_SAN = 's', O_DAYS = 'D', O_NB = 'b', O_NA = 'a', O_ENC = 'E', O_CN = '1', O_C = '2',
    O_ST = '3', O_L = '4', O_ORG = '5', O_OU = '6',
};

typedef struct command {
    const char *name;
    int (*fn)(mc_opts *);
    const char *allowed; /* option codes this command accepts */
} command;

static const command COMMANDS[] = {
    {"init", mc_init, "dPt1D23456"},
    {"intermediate", mc_intermediate, "dPoNt1D23456R"},
    {"key", mc_key, "otEP"},
    {"csr", mc_csr, "kos123456"},
    {"sign", mc_sign, "dPcpoDUba"},
    {"issue", mc_issue, "dPpnDUbat"},
    {"inspect", mc_inspect, "P"},
    {"verify", mc_verify, "AuHIRC"},
    {"revoke", mc_revoke, "dr"},
    {"crl", mc_crl, "dPDoba"},
    {0},
};

/* "now", "+3d", "-2d", "+12h", "-30m", "2030-01-31" or "2030-01-31T12:00:00Z" */
static time_t parse_time(const char *opt, const char *s)
{
    time_t now = time(NULL);
    struct tm tm = {0};
    char *end = NULL;
    if (!strcmp(s, "now"))
        return now;
    if (s[0] == '+' || s[0] == '-') {
        long n = strtol(s + 1, &end, 10);
        long unit = *end == 'd' ? 86400 : *end == 'h' ? 3600 : *end == 'm' ? 60 : 0;
        if (end == s + 1 || !unit || end[1] != '\0' || n < 0 || n > 36500)
            cli_usage_error("%s: '%s' is not now, +Nd, -Nd, +Nh, -Nh, +Nm, -Nm or a date", opt, s);
        return now + (s[0] == '-' ? -1 : 1) * n * unit;
    }
    end = strptime(s, "%Y-%m-%d", &tm);
    if (end && *end == 'T')
        end = strptime(end, "T%H:%M:%SZ", &tm);
    if (!end || *end != '\0')
        cli_usage_error("%s: '%s' is not a date (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ)", opt, s);
    return timegm(&tm);
}

static void add_sans(mc_opts *o, char *list)
{
    char *save = NULL;
    for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        while (*t == ' ')
            t++;
        if (o->n_sans == MINICA_MAX_SANS)
            cli_usage_error("--san: at most %d names", MINICA_MAX_SANS);
        o->sans[o->n_sans++] = t;
    }
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"dir", required_argument, NULL, O_DIR}, {"pass-file", required_argument, NULL, O_PASS},
        {"out", required_argument, NULL, O_OUT}, {"csr", required_argument, NULL, O_CSR},
        {"key", required_argument, NULL, O_KEY}, {"key-type", required_argument, NULL, O_TYPE},
        {"profile", required_argument, NULL, O_PROFILE},
        {"reason", required_argument, NULL, O_REASON},
        {"crl-url", required_argument, NULL, O_CRLURL}, {"ca", required_argument, NULL, O_CA},
        {"untrusted", required_argument, NULL, O_UNTRUSTED},
        {"host", required_argument, NULL, O_HOST}, {"ip", required_argument, NULL, O_IP},
        {"purpose", required_argument, NULL, O_PURPOSE}, {"crl", required_argument, NULL, O_CRL},
        {"new-pass-file", required_argument, NULL, O_NEWPASS},
        {"name", required_argument, NULL, O_NAME}, {"san", required_argument, NULL, O_SAN},
        {"days", required_argument, NULL, O_DAYS},
        {"not-before", required_argument, NULL, O_NB},
        {"not-after", required_argument, NULL, O_NA}, {"encrypt", no_argument, NULL, O_ENC},
        {"cn", required_argument, NULL, O_CN}, {"country", required_argument, NULL, O_C},
        {"state", required_argument, NULL, O_ST}, {"locality", required_argument, NULL, O_L},
        {"org", required_argument, NULL, O_ORG}, {"ou", required_argument, NULL, O_OU},
        CLI_COMMON_OPTIONS, {0},
    };
    mc_opts o = {0};
    const command *cmd = NULL;
    int c, idx = 0;

    narrate_init("minica", NULL);
    if (argc < 2)
        cli_usage_error("a command is needed (init, intermediate, key, csr, sign, issue, "
                        "inspect, verify, revoke, crl)");
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help"))
        cli_help(USAGE);
    for (const command *k = COMMANDS; k->name; k++)
        if (!strcmp(argv[1], k->name))
            cmd = k;
    if (!cmd)
        cli_usage_error("unknown command '%s'", argv[1]);
    argv++;
    argc--;
    while ((c = getopt_long(argc, argv, "o:" CLI_COMMON_SHORT, opts, &idx)) != -1) {
        if (cli_common(c, USAGE))
            continue;
        if (!strchr(cmd->allowed, c))
            cli_usage_error("%s does not apply to '%s'", argv[optind - 1], cmd->name);
        switch (c) {
        case O_DIR: o.dir = optarg; break;
        case O_PASS: o.pass_file = optarg; break;
        case O_OUT: o.out = optarg; break;
        case O_CSR: o.csr = optarg; break;
        case O_KEY: o.key = optarg; break;
        case O_TYPE: o.type = optarg; break;
        case O_PROFILE: o.profile = optarg; break;
        case O_REASON: o.reason = optarg; break;
        case O_CRLURL: o.crl_url = optarg; break;
        case O_CA: o.ca = optarg; break;
        case O_UNTRUSTED: o.untrusted = optarg; break;
        case O_HOST: o.host = optarg; break;
        case O_IP: o.ip = optarg; break;
        case O_PURPOSE: o.purpose = optarg; break;
        case O_CRL: o.crl = optarg; break;
        case O_NEWPASS: o.new_pass_file = optarg; break;
        case O_NAME: o.name = optarg; break;
        case O_SAN: add_sans(&o, optarg); break;
        case O_DAYS: o.days = (int)cli_long("--days", optarg, 1, 36500); break;
        case O_NB: o.not_before = parse_time("--not-before", optarg); break;
        case O_NA: o.not_after = parse_time("--not-after", optarg); break;
        case O_ENC: o.encrypt = 1; break;
        case O_CN: o.subj.cn = optarg; break;
        case O_C: o.subj.c = optarg; break;
        case O_ST: o.subj.st = optarg; break;
        case O_L: o.subj.l = optarg; break;
        case O_ORG: o.subj.o = optarg; break;
        case O_OU: o.subj.ou = optarg; break;
        }
    }
    o.args = argv + optind;
    o.n_args = argc - optind;
    if (o.not_before || o.not_after)
        warning("lab option: --not-before/--not-after make a certificate or CRL with a chosen "
                "validity window (for expiry exercises); never use it for a real service");
    return cmd->fn(&o);
}
