/* fuzz: bytes as a DATA_REQUEST plaintext -> signed_op_parse -> signed_op_verify against a device certificate */
/* SPDX-License-Identifier: MIT */
#include "fuzz.h"

#include "envelope/hello.h"

static X509 *cert;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    EVP_PKEY *k = fuzz_key();
    cert = fuzz_self_signed(k, "fuzz-device", 0);
    EVP_PKEY_free(k);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    signed_op op;

    if (size > 1 << 16)
        return -1;
    if (signed_op_parse(data, size, &op) == HELLO_OK) {
        if (!op.payload || op.payload_len > size || op.sig_len > size)
            abort();
        (void)signed_op_verify(&op, cert, "https://localhost");
        signed_op_clear(&op);
    }
    return 0;
}
