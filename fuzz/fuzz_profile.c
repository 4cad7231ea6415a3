/* libFuzzer target: cost profile JSON (`mainstream profile` output). */
#include "fuzz_json.h"
#include "cost/profile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cJSON *root = fuzz_json(data, size);
    if (!root) return 0;
    ms_profile p;
    ms_error err;
    if (ms_profile_parse(root, "/fuzz/p.json", &p, &err) == MS_OK) ms_profile_free(&p);
    cJSON_Delete(root);
    return 0;
}
