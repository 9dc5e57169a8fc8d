/* SPDX-License-Identifier: MIT */
/* Unit tests for chapter 06's typed items (06_full_protocol/items.c): the file-name rule with every bad name
 * of issue 12's list ("../", "/", "\", NUL, control characters, only dots) and the names it cleans, and the
 * strict item JSON (members per type, depth, sizes, base64url, a pickle is "not JSON"). items.c is a chapter
 * file, compiled in here as test_accounts.c does with accounts.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../06_full_protocol/items.c"

static int san(const char *in, size_t len, char *out, char *ext, char *why)
{
    return item_name_sanitise(in, len, out, ext, why, 160);
}

#define CLEAN(in, want, want_ext)                                                                            \
    do {                                                                                                     \
        char o_[ITEM_NAME_MAX + 1], e_[ITEM_EXT_MAX + 1], w_[160] = "";                                      \
        assert_int_equal(san(in, sizeof in - 1, o_, e_, w_), 0);                                             \
        assert_string_equal(o_, want);                                                                       \
        assert_string_equal(e_, want_ext);                                                                   \
    } while (0)

#define REFUSED(in, words)                                                                                   \
    do {                                                                                                     \
        char o_[ITEM_NAME_MAX + 1], e_[ITEM_EXT_MAX + 1], w_[160] = "";                                      \
        assert_int_equal(san(in, sizeof in - 1, o_, e_, w_), -1);                                            \
        assert_non_null(strstr(w_, words));                                                                  \
        assert_string_equal(o_, "");                                                                         \
    } while (0)

static void names_cleaned(void **state)
{
    (void)state;
    CLEAN("report.pdf", "report.pdf", "pdf");
    CLEAN("../../etc/passwd", "passwd", "");          /* "../": only the last component */
    CLEAN("../x.sh", "x.sh", "sh");
    CLEAN("/etc/shadow", "shadow", "");               /* "/": an absolute path */
    CLEAN("C:\\Users\\eve\\evil.exe", "evil.exe", "exe"); /* "\": Windows separators too */
    CLEAN("..\\..\\boot.ini", "boot.ini", "ini");
    CLEAN(".bashrc", "bashrc", "");                    /* no hidden file */
    CLEAN("...hidden.txt", "hidden.txt", "txt");
    CLEAN("a/..b", "b", "");
    CLEAN("r\xc3\xa9sum\xc3\xa9.pdf", "r__sum__.pdf", "pdf"); /* UTF-8 outside the set becomes '_' */
    CLEAN("a;b|c$(d).txt", "a_b_c__d_.txt", "txt");
    CLEAN("archive.tar.gz", "archive.tar.gz", "gz");
    CLEAN("my file - 1.txt", "my file - 1.txt", "txt");
    CLEAN("name.", "name.", "");
    CLEAN("x.abcdefghijklmnopq", "x.abcdefghijklmnopq", ""); /* a 17-byte tail is no extension */
    CLEAN("x.abcdefghijklmnop", "x.abcdefghijklmnop", "abcdefghijklmnop");
}

static void names_refused(void **state)
{
    (void)state;
    REFUSED("", "empty");
    REFUSED("/", "nothing is left");
    REFUSED("dir/", "nothing is left");
    REFUSED("\\", "nothing is left");
    REFUSED(".", "nothing is left");
    REFUSED("..", "nothing is left");
    REFUSED("....", "nothing is left");          /* only dots */
    REFUSED("../..", "nothing is left");
    REFUSED("a/b/..", "nothing is left");
    REFUSED("evil\0.txt", "NUL");                  /* NUL: C would see "evil" */
    REFUSED("report.pdf\0../../x", "NUL");
    REFUSED("a\nb.txt", "control character");      /* control characters */
    REFUSED("a\rb", "control character");
    REFUSED("\x1b[31mred", "control character");   /* a terminal escape */
    REFUSED("a\x7f", "control character");
    REFUSED("../\x01/x", "control character");     /* even in a part that would be dropped */
    char big[ITEM_NAME_MAX + 2];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = 0;
    char o[ITEM_NAME_MAX + 1], e[ITEM_EXT_MAX + 1], w[160];
    assert_int_equal(item_name_sanitise(big, ITEM_NAME_MAX + 1, o, e, w, sizeof w), -1);
    assert_non_null(strstr(w, "over 128"));
    assert_int_equal(item_name_sanitise(big, ITEM_NAME_MAX, o, e, w, sizeof w), 0);
    assert_int_equal(strlen(o), ITEM_NAME_MAX);
    assert_int_equal(item_name_sanitise(NULL, 0, o, e, w, sizeof w), -1);
}

static int parse(const char *json, item *it, char *why)
{
    return item_parse((const uint8_t *)json, strlen(json), it, why, 200);
}

