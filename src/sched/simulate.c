/* The simulation experiment of the original paper, on its reference data: for 1..N apps
 * drawn at random (with replacement, seeded) from the reference apps, the mean event F1
 * of the Mainstream, Max-Sharing and No-Sharing schedules at one budget and stream rate. */
#include "sched/simulate.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"

const ms_policy ms_sim_policies[MS_SIM_POLICIES] = {MS_POLICY_MAINSTREAM, MS_POLICY_MAXSHARING,
                                                    MS_POLICY_NOSHARING};
static const char *const model_names[MS_SIM_MODELS] = {"default", "compat"};

void ms_reference_free(ms_reference *r)
{
    for (int i = 0; i < r->n_apps; i++) ms_app_free(&r->apps[i]);
    free(r->apps);
    free(r->unit_costs);
    memset(r, 0, sizeof *r);
}

ms_status ms_reference_load(const char *path, ms_reference *out, ms_error *err)
{
    memset(out, 0, sizeof *out);
    cJSON *root;
    if (ms_json_load(path, 16u << 20, &root, err)) return err->status;
    const cJSON *lat, *apps;
    if (ms_json_array(root, path, "layer_latencies", &lat, err) || ms_json_array(root, path, "apps", &apps, err))
        goto fail;
    out->n_units = cJSON_GetArraySize(lat);
    int n = cJSON_GetArraySize(apps);
    if (out->n_units == 0 || n == 0) {
        ms_errorf(err, MS_ERR_INVALID, "%s: layer_latencies and apps must not be empty", path);
        goto fail;
    }
    out->unit_costs = malloc(sizeof *out->unit_costs * (size_t)out->n_units);
    out->apps = calloc((size_t)n, sizeof *out->apps);
    if (!out->unit_costs || !out->apps) {
        ms_errorf(err, MS_ERR_NOMEM, "%s: out of memory", path);
        goto fail;
    }
    for (int i = 0; i < out->n_units; i++) {
        const cJSON *v = cJSON_GetArrayItem(lat, i);
        if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0)) {
            ms_errorf(err, MS_ERR_INVALID, "%s: layer_latencies[%d]: must be a number >= 0", path, i);
            goto fail;
        }
        out->unit_costs[i] = v->valuedouble;
    }
    for (int i = 0; i < n; i++) {
        char where[300];
        snprintf(where, sizeof where, "%s: apps[%d]", path, i);
        if (ms_scenario_parse_app(cJSON_GetArrayItem(apps, i), where, "num_frozen", out->n_units,
                                  &out->apps[i], err))
            goto fail;
        out->n_apps = i + 1;
    }
    cJSON_Delete(root);
    return MS_OK;
fail:
    cJSON_Delete(root);
    ms_reference_free(out);
    return err->status;
}

