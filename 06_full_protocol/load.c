/* SPDX-License-Identifier: MIT */
/*
 * 06-load - chapter 06's load generator, for `make bench` (bench/06_records.sh).
 *
 * N sessions, one thread each, each a device of its own, enrolled beforehand
 * (--enrol registers and enrols the ones its --homes folder does not hold yet,
 * through 06-client's own functions). Before the clock starts every session
 * has done its HELLO on a kept-alive TLS connection and signed all of its
 * records (signed_op_make: the device signature is the expensive part of a
 * request). The timed phase then only seals, sends and waits: a record counts
 * once its answer, opened and checked, says "stored", which the server sends
 * only after the COMMIT holding the record was durable.
 *
 * Why the envelope is sealed in the timed phase and not before: its seq is in
 * the nonce and the AAD, so it could be sealed ahead for the seqs to come, but
 * the client's answer check (envelope_open_answer) accepts only the answer to
 * the request its direction sealed last. Sealing ahead would mean checking the
 * answers outside the envelope module. The cost of sealing in the timed phase
 * is measured and printed (seal_us: AES-256-GCM over a few hundred bytes).
 *
 *   06-load --url URL --cacert F --homes DIR --enrol --sessions 32 --records 200
 *   06-load --url URL --cacert F --plain /echo --body-size 900 --sessions 32 --records 200
 *
 * --plain: the peer for the bound "TLS + HTTP with the same body": a POST of a
 * JSON body of that size on kept-alive connections, no HELLO, no envelope, no
 * signature, no store (05-server's /echo).
 *
 * Output: one line (records/s, p50/p99 acknowledgement latency, errors) and,
 * with --csv FILE, the same as a CSV row appended to FILE (header if empty).
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "core/cli.h"
#include "core/encoding.h"
#include "core/json.h"
#include "envelope/hello.h"

#define LOAD_SESSIONS_MAX 256
#define LOAD_RECORDS_MAX 100000

static const char USAGE[] =
    "usage: 06-load [--url URL] [--cacert F] --homes DIR [--enrol] [--key-type ed25519|p256]\n"
    "               [--sessions N] [--records R] [--user-prefix P] [--csv FILE] [--label TEXT]\n"
    "               [--plain PATH --body-size B] [-q]\n"
    "Chapter 06's load generator: N concurrent kept-alive sessions, each a device,\n"
    "R signed records each; prints acknowledged records/s, p50/p99 latency, errors.\n"
    "Options:\n"
    "  --url URL        the server (default https://localhost:8006)\n"
    "  --cacert F       the CA the server's certificate chains to (default build/pki/root.crt)\n"
    "  --homes DIR      one device folder per session: DIR/KEYTYPE-I (device.key, device.crt)\n"
    "  --enrol          register and enrol the devices DIR does not hold yet (password:\n"
    "                   --password-file or COURSE06_PASSWORD; accounts PREFIX + e|p + I)\n"
    "  --key-type T     the devices' keys: ed25519 (default) or p256\n"
    "  --sessions N     concurrent sessions, one thread each (default 16, at most 256)\n"
    "  --records R      records per session (default 200)\n"
    "  --user-prefix P  the accounts' names begin with P (default load)\n"
    "  --password-file F  the accounts' password\n"
    "  --plain PATH     no protocol: POST a JSON body of --body-size bytes to PATH\n"
    "                   on kept-alive connections (the TLS + HTTP peer, e.g. 05-server /echo)\n"
    "  --body-size B    --plain's body size (default 1000)\n"
    "  --csv FILE       append the result as a CSV row (a header first if FILE is empty)\n"
    "  --label TEXT     the row's label in the CSV (default: the mode)\n"
    "  -q, --quiet      only the result line and errors\n"
    "Exit status: 0 when every record was acknowledged, 1 otherwise, 2 usage.\n";

typedef struct load_opts {
    client base;        /* url, cacert, key_type, password_file */
    const char *homes, *prefix, *plain, *csv, *label;
    int enrol, p256; /* p256: --key-type p256 */
    long sessions, records, body_size;
} load_opts;

