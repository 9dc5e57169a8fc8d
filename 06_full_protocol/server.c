/* SPDX-License-Identifier: MIT */
/*
 * 06-server - chapter 06, the capstone: one secure service on every earlier
 * chapter. HTTPS (TLS 1.3 only, chapter 05), client certificates from a
 * device CA (chapter 04), a signed and channel-bound X25519 handshake
 * (chapters 03 and 04), AES-GCM envelopes inside TLS, signed records in a
 * durable SQLite store, and tokens bound to the device certificate.
 *
 * Routes (service.h says which file answers each):
 *   POST /v1/register                      {username, password}         no certificate
 *   GET  /.well-known/est/cacerts          the device CA (EST)          no certificate
 *   POST /.well-known/est/simpleenroll     CSR, HTTP Basic               no certificate
 *   POST /.well-known/est/simplereenroll   CSR                          device certificate
 *   POST /v1/hello                         HELLO -> HELLO_ACK           device certificate
 *   POST /v1/data, /v1/close               envelopes                    certificate + Bearer
 *   GET  /v1/whoami                        account, device, token       certificate + Bearer
 *   GET  /crl                              the device CA's CRL (DER)
 *   /v1/admin/...                          06-admin                     admin cert + token
 *
 * On first start it makes, in --data DIR (0700): the store (course06.db),
 * the token-signing key (token.key), the admin token (admin.token), the
 * quarantine key (quarantine.key), the admin's client certificate
 * (admin.crt, admin.key): every secret in a 0600 file, none in the code or
 * on the command line (R1 had its admin secret in the source).
 */
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509_vfy.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../05_https_server/mtls.h"
#include "../05_https_server/policy.h"
#include "core/cli.h"
#include "core/encoding.h"
#include "net/webserver.h"
#include "pki/pki.h"
#include "service.h"

#define PKI_SERVER_CHAIN "build/pki/server-chain.crt"
#define PKI_SERVER_KEY "build/pki/server.key"
#define PKI_DEVICE_CA "build/pki/devices"
#define PKI_PASS "build/pki/ca-pass"
#define DATA_DEFAULT "build/06"

extern const web_route admin_routes[];

static const char SYNOPSIS[] =
    "[--data DIR] [--name HOST] [--cert F --key F] [--device-ca DIR --pass-file F]\n"
    "                 [--rotate-every N] [--idle S] [--sessions N] [--token-lifetime S]\n"
    "                 [--argon2 owasp|rfc9106] [--enrol-binding required|optional] [--bind-ip]\n"
    "                 [--notify-max N] [--send-rate N]\n"
    "                 [--lab [--lab-bearer] [--lab-no-envelope] [--lab-no-seq] [--lab-no-binding]\n"
    "                        [--lab-no-group-commit] [--lab-sync-normal]] ";
static const char ABOUT[] =
    "Chapter 06: the whole protocol. Accounts, EST enrolment of device certificates,\n"
    "a signed channel-bound HELLO, AES-GCM envelopes with replay protection and key\n"
    "rotation, signed records stored durably, tokens bound to the certificate.\n";
