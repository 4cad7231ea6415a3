/* libFuzzer target: the M-Package (safetensors) reader. */
#include <stdint.h>

#include "formats/mpackage.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ms_mpackage *p = NULL;
    ms_error err;
    if (ms_mpackage_parse(data, size, "fuzz.mpkg", &p, &err) == MS_OK) ms_mpackage_free(p);
    return 0;
}