typedef struct worker {
    const load_opts *o;
    long idx;
    client c;
    channel ch;
    int open;           /* HELLO done */
    char **pts;         /* the signed operations, made before the clock */
    char *plain_body;
    double *lat_ms;     /* one per acknowledged record */
    long ok, failed;
    size_t body_bytes;  /* the last request body's size */
    char why[512];      /* the first failure */
} worker;

static pthread_barrier_t start_line;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int url_host(const char *url, char *host, size_t len)
{
    const char *p = strstr(url, "://"), *end;
    if (!p || strncasecmp(url, "https://", 8) != 0)
        return -1;
    p += 3;
    end = *p == '[' ? strchr(++p, ']') : p + strcspn(p, ":/");
    if (!end || end == p || (size_t)(end - p) >= len)
        return -1;
    memcpy(host, p, (size_t)(end - p));
    host[end - p] = '\0';
    return 0;
}

/* The device of session i: its folder and account. */
static int device_setup(const load_opts *o, long i, client *c, char *home, size_t home_len, char *user,
                        size_t user_len)
{
    *c = o->base;
    int kt = o->p256 ? 'p' : 'e';
    if (snprintf(home, home_len, "%s/%s-%ld", o->homes, o->base.key_type, i) >= (int)home_len ||
        snprintf(user, user_len, "%s%c%ld", o->prefix, kt, i) >= (int)user_len)
        return -1;
    c->home = home;
    c->user = user;
    snprintf(c->device_key, sizeof c->device_key, "%s/device.key", home);
    snprintf(c->device_crt, sizeof c->device_crt, "%s/device.crt", home);
    snprintf(c->outbox, sizeof c->outbox, "%s/outbox", home);
    snprintf(c->session_file, sizeof c->session_file, "%s/session", home);
    return 0;
}

/* Register and enrol the devices not there yet: one after the other (each
 * register is an Argon2id hash on the server, on purpose slow). */
static int enrol_all(const load_opts *o)
{
    if (mkdir(o->homes, 0700) != 0 && errno != EEXIST) {
        errorf("--homes", "cannot make %s: %s", o->homes, strerror(errno));
        return -1;
    }
    for (long i = 0; i < o->sessions; i++) {
        client c;
        char home[512], user[64];
        if (device_setup(o, i, &c, home, sizeof home, user, sizeof user) != 0) {
            errorf("--homes", "the path %s is too long", o->homes);
            return -1;
        }
        if (access(c.device_crt, R_OK) == 0)
            continue;
        if (mkdir(home, 0700) != 0 && errno != EEXIST) {
            errorf("--homes", "cannot make %s: %s", home, strerror(errno));
            return -1;
        }
        if (client_register(&c) != 0 || client_enrol(&c, 0) != 0) {
            errorf("enrol", "device %ld (account %s) could not be enrolled", i, user);
            return -1;
        }
    }
    return 0;
}

/* One record not acknowledged; the first reason is kept: what + detail. */
static void fail(worker *w, const char *what, const char *detail)
{
    w->failed++;
    if (!w->why[0])
        snprintf(w->why, sizeof w->why, "%s%s", what, detail ? detail : "");
}

/* Before the clock: HELLO on the kept-alive connection, and every record
 * signed. R1's record, with a Comments field so that each is distinct. */
