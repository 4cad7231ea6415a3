/* libFuzzer target: scenario JSON and, on scenarios it accepts, the stem tree of the
 * greedy schedule (fast on any input, unlike the exact search). */
#include "fuzz_json.h"
#include "sched/schedule.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cJSON *root = fuzz_json(data, size);
    if (!root) return 0;
    ms_scenario s;
    ms_error err;
    if (ms_scenario_parse(root, "/fuzz/s.json", &s, &err) == MS_OK) {
        if (s.n_apps <= 16 && s.n_units <= 64 && s.n_fps <= 64) {
            ms_sched_config cfg = {MS_POLICY_GREEDY, MS_OBJ_MEAN_F1, false, 0.5};
            ms_schedule sch;
            if (ms_schedule_solve(&s, &cfg, &sch, &err) == MS_OK) {
                ms_stem_tree tree = {0};
                if (sch.feasible && ms_stem_tree_build(&s, &sch, &tree, &err) == MS_OK) ms_stem_tree_free(&tree);
                ms_schedule_free(&sch);
            }
        }
        ms_scenario_free(&s);
    }
    cJSON_Delete(root);
    return 0;
}