static const char OPTIONS_HELP[] =
    "  --data DIR       the service's folder: store, keys, quarantine (default " DATA_DEFAULT ")\n"
    "  --name HOST      the name clients reach us by, in every signature (default localhost)\n"
    "  --cert F         TLS certificate chain (default " PKI_SERVER_CHAIN ")\n"
    "  --key F          its key; also signs HELLO_ACK (default " PKI_SERVER_KEY ")\n"
    "  --device-ca DIR  the CA that issues device certificates (default " PKI_DEVICE_CA ")\n"
    "  --pass-file F    its key's passphrase (default " PKI_PASS ")\n"
    "  --rotate-every N new envelope keys every N messages per direction (default 10)\n"
    "  --idle S         a session without a request for S seconds ends (default 1800)\n"
    "  --sessions N     live sessions at most; then 503 + Retry-After (default 1024)\n"
    "  --token-lifetime S  seconds a token lives, at most 1800 (default 1800)\n"
    "  --argon2 P       password hashing: owasp (m=19 MiB t=2 p=1, default) or rfc9106\n"
    "  --enrol-binding M  required (default): a CSR carries this connection's tls-exporter;\n"
    "                   optional: lab only, so curl + openssl can act as the EST client\n"
    "  --bind-ip        a session answers only the address that opened it (R3; off: NAT)\n"
    "  --notify-max N   notification WebSockets at most, each holds a worker thread\n"
    "                   (default: a quarter of --threads); then 503 + Retry-After\n"
    "  --send-rate N    messages and items one account may send: N a minute, bursts of 20\n"
    "                   (default 300: 5 a second); beyond, refused with the seconds to wait\n"
    "  --lab --lab-bearer  LAB ONLY: accept a token from any certificate (a bearer token)\n"
    /* the layers lab (make 06-layers): each switch turns one defence off */
    "  --lab --lab-no-envelope  LAB ONLY: no AES-GCM envelope: ct carries the plaintext\n"
    "  --lab --lab-no-seq  LAB ONLY: a replayed or reordered envelope is opened anyway\n"
    "  --lab --lab-no-binding  LAB ONLY: a HELLO bound to no TLS connection is accepted\n"
    "  --lab --lab-no-group-commit  BENCH ONLY: one record per COMMIT (what group commit saves)\n"
    "  --lab --lab-sync-normal  BENCH ONLY: synchronous=NORMAL, NOT power-loss safe: an\n"
    "                   acknowledged record can be lost at a power cut (make bench shows the cost)\n";
static const char EPILOGUE[] =
    "Environment: SSLKEYLOGFILE=FILE writes the TLS secrets there (for Wireshark).\n"
    "The first line on stdout is 'listening on URL'. Stop with Ctrl-C (exit 0).\n";

/* the layers lab's switches: no short form, out of getopt's character range */
enum { OPT_LAB_NO_ENVELOPE = 0x200, OPT_LAB_NO_SEQ, OPT_LAB_NO_BINDING, OPT_SEND_RATE };

typedef struct server {
    service svc;
    tls_server_policy policy;
    mtls mtls;
    const char *device_ca_dir, *pass_file;
    int lab;
    int lab_no_group, lab_sync_normal; /* BENCH ONLY: store_lab_options */
    accounts_params argon2;
} server;

static int option(int c, const char *arg, void *ctx)
{
    server *s = ctx;
    switch (c) {
    case 'd': s->svc.data_dir = arg; return 1;
    case 'n': s->svc.server_name = arg; return 1;
    case 'c': s->policy.cert_chain = arg; return 1;
    case 'k': s->policy.key = arg; return 1;
    case 'D': s->device_ca_dir = arg; return 1;
    case 'P': s->pass_file = arg; return 1;
    case 'r': s->svc.rotate_every = (unsigned)cli_long("--rotate-every", arg, 1, ENVELOPE_ROTATE_MAX); return 1;
    case 'i': s->svc.idle_seconds = (unsigned)cli_long("--idle", arg, 1, 86400); return 1;
    case 's': s->svc.max_sessions = (size_t)cli_long("--sessions", arg, 1, 1 << 20); return 1;
    case 't': s->svc.token_lifetime = cli_long("--token-lifetime", arg, 1, TOKEN_MAX_LIFETIME); return 1;
    case 'a':
        if (strcmp(arg, "owasp") == 0)
            s->argon2 = accounts_params_owasp();
        else if (strcmp(arg, "rfc9106") == 0)
            s->argon2 = accounts_params_rfc9106();
        else
            cli_usage_error("--argon2 must be owasp or rfc9106, not '%s'", arg);
        return 1;
    case 'e':
        if (strcmp(arg, "required") != 0 && strcmp(arg, "optional") != 0)
            cli_usage_error("--enrol-binding must be required or optional, not '%s'", arg);
        s->svc.enrol_binding_optional = strcmp(arg, "optional") == 0;
        return 1;
    case 'b': s->svc.bind_ip = 1; return 1;
    case 'L': s->lab = 1; return 1;
    case 'B': s->svc.lab_bearer = 1; return 1;
    case OPT_LAB_NO_ENVELOPE: s->svc.lab_no_envelope = 1; return 1;
    case OPT_LAB_NO_SEQ: s->svc.lab_no_seq = 1; return 1;
    case OPT_LAB_NO_BINDING: s->svc.lab_no_binding = 1; return 1;
    case 'G': s->lab_no_group = 1; return 1;
    case 'Y': s->lab_sync_normal = 1; return 1;
    case 'N': s->svc.notify_max = (int)cli_long("--notify-max", arg, 1, 4096); return 1;
    case OPT_SEND_RATE: messages_set_rate((int)cli_long("--send-rate", arg, 1, 60000)); return 1;
    }
    return 0;
}

