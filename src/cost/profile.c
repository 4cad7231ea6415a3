/* The cost profile (see profile.h): the units' definition, their measurement, and the
 * profile file, read and written here only. */
#include "cost/profile.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/plan_time.h"
#include "base/json.h"
#include "formats/mpackage.h"

#define PROFILE_MAX_BYTES (4u << 20)
#define PROFILE_MAX_BATCH 4096
#define PROFILE_MAX_THREADS 1024

static const char *const profile_keys[] = {"format_version", "backend", "precision", "batch", "threads",
                                           "model_fingerprint", "network_ms", "segments", NULL};
static const char *const segment_keys[] = {"from", "to", "ms", NULL};
static const ms_precision precisions[] = {MS_PREC_FP32, MS_PREC_INT8, MS_PREC_FP16};

void ms_profile_free(ms_profile *p)
{
    free(p->backend);
    free(p->unit_ms);
    memset(p, 0, sizeof *p);
}

/* An empty profile: nothing recorded. */
static void profile_init(ms_profile *p)
{
    memset(p, 0, sizeof *p);
    p->precision = -1;
    p->network_ms = -1;
}

/* ---------------------------------------------------------------- units */

ms_status ms_profile_unit_graph(const ms_graph *base, const ms_chokepoint *cps, int n_cps, int i, ms_graph **out,
                                ms_error *err)
{
    assert(i >= 0 && i < n_cps);
    if (i < n_cps - 1) return ms_graph_segment(base, cps[i].node_end, cps[i + 1].node_end, out, err);
    return ms_branch_from_base(base, n_cps - 1, out, err);
}

/* ---------------------------------------------------------------- measurement */

/* The whole network and every unit compiled, units chained: only the first reads plain
 * floats and only the head writes them, as the runner's stem tree passes them. */
static ms_status compile_units(const ms_graph *base, const ms_chokepoint *cps, int n_cps, const ms_backend *b,
                               const ms_plan_options *o, ms_plan **whole, ms_plan **plans, ms_error *err)
{
    ms_status st = ms_plan_compile(b, base, o, whole, err);
    ms_plan_options uo = *o;
    for (int i = 0; i < n_cps && st == MS_OK; i++) {
        ms_graph *g = NULL;
        uo.native_output = i + 1 < n_cps;
        st = ms_profile_unit_graph(base, cps, n_cps, i, &g, err);
        if (st == MS_OK) st = ms_plan_compile(b, g, &uo, &plans[i], err);
        uo.input_from = plans[i];
        ms_graph_free(g);
    }
    return st;
}

/* The record of what was measured: backend, settings, fingerprint. */
static ms_status describe(const ms_graph *base, const ms_backend *b, const ms_plan_options *o, ms_profile *p,
                          ms_error *err)
{
    p->backend = strdup(b->name);
    if (!p->backend) return ms_errorf(err, MS_ERR_NOMEM, "profiling: out of memory");
    p->precision = (int)o->precision;
    p->batch = o->batch;
    p->threads = o->threads;
    p->has_fingerprint = true;
    memcpy(p->fingerprint, base->fingerprint, sizeof p->fingerprint);
    return MS_OK;
}

ms_status ms_profile_measure(const ms_graph *base, const ms_backend *b, const ms_plan_options *opts,
                             ms_profile_timing timing, ms_profile *out, ms_error *err)
{
    profile_init(out);
    ms_plan_options o = {.batch = opts->batch, .threads = opts->threads, .precision = opts->precision};
    ms_chokepoint *cps = NULL;
    int n = 0;
    ms_plan *whole = NULL, **plans = NULL;
    double *ms = NULL, whole_ms = 0;
    ms_status st = ms_graph_chokepoints(base, &cps, &n, err);
    if (st == MS_OK) {
        plans = calloc((size_t)n + 1, sizeof *plans);
        ms = calloc((size_t)n + 1, sizeof *ms);
        out->unit_ms = calloc((size_t)n + 1, sizeof *out->unit_ms);
        if (!plans || !ms || !out->unit_ms) st = ms_errorf(err, MS_ERR_NOMEM, "profiling: out of memory");
    }
    if (st == MS_OK) st = compile_units(base, cps, n, b, &o, &whole, plans, err);
    if (st == MS_OK) st = ms_plan_time_chain(whole, plans, n, timing.warmup, timing.runs, &whole_ms, ms, err);
    if (st == MS_OK) st = describe(base, b, &o, out, err);
    for (int i = 0; st == MS_OK && i < n; i++) out->unit_ms[i] = ms[i] / o.batch;
    out->n_units = n;
    out->network_ms = whole_ms / o.batch;
    for (int i = 0; plans && i < n; i++) ms_plan_free(plans[i]);
    ms_plan_free(whole);
    free(plans);
    free(ms);
    free(cps);
    if (st == MS_OK) return MS_OK;
    ms_profile_free(out);
    return ms_error_prefix(err, "profiling %s", base->source ? base->source : "the model");
}

