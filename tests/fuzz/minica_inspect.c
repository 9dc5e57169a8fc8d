/* fuzz: bytes as a file -> `minica inspect FILE` (mc_inspect: certificates, CSRs, CRLs, keys, whatever the file holds) */
/* SPDX-License-Identifier: MIT */
#include "fuzz.h"

#include "minica.h"

static char path[300];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_path(path, sizeof path, "inspect.pem");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mc_opts o;
    char *args[1] = {path};

    if (size > 1 << 16)
        return -1;
    fuzz_write(path, data, size);
    memset(&o, 0, sizeof o);
    o.args = args;
    o.n_args = 1;
    (void)mc_inspect(&o);
    fflush(stdout);
    return 0;
}
