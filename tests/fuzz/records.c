/* fuzz: bytes as a record's JSON (a signed "record" op's payload) -> json_parse at RECORD_JSON_DEPTH -> validate() of common/store/records.c against the real schema's columns */
/* SPDX-License-Identifier: MIT */
/*
 * validate() is static in records.c, and store_put_record around it needs a
 * device row, a receipt and a write thread per input (a few hundred inputs
 * a second). So this target includes records.c itself: the production file
 * keeps its static helpers, gains no test-only header, and the fuzzer calls
 * exactly the code store_put_record runs (the mapping of JSON keys to
 * columns, R1's flaw, and the typing of each value). The columns are those
 * of a real store, opened once in a scratch folder.
 */
#include "fuzz.h"

#include "../../common/store/records.c"

static store *st;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char err[256], dir[300];
    fuzz_path(dir, sizeof dir, "store");
    if (mkdir(dir, 0700) != 0 || store_open(dir, &st, err, sizeof err) != 0) {
        fprintf(stderr, "records fuzz: store_open: %s\n", err);
        abort();
    }
    refresh_cols(st, store_reader(st));
    if (st->ncols == 0)
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char reason[256], perr[128];
    values vs;
    json_t *obj;

    if (size > 1 << 16)
        return -1;
    if (!(obj = json_parse((const char *)data, size, RECORD_JSON_DEPTH, perr, sizeof perr)))
        return 0;
    reason[0] = '\0';
    if (validate(st, obj, &vs, reason, sizeof reason) == 0) {
        /* every key it took is a column's exact name: nothing else reaches SQL */
        const char *k;
        json_t *v;
        json_object_foreach(obj, k, v) {
            if (find_col(st, k) < 0)
                abort();
        }
        {
            char sql[4096];
            const char *names[STORE_FIELDS_MAX];
            size_t n = 0;
            for (size_t i = 0; i < st->ncols; i++)
                if (vs.mask & ((uint64_t)1 << i))
                    names[n++] = st->cols[i].name;
            (void)store_records_insert_sql(names, n, sql, sizeof sql);
        }
    } else if (!reason[0]) {
        abort(); /* every refusal has a reason */
    }
    values_free(&vs);
    json_decref(obj);
    return 0;
}