/* ---- the data folder's secrets ------------------------------------------ */

static int path_in(char *out, size_t len, const char *dir, const char *name)
{
    int n = snprintf(out, len, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= len) {
        errorf("data folder", "the path %s/%s is too long", dir, name);
        return -1;
    }
    return 0;
}

static int load_token_key(service *svc)
{
    char path[512], err[256];
    if (path_in(path, sizeof path, svc->data_dir, "token.key"))
        return -1;
    if (access(path, F_OK) != 0) {
        token_key k;
        if (token_key_generate(&k) != 0 || token_key_write(&k, path, err, sizeof err) != 0) {
            token_key_clear(&k);
            errorf("token key", "%s", err);
            return -1;
        }
        token_key_clear(&k);
        note("made the token-signing key %s (32 random bytes, mode 0600)", path);
    }
    if (token_key_load(&svc->token_keys[0], path, err, sizeof err) != 0) {
        errorf("token key", "%s", err);
        return -1;
    }
    return 0;
}

/* The admin token: 32 random bytes as hex in DATA/admin.token (0600). Only
 * its SHA-256 stays in memory. */
static int load_admin_token(service *svc)
{
    char path[512];
    size_t len = 0;
    if (path_in(path, sizeof path, svc->data_dir, "admin.token"))
        return -1;
    if (access(path, F_OK) != 0) {
        uint8_t raw[32];
        char *hex;
        if (RAND_priv_bytes(raw, sizeof raw) != 1 || !(hex = hex_encode(raw, sizeof raw))) {
            errorf("admin token", "no randomness");
            return -1;
        }
        OPENSSL_cleanse(raw, sizeof raw);
        int rc = pki_write_file(path, hex, strlen(hex), 0600);
        encoding_free_secret(hex, strlen(hex));
        if (rc != 0) {
            errorf("admin token", "cannot write %s: %s", path, pki_last_error());
            return -1;
        }
        note("made the admin token %s (mode 0600): 06-admin reads it", path);
    }
    struct stat sb;
    if (lstat(path, &sb) != 0 || !S_ISREG(sb.st_mode) || (sb.st_mode & 077)) {
        errorf("admin token", "%s must be a regular file readable by its owner only", path);
        hint("chmod 600 %s", path);
        return -1;
    }
    char *tok = cli_read_file(path, 256, &len);
    if (!tok)
        return -1;
    while (len && (tok[len - 1] == '\n' || tok[len - 1] == '\r'))
        tok[--len] = '\0';
    unsigned int n = 0;
    int rc = len >= 32 && EVP_Digest(tok, len, svc->admin_digest, &n, EVP_sha256(), NULL) == 1 ? 0 : -1;
    encoding_free_secret(tok, len);
    if (rc)
        errorf("admin token", "%s holds no usable token", path);
    return rc;
}

/* The admin's client certificate, from the device CA; re-issued when it has
 * less than a week left. It has no devices row, so it is nobody's device. */
