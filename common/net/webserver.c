/* webserver.c - see webserver.h */
#include "net/webserver.h"

#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/json.h"

/* What the handlers can reach through mg_get_user_data(). */
typedef struct web_server {
    const web_config *cfg;
} web_server;

web_config web_config_defaults(void)
{
    web_config c;
    memset(&c, 0, sizeof c);
    c.host = "127.0.0.1";
    c.max_body = WEB_DEFAULT_MAX_BODY;
    c.max_json_depth = JSON_DEFAULT_MAX_DEPTH;
    c.threads = COURSE_THREADS_DEFAULT;
    c.request_timeout_ms = 10000;
    return c;
}

web_config web_config_for(const cli_server *srv)
{
    web_config c = web_config_defaults();
    c.host = srv->host;
    c.port = srv->port;
    c.threads = srv->threads;
    c.max_body = srv->max_body;
    return c;
}

static const web_config *cfg_of(struct mg_connection *conn)
{
    const web_server *s = mg_get_user_data(mg_get_context(conn));
    return s->cfg;
}

const char *web_header(struct mg_connection *conn, const char *name)
{
    return mg_get_header(conn, name);
}

/* Set on a worker thread when the request's connection must close after the
 * reply (a body we refused to read); cleared as each request arrives. */
static _Thread_local int t_must_close;
/* Set by web_reply_error_retry for the one reply it sends: Retry-After. */
static _Thread_local unsigned t_retry_after;

/* The Date header, formatted once a second per worker thread: gmtime_r
 * takes glibc's time-zone lock, which 64 threads fight over at full load. */
