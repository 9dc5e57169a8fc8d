/* fuzz: bytes as a DATA envelope body (POST /v1/data) -> the steps of session.c's read_envelope (json_parse, exactly {type, session, seq, ct}, base64url) -> envelope_open and signed_op_parse */
/* SPDX-License-Identifier: MIT */
/*
 * read_envelope in 06_full_protocol/session.c takes a civetweb connection, so
 * this target runs its steps on the bytes (the same calls, in the same
 * order), then opens the ciphertext with a live direction's key. A forged
 * ciphertext never opens; so that the plaintext parser is reached too, the
 * input's "ct" may be "pt:..." (lab only, here): that text is sealed under
 * the session key first, then opened and parsed as a signed operation.
 */
#include "fuzz.h"

#include "core/encoding.h"
#include "core/json.h"
#include "envelope/envelope.h"
#include "envelope/hello.h"

static uint8_t secret[ENVELOPE_SECRET_LEN];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    for (size_t i = 0; i < sizeof secret; i++)
        secret[i] = (uint8_t)(0x40 + i);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    envelope_dir *rx = NULL, *tx = NULL;
    json_t *j, *seqj;
    const char *type, *session, *ct;
    uint8_t *bytes = NULL, *pt = NULL, *sealed = NULL;
    size_t n = 0, pt_len = 0, sealed_len = 0;
    uint64_t seq;

    if (size > 1 << 16)
        return -1;
    if (!(j = json_parse((const char *)data, size, JSON_DEFAULT_MAX_DEPTH, NULL, 0)))
        return 0;
    type = json_get_str(j, "type");
    session = json_get_str(j, "session");
    seqj = json_object_get(j, "seq");
    ct = json_get_str(j, "ct");
    if (json_object_size(j) != 4 || !type || !session || !json_is_integer(seqj) || !ct ||
        json_integer_value(seqj) < 1)
        goto end;
    seq = (uint64_t)json_integer_value(seqj);
    if (envelope_dir_new(ENVELOPE_C2S, secret, 4, session, &rx) != ENVELOPE_OK)
        goto end; /* a session id the envelope layer refuses */
    if (strncmp(ct, "pt:", 3) == 0) {
        /* the client's side seals it, the server's opens it */
        if (envelope_dir_new(ENVELOPE_C2S, secret, 4, session, &tx) != ENVELOPE_OK ||
            envelope_seal(tx, ENVELOPE_DATA_REQUEST, seq, (const uint8_t *)ct + 3, strlen(ct) - 3, &sealed,
                          &sealed_len) != ENVELOPE_OK)
            goto end;
        if (envelope_open(rx, ENVELOPE_DATA_REQUEST, seq, sealed, sealed_len, &pt, &pt_len) != ENVELOPE_OK ||
            pt_len != strlen(ct) - 3 || memcmp(pt, ct + 3, pt_len) != 0)
            abort(); /* what one side seals the other opens, unchanged */
    } else {
        if (b64url_decode(ct, strlen(ct), B64_NO_PAD, &bytes, &n) != 0)
            goto end;
        if (envelope_open(rx, ENVELOPE_DATA_REQUEST, seq, bytes, n, &pt, &pt_len) == ENVELOPE_OK)
            abort(); /* a forgery opened: the AEAD tag is not checked */
    }
    {
        signed_op op;
        if (signed_op_parse(pt, pt_len, &op) == HELLO_OK)
            signed_op_clear(&op);
    }
end:
    free(pt);
    free(bytes);
    free(sealed);
    envelope_dir_free(rx);
    envelope_dir_free(tx);
    json_decref(j);
    return 0;
}
