/* libFuzzer target: the .npy reader. Seeds: any .npy file (scripts/onnx_export.py
 * writes some). */
#include <stdint.h>
#include <stdlib.h>

#include "formats/npy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ms_npy a;
    ms_error err;
    if (ms_npy_parse(data, size, "fuzz.npy", &a, &err) == MS_OK) ms_npy_free(&a);
    return 0;
}