static const char *http_date(void)
{
    static _Thread_local time_t t_sec = (time_t)-1;
    static _Thread_local char t_date[40];
    time_t now = time(NULL);
    if (now != t_sec) {
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(t_date, sizeof t_date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        t_sec = now;
    }
    return t_date;
}

/* Keep the connection open only when the client wants it (HTTP/1.1 default,
 * or HTTP/1.0 with "Connection: keep-alive"). */
static int client_wants_keep_alive(struct mg_connection *conn)
{
    const struct mg_request_info *ri = mg_get_request_info(conn);
    const char *h = mg_get_header(conn, "Connection");
    if (h)
        return strcasecmp(h, "keep-alive") == 0;
    return strcmp(ri->http_version, "1.1") == 0;
}

int web_reply(struct mg_connection *conn, int status, const char *content_type, const void *body,
              size_t len)
{
    const web_config *cfg = cfg_of(conn);
    char head[2048];
    int keep = !t_must_close && client_wants_keep_alive(conn), n;
    const char *date = http_date();

    n = snprintf(head, sizeof head,
                 "HTTP/1.1 %d %s\r\n"
                 "Content-Type: %s\r\n"
                 "Content-Length: %zu\r\n"
                 "Cache-Control: no-store\r\n"
                 "X-Content-Type-Options: nosniff\r\n"
                 "Date: %s\r\n"
                 "Connection: %s\r\n",
                 status, mg_get_response_code_text(conn, status), content_type, len, date,
                 keep ? "keep-alive" : "close");
    for (const char *const *h = cfg->extra_headers; h && *h && n > 0 && (size_t)n < sizeof head;
         h++)
        n += snprintf(head + n, sizeof head - (size_t)n, "%s\r\n", *h);
    if (t_retry_after && n > 0 && (size_t)n < sizeof head)
        n += snprintf(head + n, sizeof head - (size_t)n, "Retry-After: %u\r\n", t_retry_after);
    t_retry_after = 0;
    if (n < 0 || (size_t)n + 2 >= sizeof head)
        return -1; /* only our own fixed headers go here: cannot happen */
    memcpy(head + n, "\r\n", 2);
    n += 2;
    if (!keep)
        mg_disable_keep_alive(conn);

    /* Narrate before writing, so the log reads in the order things happen. */
    wire_out("HTTP/1.1 %d %s (%s, %zu bytes)", status, mg_get_response_code_text(conn, status),
             content_type, len);
    hexdump("response body", body, len);

    /* One write for head and body: one TCP segment (one TLS record) for a
     * small reply instead of one per header line. */
    if (len && len <= sizeof head - (size_t)n) {
        memcpy(head + n, body, len);
        mg_write(conn, head, (size_t)n + len);
    } else {
        mg_write(conn, head, (size_t)n);
        if (len)
            mg_write(conn, body, len);
    }
    return status;
}

int web_reply_text(struct mg_connection *conn, int status, const char *text)
{
    return web_reply(conn, status, "text/plain; charset=utf-8", text, strlen(text));
}

int web_reply_json(struct mg_connection *conn, int status, json_t *json)
{
    char *text = json ? json_dumps(json, JSON_COMPACT) : NULL;
    int rc;
    json_decref(json);
    if (!text)
        return web_reply_text(conn, 500, "internal error: cannot encode JSON\n");
    /* a trailing newline keeps `curl` output readable */
    size_t n = strlen(text);
    char *line = malloc(n + 2);
    if (!line) {
        free(text);
        return web_reply_text(conn, 500, "internal error: out of memory\n");
    }
    memcpy(line, text, n);
    line[n] = '\n';
    line[n + 1] = '\0';
    rc = web_reply(conn, status, "application/json", line, n + 1);
    free(line);
    free(text);
    return rc;
}

int web_reply_error(struct mg_connection *conn, int status, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    note("refusing: %s", msg);
    return web_reply_json(conn, status, json_pack("{s:s, s:i}", "error", msg, "status", status));
}

int web_reply_error_retry(struct mg_connection *conn, int status, unsigned retry_after,
                          const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    t_retry_after = retry_after;
    return web_reply_error(conn, status, "%s", msg);
}

int web_read_body(struct mg_connection *conn, char **body, size_t *len)
{
    const struct mg_request_info *ri = mg_get_request_info(conn);
    size_t max = cfg_of(conn)->max_body, n = 0;
    char *buf;

    *body = NULL;
    *len = 0;
    /* Refuse early when the client announces too much: no need to read it. */
    if (ri->content_length > 0 && (unsigned long long)ri->content_length > max) {
        t_must_close = 1; /* do not read the rest: say so, and close after replying */
        return web_reply_error(conn, 413, "request body of %lld bytes is over the limit of %zu",
                               ri->content_length, max);
    }
    buf = malloc(max + 2);
    if (!buf)
        return web_reply_error(conn, 500, "out of memory");
    for (;;) {
        /* read one byte past the limit so a chunked body that is too big shows */
        int got = mg_read(conn, buf + n, max + 1 - n);
        if (got < 0) {
            free(buf);
            return web_reply_error(conn, 400, "could not read the request body");
        }
        if (got == 0)
            break;
        n += (size_t)got;
        if (n > max) {
            free(buf);
            t_must_close = 1;
            return web_reply_error(conn, 413, "request body is over the limit of %zu bytes", max);
        }
    }
    buf[n] = '\0';
    *body = buf;
    *len = n;
    hexdump("request body", buf, n);
    return 0;
}

int web_read_json(struct mg_connection *conn, json_t **out)
{
    const char *ctype = web_header(conn, "Content-Type");
    char *body;
    size_t len;
    char err[256];
    int st;

    *out = NULL;
    if (!ctype || strncmp(ctype, "application/json", 16) != 0 ||
        (ctype[16] != '\0' && ctype[16] != ';'))
        return web_reply_error(conn, 415, "expected Content-Type: application/json, got %s",
                               ctype ? ctype : "none");
    if ((st = web_read_body(conn, &body, &len)) != 0)
        return st;
    *out = json_parse(body, len, cfg_of(conn)->max_json_depth, err, sizeof err);
    free(body);
    if (!*out)
        return web_reply_error(conn, 400, "bad JSON: %s", err);
    return 0;
}

/* Every request comes through here: log it as it arrived, then route it. */
static int dispatch(struct mg_connection *conn)
{
    const struct mg_request_info *ri = mg_get_request_info(conn);
    const web_config *cfg = cfg_of(conn);
    int path_known = 0;

    t_must_close = 0;

    wire_in("%s %s%s%s HTTP/%s", ri->request_method, ri->request_uri ? ri->request_uri : "?",
            ri->query_string ? "?" : "", ri->query_string ? ri->query_string : "",
            ri->http_version);
    for (int i = 0; i < ri->num_headers; i++)
        wire_in("%s: %s", ri->http_headers[i].name, ri->http_headers[i].value);

    for (const web_route *r = cfg->routes; r && r->fn; r++) {
        if (strcmp(r->path, ri->local_uri) != 0)
            continue;
        path_known = 1;
        if (strcmp(r->method, ri->request_method) == 0)
            return r->fn(conn, r->arg);
    }
    if (path_known)
        return web_reply_error(conn, 405, "method %s is not allowed on %s", ri->request_method,
                               ri->local_uri);
    return web_reply_error(conn, 404, "no such path: %s", ri->local_uri);
}

/* While starting, civetweb's first complaint is the real reason (for example
 * "cannot bind to 127.0.0.1:8001: 98 (Address already in use)"); keep it for
 * the one error line. Afterwards, pass civetweb's messages on as notes. */
static char g_start_reason[256];
static int g_starting;

static int log_message(const struct mg_connection *conn, const char *message)
{
    (void)conn;
    if (g_starting) {
        if (!g_start_reason[0])
            snprintf(g_start_reason, sizeof g_start_reason, "%s", message);
        return 1;
    }
    notice("civetweb: %s", message);
    return 1;
}

/* Start-up self-test: say in one line what is wrong with the civetweb build. */
static int self_test(const web_config *cfg)
{
    unsigned want = cfg->tls ? MG_FEATURES_TLS : 0;
    unsigned got = mg_init_library(want);
    if (cfg->tls && (!mg_check_feature(MG_FEATURES_TLS) || (got & MG_FEATURES_TLS) == 0)) {
        errorf("civetweb self-test",
               "TLS is not available (mg_init_library(MG_FEATURES_TLS) = %#x); this is the "
               "OpenSSL 1.1 build of civetweb",
               got);
        hint("rebuild it for OpenSSL 3: rm -rf build/civetweb && make");
        return -1;
    }
    return 0;
}

/* civetweb hands init_ssl its own user_data (our web_server): pass the
 * chapter's init_ssl_arg on, as webserver.h promises. */
static int init_ssl_hook(void *ssl_ctx, void *user_data)
{
    const web_server *s = user_data;
    return s->cfg->init_ssl(ssl_ctx, s->cfg->init_ssl_arg);
}

int web_serve(const web_config *cfg)
{
    web_server srv = {cfg};
    struct mg_callbacks cb;
    struct mg_context *ctx;
    struct mg_server_port ports[4];
    const char *opts[64];
    char listen[128], threads[16], timeout[16];
    char errtext[256] = "";
    struct mg_error_data errd = {NULL, errtext, sizeof errtext};
    struct mg_init_data init;
    int n = 0, nports, sig = 0, v6 = strchr(cfg->host, ':') != NULL;
    sigset_t set;

    if (self_test(cfg))
        return EXIT_FAILURE;

    /* Block the stop signals before civetweb starts its threads, so every
     * thread inherits the mask and only sigwait() below ever sees them. */
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP); /* the terminal went away, or on_reload's signal */
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    snprintf(listen, sizeof listen, v6 ? "[%s]:%d%s" : "%s:%d%s", cfg->host, cfg->port,
             cfg->tls ? "s" : "");
    snprintf(threads, sizeof threads, "%d", cfg->threads);
    snprintf(timeout, sizeof timeout, "%d", cfg->request_timeout_ms);
    opts[n++] = "listening_ports";
    opts[n++] = listen;
    opts[n++] = "num_threads";
    opts[n++] = threads;
    opts[n++] = "request_timeout_ms";
    opts[n++] = timeout;
    opts[n++] = "enable_keep_alive";
    opts[n++] = "yes";
    for (const char *const *o = cfg->civetweb_options; o && o[0] && n < 62; o += 2) {
        opts[n++] = o[0];
        opts[n++] = o[1];
    }
    opts[n] = NULL;

    memset(&cb, 0, sizeof cb);
    cb.begin_request = dispatch;
    cb.log_message = log_message;
    cb.init_ssl = cfg->init_ssl ? init_ssl_hook : NULL;
    init.callbacks = &cb;
    init.user_data = &srv;
    init.configuration_options = opts;

    g_starting = 1;
    ctx = mg_start2(&init, &errd);
    g_starting = 0;
    if (!ctx) {
        const char *why = g_start_reason[0] ? g_start_reason : errtext;
        errorf("cannot start the server", "%s", why[0] ? why : "civetweb said nothing");
        if (strstr(why, "in use"))
            hint("another program has port %d; pick another with --port N (0 = any free port)",
                 cfg->port);
        mg_exit_library();
        return EXIT_FAILURE;
    }
    nports = mg_get_server_ports(ctx, 4, ports);
    if (nports < 1) {
        errorf("cannot start the server", "civetweb reports no listening port");
        mg_stop(ctx);
        mg_exit_library();
        return EXIT_FAILURE;
    }
    /* The first stdout line, flushed: scripts and tests wait for it. */
    result("listening on %s://%s%s%s:%d", cfg->tls ? "https" : "http", v6 ? "[" : "", cfg->host,
           v6 ? "]" : "", ports[0].port);
    if (cfg->on_listening)
        cfg->on_listening(cfg->on_listening_arg);

    while (sigwait(&set, &sig) == 0 && sig == SIGHUP && cfg->on_reload) {
        step("SIGHUP: reloading");
        cfg->on_reload(cfg->on_reload_arg);
    }
    step("stopping on %s: no new connections, finishing running requests",
         sig == SIGINT ? "SIGINT" : sig == SIGHUP ? "SIGHUP" : "SIGTERM");
    mg_stop(ctx);
    mg_exit_library();
    step("stopped");
    return EXIT_SUCCESS;
}
