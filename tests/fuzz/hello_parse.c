/* fuzz: bytes as a HELLO body (POST /v1/hello) -> hello_parse -> hello_verify against a device certificate, then hello_accept when it verifies */
/* SPDX-License-Identifier: MIT */
#include "fuzz.h"

#include "envelope/hello.h"

static EVP_PKEY *dev_key, *srv_key;
static X509 *dev_cert;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    dev_key = fuzz_key();
    dev_cert = fuzz_self_signed(dev_key, "fuzz-device", 0);
    srv_key = fuzz_key();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t cb[HELLO_CB_LEN] = {1, 2, 3};
    hello_request *r = NULL;

    if (size > 1 << 16)
        return -1;
    if (hello_parse((const char *)data, size, &r) == HELLO_OK) {
        (void)hello_request_device(r);
        if (hello_verify(r, dev_cert, "localhost", cb, hello_request_ts(r)) == HELLO_OK) {
            char *ack = NULL;
            envelope_secrets s;
            if (hello_accept(r, srv_key, "fuzzsession", 10, 1, "a.b.c", NULL, &ack, &s) == HELLO_OK) {
                envelope_secrets_wipe(&s);
                free(ack);
            }
        }
    }
    hello_request_free(r);
    return 0;
}
