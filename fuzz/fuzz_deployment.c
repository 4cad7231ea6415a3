/* libFuzzer target: deployment JSON (strict keys, every field's validation). */
#include "fuzz_json.h"
#include "run/deploy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cJSON *root = fuzz_json(data, size);
    if (!root) return 0;
    ms_deployment d;
    ms_error err;
    if (ms_deployment_parse(root, "/fuzz/d.json", &d, &err) == MS_OK) ms_deployment_free(&d);
    cJSON_Delete(root);
    return 0;
}