/* ---------------------------------------------------------------- reading */

static ms_status parse_precision(const cJSON *root, const char *path, ms_profile *p, ms_error *err)
{
    const char *name = NULL;
    if (ms_json_string_opt(root, path, "precision", &name, err)) return err->status;
    if (!name) return MS_OK;
    for (size_t i = 0; i < sizeof precisions / sizeof *precisions; i++)
        if (!strcmp(name, ms_precision_name(precisions[i]))) p->precision = (int)precisions[i];
    if (p->precision < 0)
        return ms_errorf(err, MS_ERR_INVALID, "%s: precision: unknown precision '%s' (fp32, int8 or fp16)", path, name);
    return MS_OK;
}

/* An optional integer field in [1, max]; 0 when absent. */
static ms_status parse_count(const cJSON *root, const char *path, const char *field, int max, int *out,
                             ms_error *err)
{
    int64_t v = 0;
    if (ms_json_int_opt(root, path, field, &v, err)) return err->status;
    if (cJSON_GetObjectItemCaseSensitive(root, field) && (v < 1 || v > max))
        return ms_errorf(err, MS_ERR_INVALID, "%s: %s: must be in [1, %d], got %lld", path, field, max, (long long)v);
    *out = (int)v;
    return MS_OK;
}

/* backend, precision, batch, threads, model_fingerprint, network_ms: each optional. */
static ms_status parse_record(const cJSON *root, const char *path, ms_profile *p, ms_error *err)
{
    const char *backend = NULL, *hex = NULL;
    if (ms_json_string_opt(root, path, "backend", &backend, err) || parse_precision(root, path, p, err) ||
        parse_count(root, path, "batch", PROFILE_MAX_BATCH, &p->batch, err) ||
        parse_count(root, path, "threads", PROFILE_MAX_THREADS, &p->threads, err) ||
        ms_json_string_opt(root, path, "model_fingerprint", &hex, err) ||
        ms_json_number_opt(root, path, "network_ms", &p->network_ms, err))
        return err->status;
    if (backend && !backend[0]) return ms_errorf(err, MS_ERR_INVALID, "%s: backend: must not be empty", path);
    if (backend && !(p->backend = strdup(backend))) return ms_errorf(err, MS_ERR_NOMEM, "%s: out of memory", path);
    if (hex && ms_fingerprint_parse(hex, p->fingerprint))
        return ms_errorf(err, MS_ERR_INVALID, "%s: model_fingerprint: must be 64 hex digits (SHA-256), got '%s'", path,
                         hex);
    p->has_fingerprint = hex != NULL;
    if (cJSON_GetObjectItemCaseSensitive(root, "network_ms") && p->network_ms < 0)
        return ms_errorf(err, MS_ERR_INVALID, "%s: network_ms: must be >= 0, got %g", path, p->network_ms);
    return MS_OK;
}

/* segments[i] = {"from": i, "to": i + 1, "ms" >= 0}: unit i. */
static ms_status parse_unit(const cJSON *seg, const char *path, int i, double *ms, ms_error *err)
{
    char at[320];
    snprintf(at, sizeof at, "%s: segments[%d]", path, i);
    int64_t from, to;
    if (!cJSON_IsObject(seg)) return ms_errorf(err, MS_ERR_FORMAT, "%s: must be an object", at);
    if (ms_json_check_keys(seg, at, segment_keys, err) || ms_json_int(seg, at, "from", &from, err) ||
        ms_json_int(seg, at, "to", &to, err) || ms_json_number(seg, at, "ms", ms, err))
        return err->status;
    if (from != i || to != i + 1)
        return ms_errorf(err, MS_ERR_INVALID, "%s: from %lld to %lld, but unit %d runs from chokepoint %d to %d", at,
                         (long long)from, (long long)to, i, i, i + 1);
    if (*ms < 0) return ms_errorf(err, MS_ERR_INVALID, "%s.ms: must be >= 0, got %g", at, *ms);
    return MS_OK;
}

static ms_status parse_units(const cJSON *root, const char *path, ms_profile *p, ms_error *err)
{
    const cJSON *segs;
    if (ms_json_array(root, path, "segments", &segs, err)) return err->status;
    int n = cJSON_GetArraySize(segs);
    if (n == 0) return ms_errorf(err, MS_ERR_INVALID, "%s: segments: must not be empty", path);
    if (!(p->unit_ms = malloc(sizeof *p->unit_ms * (size_t)n)))
        return ms_errorf(err, MS_ERR_NOMEM, "%s: out of memory", path);
    for (int i = 0; i < n; i++)
        if (parse_unit(cJSON_GetArrayItem(segs, i), path, i, &p->unit_ms[i], err)) return err->status;
    p->n_units = n;
    return MS_OK;
}

