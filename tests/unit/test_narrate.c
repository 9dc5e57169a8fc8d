/* SPDX-License-Identifier: MIT */
/* Unit tests for common/narrate: numbering, quiet/verbose, colour rules, error shape. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "core/narrate.h"

/* Run fn with stdout (or stderr) redirected to a file; return what it wrote. */
static char *capture(int fd, void (*fn)(void))
{
    static char buf[8192];
    char path[] = "/tmp/course-narrate-XXXXXX";
    int tmp = mkstemp(path), saved;
    FILE *f;
    size_t n;
    assert_true(tmp >= 0);
    fflush(fd == 1 ? stdout : stderr);
    saved = dup(fd);
    dup2(tmp, fd);
    fn();
    fflush(fd == 1 ? stdout : stderr);
    dup2(saved, fd);
    close(saved);
    close(tmp);
    f = fopen(path, "r");
    n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    unlink(path);
    return buf;
}

static void two_steps(void)
{
    step("first %d", 1);
    note("detail");
    wire_out("GET / HTTP/1.1");
    wire_in("HTTP/1.1 200 OK");
    step("second");
    result("The secret message is: %s", "fluffy tail");
}

static void steps_are_numbered_and_prefixed(void **state)
{
    char *out;
    (void)state;
    narrate_init("t", "client");
    narrate_set_level(0, 0);
    out = capture(1, two_steps);
    /* numbering continues across calls: it only goes up */
    assert_non_null(strstr(out, "[client] "));
    assert_non_null(strstr(out, ". first 1\n"));
    assert_non_null(strstr(out, "[client]    detail\n"));
    assert_non_null(strstr(out, "[client] -> GET / HTTP/1.1\n"));
    assert_non_null(strstr(out, "[client] <- HTTP/1.1 200 OK\n"));
    assert_non_null(strstr(out, "The secret message is: fluffy tail\n"));
    {
        /* the two steps carry consecutive numbers */
        unsigned a = 0, b = 0;
        for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
            if (strstr(line, ". first"))
                assert_int_equal(sscanf(line, "[client] %u. first", &a), 1);
            if (strstr(line, ". second"))
                assert_int_equal(sscanf(line, "[client] %u. second", &b), 1);
        }
        assert_true(a > 0);
        assert_int_equal(b, a + 1);
    }
}

static void quiet_keeps_only_results(void **state)
{
    char *out;
    (void)state;
    narrate_init("t", "client");
    narrate_set_level(1, 1); /* quiet wins over verbose */
    out = capture(1, two_steps);
    assert_string_equal(out, "The secret message is: fluffy tail\n");
    assert_int_equal(narrate_is_verbose(), 0);
    narrate_set_level(0, 0);
}

static void dump_something(void)
{
    hexdump("body", "fluffy tail", 11);
}

static void hexdump_only_when_verbose(void **state)
{
    char *out;
    (void)state;
    narrate_init("t", "server");
    narrate_set_level(0, 0);
    out = capture(1, dump_something);
    assert_string_equal(out, "");
    narrate_set_level(0, 1);
    out = capture(1, dump_something);
    assert_non_null(strstr(out, "body (11 bytes)"));
    assert_non_null(strstr(out, "66 6c 75 66 66 79 20 74 61 69 6c"));
    assert_non_null(strstr(out, "|fluffy tail|"));
    narrate_set_level(0, 0);
}

static void no_colour_off_a_terminal(void **state)
{
    char *out;
    (void)state;
    /* stdout is a file here, so no escape sequence may appear */
    unsetenv("NO_COLOR");
    narrate_init("t", "client");
    out = capture(1, two_steps);
    assert_null(strchr(out, '\033'));
}

static void hostile_text(void)
{
    /* what a peer could put in a URI, a header or a body */
    step("GET /%s", "x\r\n[server] -> FAKE\x1b[31m");
    result("The secret message is: %s", "a\x1b]0;owned\x07" "b");
}

static void control_bytes_are_shown_not_sent(void **state)
{
    char *out;
    (void)state;
    narrate_init("t", "server");
    narrate_set_level(0, 0);
    out = capture(1, hostile_text);
    /* two lines only: the injected line break did not start a third */
    assert_non_null(strstr(out, "GET /x\\x0d\\x0a[server] -> FAKE\\x1b[31m\n"));
    assert_non_null(strstr(out, "The secret message is: a\\x1b]0;owned\\x07b\n"));
    assert_null(strchr(out, '\033'));
    assert_null(strchr(out, '\r'));
}

static void failing_openssl_call(void)
{
    /* an unknown cipher name leaves an entry in OpenSSL's error queue */
    EVP_CIPHER *c = EVP_CIPHER_fetch(NULL, "NO-SUCH-CIPHER", NULL);
    EVP_CIPHER_free(c);
    errorf("encrypt", "cannot load the cipher");
    hint("check the cipher name");
}

static void errors_have_one_shape(void **state)
{
    char *err;
    (void)state;
    narrate_init("02-client", "client");
    err = capture(2, failing_openssl_call);
    assert_true(strncmp(err, "02-client: error: encrypt: cannot load the cipher\n", 50) == 0);
    assert_non_null(strstr(err, "02-client:   openssl: "));
    /* OpenSSL ends each entry with a newline: it must end the line, not show as \x0a */
    assert_null(strstr(err, "\\x0a"));
    assert_non_null(strstr(err, "hint: check the cipher name\n"));
    /* the queue was emptied: a later error does not repeat it */
    assert_int_equal(ERR_peek_error(), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(steps_are_numbered_and_prefixed),
        cmocka_unit_test(quiet_keeps_only_results),
        cmocka_unit_test(hexdump_only_when_verbose),
        cmocka_unit_test(no_colour_off_a_terminal),
        cmocka_unit_test(errors_have_one_shape),
        cmocka_unit_test(control_bytes_are_shown_not_sent),
    };
    return cmocka_run_group_tests_name("narrate", tests, NULL, NULL);
}