static int load_admin_cert(service *svc)
{
    char crt[512], key[512];
    X509 *cert = NULL;
    if (path_in(crt, sizeof crt, svc->data_dir, "admin.crt") ||
        path_in(key, sizeof key, svc->data_dir, "admin.key"))
        return -1;
    cert = pki_cert_read(crt);
    if (!cert || access(key, R_OK) != 0 || pki_days_until(X509_get0_notAfter(cert)) < 7) {
        X509_free(cert);
        cert = NULL;
        EVP_PKEY *k = pki_key_generate("p256");
        pki_name subject = {0};
        subject.cn = "course06-admin";
        X509_REQ *csr = k ? pki_csr_create(k, &subject, NULL, 0) : NULL;
        char serial[LIVE_SERIAL_SIZE];
        if (csr)
            cert = pki_issue_device(csr, svc->device_ca, svc->device_ca_key, "course06-admin", 365,
                                    serial, sizeof serial);
        int rc = cert && pki_key_write(key, k, NULL) == 0 && pki_cert_write(crt, cert) == 0 ? 0 : -1;
        X509_REQ_free(csr);
        EVP_PKEY_free(k);
        if (rc) {
            X509_free(cert);
            errorf("admin certificate", "cannot make %s: %s", crt, pki_last_error());
            return -1;
        }
        note("made the admin client certificate %s (key %s, mode 0600)", crt, key);
    }
    int rc = pki_serial_hex(X509_get0_serialNumber(cert), svc->admin_serial, sizeof svc->admin_serial);
    X509_free(cert);
    return rc;
}

static int load_device_ca(server *s)
{
    service *svc = &s->svc;
    char crt[512], key[512];
    size_t len = 0;
    char *pass;
    static char ca_file[512];
    if (path_in(crt, sizeof crt, s->device_ca_dir, "ca.crt") ||
        path_in(key, sizeof key, s->device_ca_dir, "ca.key"))
        return -1;
    if (!(pass = cli_read_file(s->pass_file, 1024, &len))) {
        hint("`make pki` makes the device CA and its passphrase file");
        return -1;
    }
    while (len && (pass[len - 1] == '\n' || pass[len - 1] == '\r'))
        pass[--len] = '\0';
    svc->device_ca = pki_cert_read(crt);
    /* decrypted here, in memory only: on disk the key stays encrypted */
    svc->device_ca_key = svc->device_ca ? pki_key_read(key, pass) : NULL;
    encoding_free_secret(pass, len);
    if (!svc->device_ca || !svc->device_ca_key) {
        errorf("device CA", "cannot load %s and %s: %s", crt, key, pki_last_error());
        hint("`make pki` makes build/pki/devices/ (the device CA)");
        return -1;
    }
    snprintf(ca_file, sizeof ca_file, "%s", crt);
    svc->device_ca_file = ca_file;
    return 0;
}

static int load_server_key(server *s)
{
    service *svc = &s->svc;
    svc->server_key = pki_key_read(s->policy.key, NULL);
    svc->server_cert = pki_cert_read(s->policy.cert_chain);
    if (!svc->server_key || !svc->server_cert) {
        errorf("server key", "cannot load %s and %s: %s", s->policy.key, s->policy.cert_chain,
               pki_last_error());
        hint("`make pki` makes build/pki/server-chain.crt and server.key");
        return -1;
    }
    return 0;
}

/* ---- TLS ---------------------------------------------------------------- */

static int init_ssl(void *ssl_ctx, void *arg)
{
    server *s = arg;
    if (policy_apply(ssl_ctx, &s->policy) || tls_server_configure(ssl_ctx, &s->policy) ||
        mtls_init_ssl(ssl_ctx, &s->mtls))
        return -1;
    /* The device CA is an intermediate of the course root, and it alone is
     * trusted for client certificates: a certificate from the root's other
     * intermediate (chapter 05's client.crt) is a foreign one. PARTIAL_CHAIN
     * lets the chain end at the device CA instead of the root. */
    X509_VERIFY_PARAM_set_flags(SSL_CTX_get0_param(ssl_ctx), X509_V_FLAG_PARTIAL_CHAIN);
    return 0;
}

