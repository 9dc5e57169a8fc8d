/* SPDX-License-Identifier: MIT */
/* Unit tests for common/: encoding, JSON limits, URL joining, file reading. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/cli.h"
#include "core/encoding.h"
#include "net/httpclient.h"
#include "core/json.h"

static void hex_round_trip(void **state)
{
    const uint8_t in[] = {0x00, 0x01, 0x7f, 0x80, 0xff};
    uint8_t *out = NULL;
    size_t n = 0;
    char *h = hex_encode(in, sizeof in);
    (void)state;
    assert_string_equal(h, "00017f80ff");
    assert_int_equal(hex_decode("00017F80ff", &out, &n), 0);
    assert_int_equal(n, sizeof in);
    assert_memory_equal(out, in, n);
    free(out);
    free(h);
}

static void hex_rejects_bad_input(void **state)
{
    uint8_t *out = NULL;
    size_t n = 0;
    (void)state;
    assert_int_not_equal(hex_decode("abc", &out, &n), 0);  /* odd length */
    assert_int_not_equal(hex_decode("zz", &out, &n), 0);   /* not hex */
    assert_int_not_equal(hex_decode("00 1", &out, &n), 0); /* space */
}

/* RFC 4648 section 10 test vectors, in the URL-safe alphabet. */
static void b64url_rfc4648_vectors(void **state)
{
    static const char *plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *padded[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    static const char *bare[] = {"", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};
    (void)state;
    for (size_t i = 0; i < 7; i++) {
        uint8_t *out = NULL;
        size_t n = 0;
        char *e = b64url_encode((const uint8_t *)plain[i], strlen(plain[i]), B64_PAD);
        assert_string_equal(e, padded[i]);
        free(e);
        e = b64url_encode((const uint8_t *)plain[i], strlen(plain[i]), B64_NO_PAD);
        assert_string_equal(e, bare[i]);
        free(e);
        assert_int_equal(b64url_decode(padded[i], strlen(padded[i]), B64_PAD, &out, &n), 0);
        assert_int_equal(n, strlen(plain[i]));
        assert_memory_equal(out, plain[i], n);
        free(out);
        assert_int_equal(b64url_decode(bare[i], strlen(bare[i]), B64_NO_PAD, &out, &n), 0);
        assert_int_equal(n, strlen(plain[i]));
        free(out);
    }
}

static void b64url_url_alphabet(void **state)
{
    const uint8_t in[] = {0xfb, 0xff, 0xbf};
    char *e = b64url_encode(in, sizeof in, B64_PAD);
    (void)state;
    assert_string_equal(e, "-_-_");
    free(e);
}

static void b64url_rejects_non_canonical(void **state)
{
    uint8_t *out = NULL;
    size_t n = 0;
    (void)state;
    assert_int_not_equal(b64url_decode("Zg=", 3, B64_PAD, &out, &n), 0);   /* bad padding */
    assert_int_not_equal(b64url_decode("Zg", 2, B64_PAD, &out, &n), 0);    /* missing padding */
    assert_int_not_equal(b64url_decode("Zg==", 4, B64_NO_PAD, &out, &n), 0); /* unexpected '=' */
    assert_int_not_equal(b64url_decode("Zh==", 4, B64_PAD, &out, &n), 0);  /* stray low bits */
    assert_int_not_equal(b64url_decode("Zm+v", 4, B64_PAD, &out, &n), 0);  /* '+' is not url-safe */
    assert_int_not_equal(b64url_decode("Z", 1, B64_NO_PAD, &out, &n), 0);  /* lone character */
    assert_int_not_equal(b64url_decode("Zg=A", 4, B64_PAD, &out, &n), 0);  /* '=' in the middle */
}

static void json_reports_line_and_column(void **state)
{
    char err[256];
    const char *bad = "{\n  \"a\": 1,\n  \"b\": }";
    (void)state;
    assert_null(json_parse(bad, strlen(bad), 32, err, sizeof err));
    assert_non_null(strstr(err, "line 3"));
    assert_non_null(strstr(err, "column"));
}

static void json_rejects_duplicates_and_depth(void **state)
{
    char err[256];
    const char *dup = "{\"a\":1,\"a\":2}";
    char deep[200];
    json_t *ok;
    (void)state;
    assert_null(json_parse(dup, strlen(dup), 32, err, sizeof err));
    memset(deep, '[', 40);
    memset(deep + 40, ']', 40);
    assert_null(json_parse(deep, 80, 32, err, sizeof err));
    assert_non_null(strstr(err, "nesting deeper than 32"));
    /* brackets inside strings do not count */
    const char *str = "{\"a\":\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\"}";
    ok = json_parse(str, strlen(str), 2, err, sizeof err);
    assert_non_null(ok);
    json_decref(ok);
}

static void url_join_handles_slashes(void **state)
{
    char out[64];
    (void)state;
    assert_int_equal(http_url_join(out, sizeof out, "http://h:1", "/echo"), 0);
    assert_string_equal(out, "http://h:1/echo");
    assert_int_equal(http_url_join(out, sizeof out, "http://h:1//", "/echo"), 0);
    assert_string_equal(out, "http://h:1/echo");
    assert_int_equal(http_url_join(out, 8, "http://h:1", "/echo"), -1);
}

static void read_file_enforces_limit(void **state)
{
    char path[] = "/tmp/course-unit-XXXXXX";
    int fd = mkstemp(path);
    size_t n = 0;
    char *buf;
    (void)state;
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "0123456789", 10), 10);
    close(fd);
    buf = cli_read_file(path, 10, &n);
    assert_non_null(buf);
    assert_int_equal(n, 10);
    assert_string_equal(buf, "0123456789");
    free(buf);
    assert_null(cli_read_file(path, 9, &n));
    unlink(path);
    assert_null(cli_read_file(path, 9, &n));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hex_round_trip),
        cmocka_unit_test(hex_rejects_bad_input),
        cmocka_unit_test(b64url_rfc4648_vectors),
        cmocka_unit_test(b64url_url_alphabet),
        cmocka_unit_test(b64url_rejects_non_canonical),
        cmocka_unit_test(json_reports_line_and_column),
        cmocka_unit_test(json_rejects_duplicates_and_depth),
        cmocka_unit_test(url_join_handles_slashes),
        cmocka_unit_test(read_file_enforces_limit),
    };
    narrate_init("test_common", NULL);
    return cmocka_run_group_tests_name("common", tests, NULL, NULL);
}