ms_status ms_profile_parse(const cJSON *root, const char *path, ms_profile *out, ms_error *err)
{
    profile_init(out);
    ms_status st;
    if (!cJSON_IsObject(root)) st = ms_errorf(err, MS_ERR_FORMAT, "%s: must be a JSON object", path);
    else if (ms_json_check_version(root, path, MS_PROFILE_FORMAT_VERSION, err) ||
             ms_json_check_keys(root, path, profile_keys, err) || parse_record(root, path, out, err) ||
             parse_units(root, path, out, err))
        st = err->status;
    else st = MS_OK;
    if (st) ms_profile_free(out);
    return st;
}

ms_status ms_profile_load(const char *path, ms_profile *out, ms_error *err)
{
    profile_init(out);
    cJSON *root;
    if (ms_json_load(path, PROFILE_MAX_BYTES, &root, err)) return err->status;
    ms_status st = ms_profile_parse(root, path, out, err);
    cJSON_Delete(root);
    return st;
}

ms_status ms_profile_check_model(const ms_profile *p, const char *path, const ms_graph *base, int n_cps,
                                 ms_error *err)
{
    char theirs[65], ours[65];
    ms_fingerprint_hex(p->fingerprint, theirs);
    ms_fingerprint_hex(base->fingerprint, ours);
    if (p->has_fingerprint && memcmp(p->fingerprint, base->fingerprint, sizeof p->fingerprint))
        return ms_errorf(err, MS_ERR_INVALID, "%s: model_fingerprint: %s, but the model is %s", path, theirs, ours);
    if (p->n_units != n_cps)
        return ms_errorf(err, MS_ERR_INVALID,
                         "%s: segments: %d units, but the model has %d chokepoints (one unit each)", path, p->n_units,
                         n_cps);
    return MS_OK;
}

ms_status ms_profile_load_for(const char *path, const ms_graph *base, int n_cps, ms_profile *out, ms_error *err)
{
    if (ms_profile_load(path, out, err)) return err->status;
    if (ms_profile_check_model(out, path, base, n_cps, err) == MS_OK) return MS_OK;
    ms_profile_free(out);
    return err->status;
}

/* ---------------------------------------------------------------- writing */

/* cJSON's adders return NULL when an allocation fails; `ok` collects that. */
static void add_number(cJSON *o, const char *key, double v, bool *ok)
{
    *ok &= cJSON_AddNumberToObject(o, key, v) != NULL;
}

static void add_exact(cJSON *o, const char *key, double v, bool *ok)
{
    *ok &= ms_json_add_exact(o, key, v);
}

static void add_string(cJSON *o, const char *key, const char *v, bool *ok)
{
    *ok &= cJSON_AddStringToObject(o, key, v) != NULL;
}

static void add_record(cJSON *root, const ms_profile *p, bool *ok)
{
    if (p->backend) add_string(root, "backend", p->backend, ok);
    if (p->precision >= 0) add_string(root, "precision", ms_precision_name((ms_precision)p->precision), ok);
    if (p->batch > 0) add_number(root, "batch", p->batch, ok);
    if (p->threads > 0) add_number(root, "threads", p->threads, ok);
    if (p->has_fingerprint) {
        char hex[65];
        ms_fingerprint_hex(p->fingerprint, hex);
        add_string(root, "model_fingerprint", hex, ok);
    }
    if (p->network_ms >= 0) add_exact(root, "network_ms", p->network_ms, ok);
}

cJSON *ms_profile_json(const ms_profile *p)
{
    cJSON *root = cJSON_CreateObject();
    bool ok = root && ms_json_add_version(root, MS_PROFILE_FORMAT_VERSION);
    if (ok) add_record(root, p, &ok);
    cJSON *arr = ok ? cJSON_AddArrayToObject(root, "segments") : NULL;
    ok &= arr != NULL;
    for (int i = 0; ok && i < p->n_units; i++) {
        cJSON *s = cJSON_CreateObject();
        ok = s && cJSON_AddItemToArray(arr, s);
        if (!ok) {
            cJSON_Delete(s);
            break;
        }
        add_number(s, "from", i, &ok);
        add_number(s, "to", i + 1, &ok);
        add_exact(s, "ms", p->unit_ms[i], &ok); /* read back as written */
    }
    if (ok) return root;
    cJSON_Delete(root);
    return NULL;
}

ms_status ms_profile_save(const char *path, const ms_profile *p, bool pretty, ms_error *err)
{
    cJSON *root = ms_profile_json(p);
    if (!root) return ms_errorf(err, MS_ERR_NOMEM, "%s: out of memory building the profile", path);
    ms_status st = ms_json_write(path, root, pretty, err);
    cJSON_Delete(root);
    return st;
}