static int prepare(worker *w)
{
    const load_opts *o = w->o;
    char home[512], user[64];
    if (!(w->lat_ms = calloc((size_t)o->records, sizeof *w->lat_ms)))
        return -1;
    if (o->plain) {
        http_session_opts so = client_session_opts(&w->c, 0);
        if (!(w->plain_body = malloc((size_t)o->body_size + 1)))
            return -1;
        /* {"pad":"xxxx...x"}: valid JSON of exactly body_size bytes */
        memset(w->plain_body, 'x', (size_t)o->body_size);
        memcpy(w->plain_body, "{\"pad\":\"", 8);
        memcpy(w->plain_body + o->body_size - 2, "\"}", 2);
        w->plain_body[o->body_size] = '\0';
        return (w->ch.http = http_session_new(&so)) ? 0 : -1;
    }
    if (device_setup(o, w->idx, &w->c, home, sizeof home, user, sizeof user) != 0)
        return -1;
    /* the paths were copied into w->c; home and user are only for enrol */
    w->c.home = o->homes;
    w->c.user = NULL;
    if (channel_open(&w->c, &w->ch, NULL) != 0)
        return -1;
    w->open = 1;
    if (!(w->pts = calloc((size_t)o->records, sizeof *w->pts)))
        return -1;
    for (long r = 0; r < o->records; r++) {
        uint8_t id[16];
        char rec[160];
        int n = snprintf(rec, sizeof rec,
                         "{\"FirstName\": \"Pedro\", \"LastName\": \"Pascal\", \"Age\": 49, "
                         "\"Comments\": \"load session %ld record %ld\"}",
                         w->idx, r);
        if (RAND_bytes(id, sizeof id) != 1 ||
            signed_op_make(w->ch.key, w->ch.cert, w->c.host, "record", id, client_now_ms(), (uint8_t *)rec,
                           (size_t)n, &w->pts[r]) != HELLO_OK)
            return -1;
    }
    return 0;
}

static void run_plain(worker *w)
{
    const load_opts *o = w->o;
    http_session_request r = {.method = "POST", .path = o->plain, .content_type = "application/json",
                              .body = w->plain_body, .body_len = (size_t)o->body_size};
    w->body_bytes = (size_t)o->body_size;
    for (long i = 0; i < o->records; i++) {
        http_response res = {0};
        double t0 = now_s();
        if (http_session_do(w->ch.http, &r, &res) != 0)
            fail(w, "transport: ", res.error);
        else if (res.status != 200)
            fail(w, "HTTP status not 200", res.status == 413 ? " (413: the body is too large)" : NULL);
        else
            w->lat_ms[w->ok++] = (now_s() - t0) * 1e3;
        http_response_free(&res);
    }
}

static void run_records(worker *w)
{
    const load_opts *o = w->o;
    for (long i = 0; i < o->records; i++) {
        json_t *ans = NULL;
        double t0 = now_s();
        if (channel_send_signed(&w->c, &w->ch, w->pts[i], (void **)&ans) != 0) {
            fail(w, "the exchange failed (the error above says why)", NULL);
            /* a failed exchange may leave the session behind (a seq used, no
             * answer): the rest of this session's records are not sent */
            w->failed += o->records - i - 1;
            break;
        }
        /* the envelope's JSON: {"type":"DATA_REQUEST","session":"...","seq":N,"ct":"..."},
         * ct the base64url (no padding) of the plaintext and its 16-byte tag */
        size_t ctl = strlen(w->pts[i]) + 16;
        w->body_bytes = 34 + strlen(w->ch.session) + 8 + (size_t)snprintf(NULL, 0, "%llu",
                        (unsigned long long)w->ch.seq) + 7 + (4 * ctl + 2) / 3 + 2;
        const char *st = json_get_str(ans, "status");
        if (st && strcmp(st, "stored") == 0)
            w->lat_ms[w->ok++] = (now_s() - t0) * 1e3;
        else
            fail(w, "the answer's status is not 'stored' but ", st ? st : "(none)");
        json_decref(ans);
    }
}

static void *worker_main(void *p)
{
    worker *w = p;
    pthread_barrier_wait(&start_line);
    if (w->o->plain)
        run_plain(w);
    else if (w->open)
        run_records(w);
    pthread_barrier_wait(&start_line); /* the clock stops when the last session is done */
    return NULL;
}

/* this process's CPU time (all threads), seconds: the load generator shares
 * the machine with the server, and says how much of it it took */
