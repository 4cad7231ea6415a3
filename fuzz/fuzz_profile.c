/* libFuzzer target: cost profile JSON (`mainstream profile` output). */
#include "fuzz_json.h"
#include "sched/scenario.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cJSON *root = fuzz_json(data, size);
    if (!root) return 0;
    double *costs = NULL;
    int n = 0;
    ms_error err;
    if (ms_profile_parse(root, "/fuzz/p.json", &costs, &n, &err) == MS_OK) free(costs);
    cJSON_Delete(root);
    return 0;
}
