/* SPDX-License-Identifier: MIT */
/*
 * items.h - R5's typed items without pickle: what a `send` may carry, and the
 * file-name rule both sides apply. Pure functions (no I/O, no globals), so
 * 06-server, 06-client, a unit test and a fuzz target share one definition.
 *
 * R5 (SDTP) sent every value as a pickle and called pickle.loads on what
 * arrived, before any check: any peer could run code in the receiver. Here an
 * item is a small JSON object, read by json_parse (duplicate keys refused,
 * depth capped) and by nothing else: bytes travel as base64url and stay
 * bytes, an "object" must be a JSON object and a "list" a JSON array. No
 * decoder of any other format is ever involved.
 *
 * The file-name rule (R5 saved received files under the name the sender
 * chose: "../../.bashrc" wrote outside the folder). A name is metadata only:
 * the server stores files under a random id and never builds a path from a
 * name; the receiving client applies this rule again before saving.
 *   - cleaned: only the last component is kept (after the last '/' or '\',
 *     so "../../etc/passwd" and "C:\x\report.pdf" become "passwd" and
 *     "report.pdf"), then leading dots are stripped (".bashrc" -> "bashrc":
 *     no hidden file, no "." or ".."), then every byte outside
 *     [A-Za-z0-9._ -] becomes '_' (UTF-8 included: "résumé" -> "r__sum__").
 *   - refused: a NUL or any control character (0x00-0x1f, 0x7f) anywhere
 *     (dropping it could join two words into a name nobody saw); nothing
 *     left after cleaning ("", "/", "dir/", "..", "....": only dots); more
 *     than ITEM_NAME_MAX bytes after cleaning; an input over 4096 bytes.
 *   - ext: what follows the last dot of the cleaned name, if that is 1 to
 *     ITEM_EXT_MAX bytes; otherwise (no dot, a dot at the end, a longer tail)
 *     the name is kept whole and ext is "".
 */
#ifndef COURSE_06_ITEMS_H
#define COURSE_06_ITEMS_H

#include <stddef.h>
#include <stdint.h>

#define ITEM_NAME_MAX 128
#define ITEM_EXT_MAX 16
#define ITEM_NAME_INPUT_MAX 4096
#define ITEM_JSON_DEPTH 16              /* an object or list nests at most this deep */
#define ITEM_INLINE_MAX (256u * 1024u)  /* bytes, text or JSON text of one inline item: its base64url fits a
                                           signed op (RECORD_PAYLOAD_MAX, 512 KiB) */
#define ITEM_JSON_MAX (512u * 1024u)    /* the item's own JSON text */

/* 0 with out and ext filled (NUL-terminated), or -1 with why (out and ext then ""). */
int item_name_sanitise(const char *in, size_t len, char out[ITEM_NAME_MAX + 1], char ext[ITEM_EXT_MAX + 1],
                       char *why, size_t why_len);

typedef enum item_type { ITEM_BYTES, ITEM_TEXT, ITEM_OBJECT, ITEM_LIST, ITEM_FILE } item_type;

typedef struct item {
    item_type type;
    uint8_t *data;     /* bytes: decoded; text: UTF-8; object/list: compact JSON text; file: NULL */
    size_t len;
    char file_id[33];  /* file: 32 lower-case hex digits (128 random bits, the server's) */
} item;

/* The item's JSON object, as the contract says:
 *   {"type":"bytes","data":"<base64url, no padding>"}   {"type":"text","text":"..."}
 *   {"type":"object","value":{...}}   {"type":"list","value":[...]}   {"type":"file","file_id":"<32 hex>"}
 * exactly these members (another one is refused: two readers must never disagree on what was sent), depth
 * <= ITEM_JSON_DEPTH, json text <= ITEM_JSON_MAX, data <= ITEM_INLINE_MAX. data is malloc'ed and
 * NUL-terminated (len does not count the NUL). 0, or -1 with why; *out holds nothing on failure. */
int item_parse(const uint8_t *json, size_t len, item *out, char *why, size_t why_len);
void item_free(item *it);

/* "bytes", "text", "object", "list", "file" (the wire names and the items.type column) */
const char *item_type_str(item_type t);

#endif