static void announce(void *arg)
{
    server *s = arg;
    step("TLS 1.3 only, certificate chain %s; client certificates from the device CA %s "
         "(asked for, optional at TLS, required by every endpoint but register and enrolment)",
         s->policy.cert_chain, s->svc.device_ca_file);
    note("store: %s", store_describe(s->svc.st));
    note("sessions: at most %zu, idle %u s; keys every %u messages; tokens %ld s, bound to the "
         "certificate%s",
         s->svc.max_sessions, s->svc.idle_seconds, s->svc.rotate_every, s->svc.token_lifetime,
         s->svc.bind_ip ? " and the address" : "");
    char words[80];
    if (messages_rate() != MESSAGES_RATE_DEFAULT)
        note("rate limit: %s per account (--send-rate)",
             messages_rate_words(words, sizeof words, "message or item", "messages or items"));
    if (s->svc.enrol_binding_optional)
        notice("--enrol-binding optional: a CSR relayed from another connection is accepted (lab)");
    if (s->svc.lab_bearer)
        warning("LAB: --lab-bearer: a stolen token works from any certificate");
    if (s->svc.lab_no_envelope)
        warning("LAB: --lab-no-envelope: requests and answers travel as plaintext: no AES-GCM, no tag, "
                "no seq; anyone who terminates TLS reads and changes them");
    if (s->svc.lab_no_seq)
        warning("LAB: --lab-no-seq: the sequence check is off: a replayed or reordered envelope is "
                "opened and acted on again");
    if (s->svc.lab_no_binding)
        warning("LAB: --lab-no-binding: a HELLO signed over no TLS exporter is accepted: a proxy "
                "that terminates TLS can relay it unnoticed");
    if (s->lab_sync_normal)
        warning("LAB: --lab-sync-normal: synchronous=NORMAL: NOT POWER-LOSS SAFE, an acknowledged record "
                "can be lost at a power cut");
    if (s->lab_no_group)
        warning("LAB: --lab-no-group-commit: one record per COMMIT (one fsync each)");
    tls_server_announce(&s->policy);
}

/* ---- the sweeper: idle sessions end on time even if nobody asks ------------ */

static pthread_mutex_t sweep_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t sweep_cond = PTHREAD_COND_INITIALIZER;
static int sweep_stop;

static void *sweeper(void *arg)
{
    service *svc = arg;
    pthread_mutex_lock(&sweep_lock);
    while (!sweep_stop) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 10;
        pthread_cond_timedwait(&sweep_cond, &sweep_lock, &until);
        if (sweep_stop)
            break;
        pthread_mutex_unlock(&sweep_lock);
        size_t n = live_sweep(svc->sessions, 0);
        if (n)
            note("sweeper: %zu idle or expired session%s ended", n, n == 1 ? "" : "s");
        pthread_mutex_lock(&sweep_lock);
    }
    pthread_mutex_unlock(&sweep_lock);
    return NULL;
}

/* web_config's hooks, for notify.c */
static int notify_started(struct mg_context *ctx, void *arg)
{
    return notify_start(arg, ctx);
}

static void notify_stopping(void *arg)
{
    notify_stop(arg);
}