/* splitmix64: a small seeded generator, so that app sets are reproducible everywhere. */
static uint64_t next_random(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* A scenario of n apps drawn from the reference; unit costs borrowed (not owned). */
static ms_status draw_scenario(const ms_reference *ref, const ms_sim_config *cfg, int n,
                               uint64_t *rng, ms_scenario *s, ms_error *err)
{
    memset(s, 0, sizeof *s);
    s->stream_fps = cfg->stream_fps;
    s->budget = cfg->budget;
    s->n_units = ref->n_units;
    s->unit_costs = ref->unit_costs;
    s->n_fps = (int)floor(cfg->stream_fps);
    s->fps_options = malloc(sizeof *s->fps_options * (size_t)(s->n_fps > 0 ? s->n_fps : 1));
    s->apps = calloc((size_t)n, sizeof *s->apps);
    if (!s->fps_options || !s->apps) return ms_errorf(err, MS_ERR_NOMEM, "simulate: out of memory");
    for (int i = 0; i < s->n_fps; i++) s->fps_options[i] = i + 1;
    for (int i = 0; i < n; i++) {
        int pick = (int)(next_random(rng) % (uint64_t)ref->n_apps);
        if (ms_app_copy(&ref->apps[pick], &s->apps[i], err)) return err->status;
        s->n_apps = i + 1;
    }
    return MS_OK;
}

static void free_drawn(ms_scenario *s)
{
    s->unit_costs = NULL; /* borrowed from the reference */
    ms_scenario_free(s);
}

ms_status ms_simulate(const ms_reference *ref, const ms_sim_config *cfg, ms_sim_row *rows, ms_error *err)
{
    if (!(cfg->stream_fps >= 1) || cfg->max_apps < 1 || cfg->trials < 1 || !(cfg->budget >= 0))
        return ms_errorf(err, MS_ERR_INVALID,
                         "simulate: need stream fps >= 1, max apps >= 1, trials >= 1, budget >= 0");
    uint64_t rng = cfg->seed;
    memset(rows, 0, sizeof *rows * (size_t)cfg->max_apps);
    for (int n = 1; n <= cfg->max_apps; n++) {
        ms_sim_row *row = &rows[n - 1];
        row->n_apps = n;
        for (int t = 0; t < cfg->trials; t++) {
            ms_scenario s;
            if (draw_scenario(ref, cfg, n, &rng, &s, err)) {
                free_drawn(&s);
                return err->status;
            }
            for (int m = 0; m < MS_SIM_MODELS; m++)
                for (int p = 0; p < MS_SIM_POLICIES; p++) {
                    ms_sched_config sc = {ms_sim_policies[p], MS_OBJ_MEAN_F1, m == 1, cfg->time_limit_s};
                    ms_schedule sch;
                    if (ms_schedule_solve(&s, &sc, &sch, err)) {
                        free_drawn(&s);
                        return err->status;
                    }
                    row->mean_f1[m][p] += (sch.feasible ? sch.value : 0.0) / cfg->trials;
                    row->inexact[m][p] += sch.feasible && !sch.exact;
                    row->seconds[m][p] += sch.seconds / cfg->trials;
                    ms_schedule_free(&sch);
                }
            free_drawn(&s);
        }
    }
    return MS_OK;
}

void ms_simulate_write_csv(FILE *out, const ms_sim_row *rows, int n)
{
    fprintf(out, "apps,model,policy,mean_f1,inexact_trials,mean_seconds\n");
    for (int i = 0; i < n; i++)
        for (int m = 0; m < MS_SIM_MODELS; m++)
            for (int p = 0; p < MS_SIM_POLICIES; p++)
                fprintf(out, "%d,%s,%s,%.6f,%d,%.6f\n", rows[i].n_apps, model_names[m],
                        ms_policy_name(ms_sim_policies[p]), rows[i].mean_f1[m][p], rows[i].inexact[m][p],
                        rows[i].seconds[m][p]);
}

void ms_simulate_write_svg(FILE *out, const ms_sim_row *rows, int n, const ms_sim_config *cfg)
{
    static const char *const colours[MS_SIM_POLICIES] = {"#1f77b4", "#2ca02c", "#d62728"};
    const double W = 720, H = 440, L = 60, R = 170, T = 40, B = 50;
    double pw = W - L - R, ph = H - T - B;
    fprintf(out, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%g\" height=\"%g\" "
                 "font-family=\"sans-serif\" font-size=\"12\">\n", W, H);
    fprintf(out, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
    fprintf(out, "<text x=\"%g\" y=\"22\" font-size=\"14\">Mean event F1 vs number of apps "
                 "(budget %g, %g fps stream, %d trial(s))</text>\n", L, cfg->budget, cfg->stream_fps,
            cfg->trials);
    for (int k = 0; k <= 5; k++) { /* y grid: F1 0..1 */
        double y = T + ph - ph * k / 5.0;
        fprintf(out, "<line x1=\"%g\" y1=\"%g\" x2=\"%g\" y2=\"%g\" stroke=\"#ddd\"/>\n", L, y, L + pw, y);
        fprintf(out, "<text x=\"%g\" y=\"%g\" text-anchor=\"end\">%.1f</text>\n", L - 6, y + 4, k / 5.0);
    }
    int xmax = n > 1 ? rows[n - 1].n_apps : 2;
    for (int i = 0; i < n; i++) {
        if (n > 10 && rows[i].n_apps % 5 && rows[i].n_apps != 1) continue;
        double x = L + pw * (rows[i].n_apps - 1) / (double)(xmax - 1 > 0 ? xmax - 1 : 1);
        fprintf(out, "<text x=\"%g\" y=\"%g\" text-anchor=\"middle\">%d</text>\n", x, T + ph + 18,
                rows[i].n_apps);
    }
    fprintf(out, "<rect x=\"%g\" y=\"%g\" width=\"%g\" height=\"%g\" fill=\"none\" stroke=\"black\"/>\n",
            L, T, pw, ph);
    fprintf(out, "<text x=\"%g\" y=\"%g\" text-anchor=\"middle\">number of apps</text>\n", L + pw / 2,
            H - 12);
    fprintf(out, "<text transform=\"translate(16 %g) rotate(-90)\" text-anchor=\"middle\">mean event F1</text>\n",
            T + ph / 2);
    for (int m = 0; m < MS_SIM_MODELS; m++)
        for (int p = 0; p < MS_SIM_POLICIES; p++) {
            fprintf(out, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s points=\"", colours[p],
                    m == 1 ? " stroke-dasharray=\"6 4\"" : "");
            for (int i = 0; i < n; i++) {
                double x = L + pw * (rows[i].n_apps - 1) / (double)(xmax - 1 > 0 ? xmax - 1 : 1);
                double y = T + ph - ph * fmin(fmax(rows[i].mean_f1[m][p], 0), 1);
                fprintf(out, "%.1f,%.1f ", x, y);
            }
            fprintf(out, "\"/>\n");
            double ly = T + 14 + 18 * (m * MS_SIM_POLICIES + p);
            fprintf(out, "<line x1=\"%g\" y1=\"%g\" x2=\"%g\" y2=\"%g\" stroke=\"%s\" stroke-width=\"2\"%s/>\n",
                    L + pw + 10, ly, L + pw + 40, ly, colours[p], m == 1 ? " stroke-dasharray=\"6 4\"" : "");
            fprintf(out, "<text x=\"%g\" y=\"%g\">%s (%s)</text>\n", L + pw + 46, ly + 4,
                    ms_policy_name(ms_sim_policies[p]), model_names[m]);
        }
    fprintf(out, "</svg>\n");
}