static void items_parsed(void **state)
{
    (void)state;
    item it;
    char why[200];
    assert_int_equal(parse("{\"type\":\"bytes\",\"data\":\"AAH_\"}", &it, why), 0);
    assert_int_equal(it.type, ITEM_BYTES);
    assert_int_equal(it.len, 3);
    assert_memory_equal(it.data, "\x00\x01\xff", 3);
    item_free(&it);
    assert_int_equal(parse("{\"type\":\"text\",\"text\":\"h\xc3\xa9llo\"}", &it, why), 0);
    assert_int_equal(it.type, ITEM_TEXT);
    assert_string_equal((char *)it.data, "h\xc3\xa9llo");
    item_free(&it);
    assert_int_equal(parse("{\"type\":\"object\",\"value\":{\"a\": [1, 2], \"b\": null}}", &it, why), 0);
    assert_int_equal(it.type, ITEM_OBJECT);
    assert_string_equal((char *)it.data, "{\"a\":[1,2],\"b\":null}");
    item_free(&it);
    assert_int_equal(parse("{\"type\":\"list\",\"value\":[1,\"x\",{}]}", &it, why), 0);
    assert_int_equal(it.type, ITEM_LIST);
    item_free(&it);
    assert_int_equal(parse("{\"type\":\"file\",\"file_id\":\"0123456789abcdef0123456789abcdef\"}", &it, why), 0);
    assert_int_equal(it.type, ITEM_FILE);
    assert_string_equal(it.file_id, "0123456789abcdef0123456789abcdef");
    assert_null(it.data);
    item_free(&it);
    assert_string_equal(item_type_str(ITEM_LIST), "list");
}

#define BAD(json, words)                                                                                     \
    do {                                                                                                     \
        item it_;                                                                                            \
        char w_[200] = "";                                                                                   \
        assert_int_equal(parse(json, &it_, w_), -1);                                                         \
        if (!strstr(w_, words))                                                                              \
            fail_msg("'%s': reason '%s' lacks '%s'", json, w_, words);                                       \
        assert_null(it_.data);                                                                               \
    } while (0)

static void items_refused(void **state)
{
    (void)state;
    BAD("", "not JSON");
    BAD("[]", "must be a JSON object");
    BAD("{}", "no \"type\"");
    BAD("{\"type\":\"pickle\"}", "unknown item type");
    BAD("{\"type\":\"bytes\"}", "needs \"data\"");
    BAD("{\"type\":\"bytes\",\"data\":\"AA==\"}", "base64url");      /* padding */
    BAD("{\"type\":\"bytes\",\"data\":\"A+/\"}", "base64url");       /* the other alphabet */
    BAD("{\"type\":\"bytes\",\"data\":5}", "base64url string");
    BAD("{\"type\":\"bytes\",\"data\":\"AA\",\"data2\":1}", "not \"data2\"");
    BAD("{\"type\":\"text\",\"text\":\"a\",\"text\":\"b\"}", "not JSON"); /* a duplicate member */
    BAD("{\"type\":\"text\",\"text\":\"a\\u0000b\"}", "not JSON");
    BAD("{\"type\":\"text\",\"text\":[]}", "JSON string");
    BAD("{\"type\":\"object\",\"value\":[1]}", "must be a JSON object");
    BAD("{\"type\":\"object\",\"value\":\"{}\"}", "must be a JSON object");
    BAD("{\"type\":\"list\",\"value\":{}}", "must be a JSON array");
    BAD("{\"type\":\"file\",\"file_id\":\"../../etc/passwd\"}", "32 lower-case hex");
    BAD("{\"type\":\"file\",\"file_id\":\"0123456789ABCDEF0123456789ABCDEF\"}", "32 lower-case hex");
    BAD("{\"type\":\"file\",\"file_id\":\"0123456789abcdef0123456789abcdef\",\"name\":\"x\"}", "not \"name\"");
    /* a pickle (protocol 4 of os.system('id')): not JSON, and no other decoder is tried */
    BAD("\x80\x04\x95\x1d\x00\x00\x00\x00\x00\x00\x00\x8c\x05posix\x94\x8c\x06system\x94\x93\x94\x8c\x02id"
        "\x94\x85\x94R\x94.", "not JSON");
    /* depth: 16 levels in all pass, 17 do not */
    char deep[200];
    strcpy(deep, "{\"type\":\"list\",\"value\":");
    for (int i = 0; i < 15; i++)
        strcat(deep, "[");
    for (int i = 0; i < 15; i++)
        strcat(deep, "]");
    strcat(deep, "}");
    item it;
    char why[200];
    assert_int_equal(parse(deep, &it, why), 0);
    item_free(&it);
    strcpy(deep, "{\"type\":\"list\",\"value\":");
    for (int i = 0; i < 16; i++)
        strcat(deep, "[");
    for (int i = 0; i < 16; i++)
        strcat(deep, "]");
    strcat(deep, "}");
    BAD(deep, "not JSON");
    /* sizes: 256 KiB of bytes pass, one more byte does not */
    size_t n = ITEM_INLINE_MAX;
    uint8_t *raw = calloc(1, n + 1);
    assert_non_null(raw);
    for (int extra = 0; extra < 2; extra++) {
        char *b = b64url_encode(raw, n + (size_t)extra, B64_NO_PAD);
        size_t jl = strlen(b) + 64;
        char *j = malloc(jl);
        snprintf(j, jl, "{\"type\":\"bytes\",\"data\":\"%s\"}", b);
        if (extra)
            BAD(j, "at most 256 KiB");
        else {
            assert_int_equal(parse(j, &it, why), 0);
            assert_int_equal(it.len, n);
            item_free(&it);
        }
        free(j);
        free(b);
    }
    free(raw);
    item_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(names_cleaned),
        cmocka_unit_test(names_refused),
        cmocka_unit_test(items_parsed),
        cmocka_unit_test(items_refused),
    };
    return cmocka_run_group_tests_name("items", tests, NULL, NULL);
}