int main(int argc, char **argv)
{
    static const struct option own[] = {
        {"data", required_argument, NULL, 'd'},      {"name", required_argument, NULL, 'n'},
        {"cert", required_argument, NULL, 'c'},      {"key", required_argument, NULL, 'k'},
        {"device-ca", required_argument, NULL, 'D'}, {"pass-file", required_argument, NULL, 'P'},
        {"rotate-every", required_argument, NULL, 'r'}, {"idle", required_argument, NULL, 'i'},
        {"sessions", required_argument, NULL, 's'},  {"token-lifetime", required_argument, NULL, 't'},
        {"argon2", required_argument, NULL, 'a'},    {"enrol-binding", required_argument, NULL, 'e'},
        {"bind-ip", no_argument, NULL, 'b'},         {"lab", no_argument, NULL, 'L'},
        {"lab-bearer", no_argument, NULL, 'B'},
        {"lab-no-envelope", no_argument, NULL, OPT_LAB_NO_ENVELOPE},
        {"lab-no-seq", no_argument, NULL, OPT_LAB_NO_SEQ},
        {"lab-no-binding", no_argument, NULL, OPT_LAB_NO_BINDING},
        {"lab-no-group-commit", no_argument, NULL, 'G'}, {"lab-sync-normal", no_argument, NULL, 'Y'},
        {"notify-max", required_argument, NULL, 'N'},
        {"send-rate", required_argument, NULL, OPT_SEND_RATE},
        {0},
    };
    static server s = {
        .policy = {PKI_SERVER_CHAIN, PKI_SERVER_KEY, 1, -1},
        .mtls = MTLS_DEFAULTS,
        .device_ca_dir = PKI_DEVICE_CA,
        .pass_file = PKI_PASS,
    };
    service *svc = &s.svc;
    const cli_program prog = {.synopsis = SYNOPSIS, .about = ABOUT, .options_help = OPTIONS_HELP,
                              .epilogue = EPILOGUE, .options = own, .option = option, .ctx = &s};
    cli_server srv = cli_server_defaults(COURSE_PORT(6));
    pthread_t sweep_thread;
    int rc = EXIT_FAILED, sweeping = 0;
    char err[512];

    narrate_init("06-server", "server");
    svc->data_dir = DATA_DEFAULT;
    svc->server_name = "localhost";
    svc->rotate_every = ENVELOPE_ROTATE_DEFAULT;
    svc->idle_seconds = SERVICE_IDLE_DEFAULT;
    svc->max_sessions = SERVICE_SESSIONS_DEFAULT;
    svc->token_lifetime = TOKEN_MAX_LIFETIME;
    s.argon2 = accounts_params_owasp();
    srv.threads = 32;
    cli_parse_server(argc, argv, &prog, &srv);
    if (svc->lab_bearer && !s.lab)
        cli_usage_error("--lab-bearer turns a defence off: it needs --lab as well");
    if (svc->lab_no_envelope && !s.lab)
        cli_usage_error("--lab-no-envelope turns a defence off: it needs --lab as well");
    if (svc->lab_no_seq && !s.lab)
        cli_usage_error("--lab-no-seq turns a defence off: it needs --lab as well");
    if (svc->lab_no_binding && !s.lab)
        cli_usage_error("--lab-no-binding turns a defence off: it needs --lab as well");
    if ((s.lab_no_group || s.lab_sync_normal) && !s.lab)
        cli_usage_error("--lab-no-group-commit and --lab-sync-normal are for the benchmark (the second is "
                        "not power-loss safe): they need --lab as well");
    store_lab_options(s.lab_no_group, s.lab_sync_normal);
    pthread_mutex_init(&svc->crl_lock, NULL);
    pthread_mutex_init(&svc->revoked_lock, NULL);
    svc->revoked_serials = calloc(SERVICE_MAX_REVOKED, sizeof *svc->revoked_serials);
    svc->revoked_jtis = calloc(SERVICE_MAX_REVOKED, sizeof *svc->revoked_jtis);
    svc->sessions = live_new(svc->max_sessions, svc->idle_seconds);
    if (!svc->revoked_serials || !svc->revoked_jtis || !svc->sessions) {
        errorf("start", "out of memory");
        return EXIT_FAILED;
    }

    if (mkdir(svc->data_dir, 0700) != 0 && errno != EEXIST) {
        errorf("data folder", "cannot make %s: %s", svc->data_dir, strerror(errno));
        return EXIT_FAILED;
    }
    if (store_open(svc->data_dir, &svc->st, err, sizeof err) != 0) {
        errorf("store", "%s", err);
        return EXIT_FAILED;
    }
    sqlite3 *acc_db = store_connect(svc->st, err, sizeof err);
    if (!acc_db || accounts_open(acc_db, &s.argon2, &svc->acc) != 0) {
        errorf("accounts", "%s", acc_db ? "cannot set up the accounts" : err);
        goto out;
    }
    if (load_token_key(svc) || load_admin_token(svc) || load_device_ca(&s) || load_admin_cert(svc) ||
        load_server_key(&s) || revoked_load(svc) != 0)
        goto out;
    /* the CRL the TLS layer checks client certificates against, made from
     * the devices table now, and again at each revocation */
    if (path_in(svc->crl_file, sizeof svc->crl_file, svc->data_dir, "devices-crl.pem") ||
        device_crl_publish(svc, err, sizeof err) != 0) {
        errorf("CRL", "%s", err);
        goto out;
    }
    /* iss and aud of every token: the service by its name (the port is known
     * only once it listens, and a token must not die with a port change) */
    snprintf(svc->url, sizeof svc->url, "https://%s", svc->server_name);
    s.mtls.client_ca = svc->device_ca_file;
    s.mtls.client_mode = "optional";
    s.mtls.crl = svc->crl_file;
    const char *copts[24] = {"tcp_nodelay", "1", "keep_alive_timeout_ms", "15000",
                             "ssl_protocol_version", "5", /* civetweb's "5": TLS 1.3 only */
                             /* notify.c: once its writer returned, civetweb's reader
                              * waits this long for the client's close frame, pinging;
                              * after 5 unanswered pings the socket goes */
                             "websocket_timeout_ms", "2000", "enable_websocket_ping_pong", "yes"};
    if (mtls_check_files(&s.mtls) || tls_check_server_files(&s.policy) || mtls_load_crls(&s.mtls) ||
        mtls_civetweb_options(&s.mtls, copts, sizeof copts / sizeof *copts) ||
        tls_keylog_open_from_env())
        goto out;
    svc->crls = s.mtls.crls;

    web_route routes[32] = {
        {"POST", "/v1/register", h_register, svc},
        {"GET", "/.well-known/est/cacerts", h_est_cacerts, svc},
        {"POST", "/.well-known/est/simpleenroll", h_est_enroll, svc},
        {"POST", "/.well-known/est/simplereenroll", h_est_reenroll, svc},
        {"POST", "/v1/hello", h_hello, svc},
        {"POST", "/v1/data", h_data, svc},
        {"POST", "/v1/close", h_close, svc},
        {"GET", "/v1/whoami", h_whoami, svc},
        {"GET", "/crl", mtls_get_crl, &s.mtls},
    };
    size_t nr = 9;
    for (size_t i = 0; admin_routes[i].fn && nr + 1 < sizeof routes / sizeof *routes; i++) {
        routes[nr] = admin_routes[i];
        routes[nr++].arg = svc;
    }
    routes[nr] = (web_route){0};

    if (pthread_create(&sweep_thread, NULL, sweeper, svc) == 0)
        sweeping = 1;
    web_config cfg = web_config_for(&srv);
    cfg.routes = routes;
    cfg.tls = 1;
    cfg.civetweb_options = copts;
    cfg.init_ssl = init_ssl;
    cfg.init_ssl_arg = &s;
    cfg.on_listening = announce;
    cfg.on_listening_arg = &s;
    cfg.on_reload = mtls_reload; /* SIGHUP: read the CRL again */
    cfg.on_reload_arg = &s.mtls;
    /* notify.c: GET /v1/notify, a WebSocket, and its writers woken before mg_stop */
    static const char *const ws_paths[] = {"/v1/notify", NULL};
    cfg.websocket_paths = ws_paths;
    cfg.on_started = notify_started;
    cfg.on_stopping = notify_stopping;
    cfg.on_started_arg = svc;
    svc->threads = srv.threads;
    rc = web_serve(&cfg);
    notify_free(svc);
out:
    if (sweeping) {
        pthread_mutex_lock(&sweep_lock);
        sweep_stop = 1;
        pthread_cond_broadcast(&sweep_cond);
        pthread_mutex_unlock(&sweep_lock);
        pthread_join(sweep_thread, NULL);
    }
    live_free(svc->sessions);
    accounts_close(svc->acc);
    store_close(svc->st);
    token_key_clear(&svc->token_keys[0]);
    OPENSSL_cleanse(svc->admin_digest, sizeof svc->admin_digest);
    EVP_PKEY_free(svc->device_ca_key);
    X509_free(svc->device_ca);
    EVP_PKEY_free(svc->server_key);
    X509_free(svc->server_cert);
    tls_keylog_close();
    mtls_free(&s.mtls);
    free(svc->revoked_serials);
    free(svc->revoked_jtis);
    return rc;
}