static double cpu_s(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* nearest rank */
static double percentile(const double *sorted, size_t n, double q)
{
    if (!n)
        return 0;
    size_t k = (size_t)(q * (double)n + 0.999999);
    return sorted[(k ? k : 1) - 1];
}

static int write_csv(const load_opts *o, long ok, long errors, double secs, double rps, double p50,
                     double p99, size_t body)
{
    FILE *f = fopen(o->csv, "a");
    if (!f) {
        errorf("--csv", "cannot open %s: %s", o->csv, strerror(errno));
        return -1;
    }
    if (ftell(f) == 0)
        fprintf(f, "label,mode,key,sessions,records_per_session,acknowledged,errors,seconds,records_per_s,"
                   "p50_ms,p99_ms,body_bytes\n");
    fprintf(f, "%s,%s,%s,%ld,%ld,%ld,%ld,%.3f,%.0f,%.2f,%.2f,%zu\n",
            o->label ? o->label : o->plain ? "plain" : "records", o->plain ? "plain" : "records",
            o->plain ? "-" : o->base.key_type, o->sessions, o->records, ok, errors, secs, rps, p50, p99, body);
    return fclose(f) == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"url", required_argument, NULL, 'u'},      {"cacert", required_argument, NULL, 'c'},
        {"homes", required_argument, NULL, 'H'},    {"enrol", no_argument, NULL, 'E'},
        {"key-type", required_argument, NULL, 'k'}, {"sessions", required_argument, NULL, 's'},
        {"records", required_argument, NULL, 'r'},  {"user-prefix", required_argument, NULL, 'U'},
        {"password-file", required_argument, NULL, 'p'}, {"plain", required_argument, NULL, 'P'},
        {"body-size", required_argument, NULL, 'b'}, {"csv", required_argument, NULL, 'C'},
        {"label", required_argument, NULL, 'l'},    CLI_COMMON_OPTIONS,
        {0},
    };
    load_opts o = {.base = {.url = "https://localhost:8006", .cacert = "build/pki/root.crt",
                            .key_type = "ed25519"},
                   .prefix = "load", .sessions = 16, .records = 200, .body_size = 1000};
    int ch, rc = EXIT_FAILED;

    narrate_init("06-load", "client");
    while ((ch = getopt_long(argc, argv, CLI_COMMON_SHORT, opts, NULL)) != -1) {
        if (cli_common(ch, USAGE))
            continue;
        switch (ch) {
        case 'u': o.base.url = optarg; break;
        case 'c': o.base.cacert = optarg; break;
        case 'H': o.homes = optarg; break;
        case 'E': o.enrol = 1; break;
        case 'k':
            if (strcmp(optarg, "ed25519") && strcmp(optarg, "p256"))
                cli_usage_error("--key-type must be ed25519 or p256, not '%s'", optarg);
            o.base.key_type = optarg;
            o.p256 = optarg[0] == 'p';
            break;
        case 's': o.sessions = cli_long("--sessions", optarg, 1, LOAD_SESSIONS_MAX); break;
        case 'r': o.records = cli_long("--records", optarg, 1, LOAD_RECORDS_MAX); break;
        case 'U': o.prefix = optarg; break;
        case 'p': o.base.password_file = optarg; break;
        case 'P': o.plain = optarg; break;
        case 'b': o.body_size = cli_long("--body-size", optarg, 16, 1 << 20); break;
        case 'C': o.csv = optarg; break;
        case 'l': o.label = optarg; break;
        default: cli_usage_error("unknown option");
        }
    }
    if (optind != argc)
        cli_usage_error("no arguments besides the options");
    if (!o.plain && !o.homes)
        cli_usage_error("--homes DIR: where the devices are (or --plain PATH)");
    if (o.plain && o.plain[0] != '/')
        cli_usage_error("--plain takes a path, like /echo");
    /* the narration is per message: at thousands a second it would be the
     * benchmark. Errors are still printed. */
    narrate_set_level(1, 0);
    /* 06-client's functions say "registered", "CLOSE: ..." on stdout for each
     * device: that goes to /dev/null (errors still reach stderr), and the
     * result line to the real stdout */
    FILE *report = stdout;
    int keep = dup(STDOUT_FILENO), null = open("/dev/null", O_WRONLY);
    if (keep < 0 || null < 0 || !(report = fdopen(keep, "w")) || dup2(null, STDOUT_FILENO) < 0) {
        errorf("start", "cannot set up stdout: %s", strerror(errno));
        return EXIT_FAILED;
    }
    close(null);
    if (url_host(o.base.url, o.base.host, sizeof o.base.host) != 0)
        cli_usage_error("--url must be https://HOST[:PORT], not '%s'", o.base.url);

    http_client_init();
    worker *ws = calloc((size_t)o.sessions, sizeof *ws);
    pthread_t *th = calloc((size_t)o.sessions, sizeof *th);
    long started = 0;
    if (!ws || !th) {
        errorf("start", "out of memory");
        goto out;
    }
    if (!o.plain && o.enrol && enrol_all(&o) != 0)
        goto out;
    for (long i = 0; i < o.sessions; i++) {
        ws[i].o = &o;
        ws[i].idx = i;
        ws[i].c = o.base;
        if (prepare(&ws[i]) != 0) {
            errorf("prepare", "session %ld could not be set up (HELLO or signing)", i);
            goto out;
        }
    }
    pthread_barrier_init(&start_line, NULL, (unsigned)o.sessions + 1);
    for (; started < o.sessions; started++)
        if (pthread_create(&th[started], NULL, worker_main, &ws[started]) != 0) {
            errorf("start", "cannot start thread %ld", started);
            abort(); /* the barrier counts on every thread: nothing sane to do */
        }
    pthread_barrier_wait(&start_line);
    double t0 = now_s(), c0 = cpu_s();
    pthread_barrier_wait(&start_line);
    double secs = now_s() - t0, cpu = cpu_s() - c0;
    for (long i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&start_line);

    long ok = 0, errors = 0;
    size_t body = 0;
    for (long i = 0; i < o.sessions; i++) {
        ok += ws[i].ok;
        errors += ws[i].failed;
        body = ws[i].body_bytes > body ? ws[i].body_bytes : body;
        if (ws[i].why[0])
            errorf("session", "%ld: %s", i, ws[i].why);
    }
    double *all = calloc((size_t)(ok ? ok : 1), sizeof *all);
    if (!all)
        goto out;
    for (long i = 0, k = 0; i < o.sessions; i++)
        for (long j = 0; j < ws[i].ok; j++)
            all[k++] = ws[i].lat_ms[j];
    qsort(all, (size_t)ok, sizeof *all, cmp_double);
    double rps = secs > 0 ? (double)ok / secs : 0, p50 = percentile(all, (size_t)ok, 0.50),
           p99 = percentile(all, (size_t)ok, 0.99);
    free(all);
    fprintf(report, "06-load: %s%s, %ld sessions x %ld: %.0f %s/s, p50 %.2f ms, p99 %.2f ms, %ld errors "
           "(%ld acknowledged in %.3f s; this client's CPU %.0f us per record)\n",
           o.plain ? "plain POST " : "records, ", o.plain ? o.plain : o.base.key_type, o.sessions,
           o.records, rps, o.plain ? "requests" : "records", p50, p99, errors, ok, secs, ok ? cpu * 1e6 / (double)ok : 0);
    fflush(report);
    if (o.csv && write_csv(&o, ok, errors, secs, rps, p50, p99, body) != 0)
        goto out;
    rc = errors == 0 && ok == o.sessions * o.records ? EXIT_OK : EXIT_FAILED;
out:
    for (long i = 0; ws && i < o.sessions; i++) {
        if (ws[i].open)
            channel_close(&ws[i].c, &ws[i].ch, "load finished");
        channel_free(&ws[i].ch);
        for (long r = 0; ws[i].pts && r < o.records; r++)
            if (ws[i].pts[r])
                encoding_free_secret(ws[i].pts[r], strlen(ws[i].pts[r]));
        free(ws[i].pts);
        free(ws[i].lat_ms);
        free(ws[i].plain_body);
    }
    free(ws);
    free(th);
    http_client_cleanup();
    fclose(report);
    return rc;
}
