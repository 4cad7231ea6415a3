/* Writes a seed M-Package for fuzz_mpackage from a base model of the shared data (so the
 * seed follows the format as the writer makes it, and nothing derived is committed):
 * the app "seed" at the last two chokepoints, base weights and a small head.
 * Usage: seed_mpackage BASE.tflite OUT.mpkg */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/model.h"
#include "formats/mpackage.h"
#include "graph/cut.h"

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: seed_mpackage BASE.tflite OUT.mpkg\n");
        return 2;
    }
    const char *path = argv[1];
    ms_graph *base = NULL;
    ms_mpackage *p = NULL;
    ms_chokepoint *cps = NULL;
    int n = 0;
    ms_error err;
    ms_status s = ms_model_load(&path, 1, &base, &err);
    if (!s) s = ms_graph_chokepoints(base, &cps, &n, &err);
    if (!s) s = ms_mpackage_new("seed", base, &p, &err);
    for (int cp = n - 2; !s && cp < n; cp++) {
        ms_graph *br = NULL;
        s = ms_branch_from_base(base, cp, &br, &err);
        ms_curve_point pt = {cp, 0.9, 0.1, 20, 30, 0.5};
        if (!s) s = ms_mpackage_put_branch(p, br, &pt, &err);
        ms_graph_free(br);
    }
    if (!s) {
        p->training = (ms_train_settings){"sgd", "cosine", 1, 8, 0.01, 0.9, 0, 1, false, 10, 10, 1};
        s = ms_mpackage_save(p, argv[2], &err);
    }
    if (s) fprintf(stderr, "seed_mpackage: %s\n", err.msg);
    ms_mpackage_free(p);
    free(cps);
    ms_graph_free(base);
    return s ? 1 : 0;
}
