/* Test fixtures for the runner: files in a test's temporary folder, M-Packages built
 * here from the base model with random weights (never trained on shared data), a
 * unit-cost profile and deployment files. */
#ifndef MS_TEST_RUN_FIXTURES_H
#define MS_TEST_RUN_FIXTURES_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/model.h"
#include "formats/mpackage.h"
#include "graph/cut.h"

/* dir/name, in one of 8 buffers used in turn: valid until 8 more calls. */
static inline const char *fixture_path(const char *dir, const char *name)
{
    static char buf[8][4096];
    static int k;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

/* xorshift: the same weights on every machine. */
static inline float fixture_uniform(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return (float)((*s >> 11) * (1.0 / 9007199254740992.0));
}

/* A package for app `name` trained at the given chokepoints: every weight of the app's
 * own layers scaled by a random factor in [0.9, 1.1] (so a branch differs from the
 * shared layers) and a random head. Curve: tpr 0.6 -> 0.9 and fpr 0.2 -> 0.05 as the
 * chokepoint goes up; events known (2 s long, 10% of frames, r = 0.3). */
static inline ms_status fixture_package(const ms_graph *base, const char *name, const int *chokepoints, int n, uint64_t seed,
                                 const char *path, ms_error *err)
{
    ms_mpackage *p;
    ms_status st = ms_mpackage_new(name, base, &p, err);
    if (st) return st;
    ms_chokepoint *cps;
    int n_cps;
    if ((st = ms_graph_chokepoints(base, &cps, &n_cps, err))) {
        ms_mpackage_free(p);
        return st;
    }
    free(cps);
    uint64_t s = seed * 2654435761u + 88172645463325252ull;
    for (int i = 0; i < n && st == MS_OK; i++) {
        ms_graph *br;
        if ((st = ms_branch_from_base(base, chokepoints[i], &br, err))) break;
        for (int k = 0; k < br->n_nodes; k++) {
            const ms_node *node = &br->nodes[k];
            if (!ms_branch_node_trainable(node)) continue;
            bool head = !strcmp(node->name, MS_MPACKAGE_HEAD);
            for (int slot = 1; slot < node->n_inputs && slot <= 2; slot++) {
                ms_tensor *t = &br->tensors[node->inputs[slot]];
                int64_t m = ms_tensor_numel(t);
                for (int64_t j = 0; j < m; j++) {
                    float u = fixture_uniform(&s);
                    t->data[j] = head ? (u - 0.5f) * (slot == 2 ? 1.0f : 0.2f) : t->data[j] * (0.9f + 0.2f * u);
                }
            }
        }
        double x = (double)chokepoints[i] / (n_cps - 1);
        ms_curve_point pt = {chokepoints[i], 0.6 + 0.3 * x, 0.2 - 0.15 * x, 100, 400, 0.5};
        st = ms_mpackage_put_branch(p, br, &pt, err);
        ms_graph_free(br);
    }
    if (st == MS_OK) {
        p->events = (ms_event_stats){.known = true, .length_mean_ms = 2000, .frequency = 0.1,
                                     .events_per_minute = 3, .correlation = 0.3, .frames = 1000,
                                     .seconds = 100};
        p->training = (ms_train_settings){"sgd", "constant", 1, 1, 0.01, 0.9, 0, seed, false, 1, 1, 1};
        st = ms_mpackage_save(p, path, err);
    }
    ms_mpackage_free(p);
    return st;
}

/* Packages dir/NAME.mpk, one per name, on the base model at model_path, each trained at
 * chokepoints cps[0..n_cps) (fixture_package), with seeds seed, seed + 1, ... */
static inline ms_status fixture_packages(const char *model_path, const char *const *names, int n, const int *cps,
                                         int n_cps, uint64_t seed, const char *dir, ms_error *err)
{
    ms_graph *base = NULL;
    ms_status st = ms_model_load(&model_path, 1, &base, err);
    for (int i = 0; i < n && st == MS_OK; i++) {
        char file[256];
        snprintf(file, sizeof file, "%s.mpk", names[i]);
        st = fixture_package(base, names[i], cps, n_cps, seed + (uint64_t)i, fixture_path(dir, file), err);
    }
    ms_graph_free(base);
    return st;
}

/* A cost profile with `n` unit costs of 1 ms each (scaled by `ms`). */
static inline int fixture_profile(const char *path, int n, double ms)
{
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    fprintf(f, "{\"backend\":\"ref\",\"precision\":\"fp32\",\"batch\":1,\"threads\":1,\"network_ms\":%g,\"segments\":[",
            n * ms);
    for (int i = 0; i < n; i++) fprintf(f, "%s{\"from\":%d,\"to\":%d,\"ms\":%g}", i ? "," : "", i, i + 1, ms);
    fprintf(f, "]}\n");
    return fclose(f);
}

static inline int fixture_write(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    fputs(text, f);
    return fclose(f);
}

#endif
