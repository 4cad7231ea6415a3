/* The cost profile (cost/profile.h), the one owner of the unit costs: a measured profile
 * written and read back is the same profile, field for field; the runner's own
 * measurement at start gives the same units and the same document as `mainstream
 * profile` (one definition of every unit: the last is an app's one-score head, not the
 * base classifier); a bad profile (an unknown key, a wrong version, the wrong number of
 * units for the model, another model's fingerprint, a unit out of place, ...) is refused
 * with the file and the field named, by the reader and through the runtime. Timing values
 * are only checked to be >= 0: performance belongs in bench/. */
#include "testutil.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../run/fixtures.h"
#include "cost/profile.h"
#include "formats/model.h"
#include "run/runtime.h"
#include "run/stream_plan.h"

#define MODEL "models/vww_96_float.tflite"
#define OTHER_MODEL "models/mobilenet_v1_0.25_128_quant.tflite"

static ms_graph *load_model(const char *relative)
{
    const char *path = ms_test_data(relative);
    ms_graph *g = NULL;
    ms_error err;
    if (ms_model_load(&path, 1, &g, &err)) fail_msg("%s", err.msg);
    return g;
}

static int count_chokepoints(const ms_graph *g)
{
    ms_chokepoint *cps;
    int n;
    ms_error err;
    if (ms_graph_chokepoints(g, &cps, &n, &err)) fail_msg("%s", err.msg);
    free(cps);
    return n;
}

static void assert_same_profile(const ms_profile *a, const ms_profile *b)
{
    assert_non_null(a->backend);
    assert_non_null(b->backend);
    assert_string_equal(a->backend, b->backend);
    assert_int_equal(a->precision, b->precision);
    assert_int_equal(a->batch, b->batch);
    assert_int_equal(a->threads, b->threads);
    assert_int_equal(a->has_fingerprint, b->has_fingerprint);
    assert_memory_equal(a->fingerprint, b->fingerprint, sizeof a->fingerprint);
    assert_true(a->network_ms == b->network_ms); /* exact: cJSON prints doubles to round trip */
    assert_int_equal(a->n_units, b->n_units);
    for (int i = 0; i < a->n_units; i++)
        if (a->unit_ms[i] != b->unit_ms[i]) fail_msg("unit %d: %.17g written, %.17g read", i, a->unit_ms[i], b->unit_ms[i]);
}

/* Measured on the cpu backend, written, read back: the same profile, and the model's. */
static void test_roundtrip(void **state)
{
    (void)state;
    MS_REQUIRE_DATA(MODEL);
    ms_graph *base = load_model(MODEL);
    int n_cps = count_chokepoints(base);
    const ms_backend *b = ms_backend_find("cpu");
    assert_non_null(b);
    ms_plan_options o = {.batch = 2, .threads = 1, .precision = MS_PREC_FP32};
    ms_profile measured, read;
    ms_error err;
    if (ms_profile_measure(base, b, &o, (ms_profile_timing){.warmup = 0, .runs = 1}, &measured, &err))
        fail_msg("%s", err.msg);
    assert_int_equal(measured.n_units, n_cps);
    assert_string_equal(measured.backend, "cpu");
    assert_int_equal(measured.precision, MS_PREC_FP32);
    assert_int_equal(measured.batch, 2);
    assert_int_equal(measured.threads, 1);
    assert_true(measured.has_fingerprint);
    assert_memory_equal(measured.fingerprint, base->fingerprint, 32);
    assert_true(measured.network_ms >= 0);
    for (int i = 0; i < n_cps; i++) assert_true(measured.unit_ms[i] >= 0);
    char *dir = ms_test_tmpdir(), path[4096];
    snprintf(path, sizeof path, "%s/p.json", dir);
    if (ms_profile_save(path, &measured, true, &err)) fail_msg("%s", err.msg);
    if (ms_profile_load_for(path, base, n_cps, &read, &err)) fail_msg("%s", err.msg);
    assert_same_profile(&measured, &read);
    ms_profile_free(&read);
    ms_profile_free(&measured);
    ms_graph_free(base);
    ms_test_rmdir(dir);
}

/* The last unit is an app's head at the last chokepoint: one score per frame, reading
 * the tensor that enters the base classifier, not the classifier's classes. */
static void test_head_unit(void **state)
{
    (void)state;
    MS_REQUIRE_DATA(MODEL);
    ms_graph *base = load_model(MODEL);
    ms_chokepoint *cps;
    int n;
    ms_error err;
    if (ms_graph_chokepoints(base, &cps, &n, &err)) fail_msg("%s", err.msg);
    ms_graph *head, *seg;
    if (ms_profile_unit_graph(base, cps, n, n - 1, &head, &err)) fail_msg("%s", err.msg);
    const ms_tensor *out = &head->tensors[head->outputs[0]];
    assert_int_equal(ms_tensor_numel(out) / out->shape[0], 1);
    const ms_tensor *in = &head->tensors[head->inputs[0]], *cut = &base->tensors[cps[n - 1].tensor];
    assert_int_equal(ms_tensor_numel(in), ms_tensor_numel(cut));
    /* a segment unit's output is the next chokepoint's tensor */
    if (ms_profile_unit_graph(base, cps, n, 3, &seg, &err)) fail_msg("%s", err.msg);
    assert_int_equal(ms_tensor_numel(&seg->tensors[seg->outputs[0]]), ms_tensor_numel(&base->tensors[cps[4].tensor]));
    ms_graph_free(seg);
    ms_graph_free(head);
    free(cps);
    ms_graph_free(base);
}

/* The keys of a JSON object, sorted, joined by commas. */
static void keys_of(const cJSON *o, char *buf, size_t size)
{
    const char *names[32];
    int n = 0;
    for (const cJSON *c = o->child; c && n < 32; c = c->next) names[n++] = c->string;
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
            const char *t = names[j];
            names[j] = names[j - 1];
            names[j - 1] = t;
        }
    buf[0] = '\0';
    for (int i = 0; i < n; i++) {
        strncat(buf, names[i], size - strlen(buf) - 1);
        strncat(buf, ",", size - strlen(buf) - 1);
    }
}

/* The runner measures at start (no profile) through the same call: the same units, the
 * same document keys and segments as `mainstream profile` on the same settings. */
static void test_runner_measures_as_profile(void **state)
{
    (void)state;
    MS_REQUIRE_DATA(MODEL);
    char model[4096];
    snprintf(model, sizeof model, "%s", ms_test_data(MODEL));
    const char *models[1] = {model};
    ms_run_model_config c = {.models = models, .n_models = 1, .backend = "cpu", .precision = MS_PREC_FP32,
                             .threads = 1, .batch = 1, .profile = NULL, .where = "test"};
    ms_run_model m;
    ms_error err;
    if (ms_run_model_load_base(&c, &m, &err)) fail_msg("%s", err.msg);
    assert_int_equal(m.costs.n_units, m.n_cps);
    cJSON *ours = ms_profile_json(&m.costs);
    assert_non_null(ours);
    const char *args[] = {"profile", "--model", model, "--backend", "cpu", "--threads", "1", "--runs", "1",
                          "--warmup", "0", "--json", NULL};
    char *out = NULL, *errout = NULL;
    int rc = ms_test_run_cli(args, &out, &errout);
    if (rc) fail_msg("profile: %s", errout);
    cJSON *theirs = cJSON_Parse(out);
    assert_non_null(theirs);
    char k1[1024], k2[1024];
    keys_of(ours, k1, sizeof k1);
    keys_of(theirs, k2, sizeof k2);
    assert_string_equal(k1, k2);
    assert_string_equal(k1, "backend,batch,format_version,model_fingerprint,network_ms,precision,segments,threads,");
    const char *same[] = {"backend", "precision", "batch", "threads", "model_fingerprint", "format_version"};
    for (int i = 0; i < 6; i++) {
        char *a = cJSON_PrintUnformatted(cJSON_GetObjectItem(ours, same[i]));
        char *b = cJSON_PrintUnformatted(cJSON_GetObjectItem(theirs, same[i]));
        assert_string_equal(a, b);
        free(a);
        free(b);
    }
    const cJSON *s1 = cJSON_GetObjectItem(ours, "segments"), *s2 = cJSON_GetObjectItem(theirs, "segments");
    assert_int_equal(cJSON_GetArraySize(s1), m.n_cps);
    assert_int_equal(cJSON_GetArraySize(s2), m.n_cps);
    for (int i = 0; i < m.n_cps; i++) {
        const cJSON *a = cJSON_GetArrayItem(s1, i), *b = cJSON_GetArrayItem(s2, i);
        keys_of(a, k1, sizeof k1);
        keys_of(b, k2, sizeof k2);
        assert_string_equal(k1, k2);
        assert_int_equal(cJSON_GetObjectItem(a, "from")->valueint, cJSON_GetObjectItem(b, "from")->valueint);
        assert_int_equal(cJSON_GetObjectItem(a, "to")->valueint, cJSON_GetObjectItem(b, "to")->valueint);
    }
    /* ...and what `profile` wrote is what the runner reads as its unit costs */
    ms_profile p;
    if (ms_profile_parse(theirs, "stdout", &p, &err)) fail_msg("%s", err.msg);
    if (ms_profile_check_model(&p, "stdout", m.base, m.n_cps, &err)) fail_msg("%s", err.msg);
    ms_profile_free(&p);
    cJSON_Delete(theirs);
    cJSON_Delete(ours);
    free(out);
    free(errout);
    ms_run_model_free(&m);
}

/* Writes `json` to dir/p.json and expects ms_profile_load_for to refuse it with `needle`. */
static void expect_refused(const char *dir, const ms_graph *base, int n_cps, const char *json, const char *needle)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/p.json", dir);
    assert_int_equal(fixture_write(path, json), 0);
    ms_profile p;
    ms_error err;
    if (ms_profile_load_for(path, base, n_cps, &p, &err) == MS_OK) fail_msg("accepted: %s", json);
    if (!strstr(err.msg, needle) || !strstr(err.msg, "p.json")) fail_msg("expected '%s' in: %s", needle, err.msg);
}

/* n unit segments (from, to, ms) as a JSON array's elements. */
static void units_json(char *buf, size_t size, int n, int skip_at)
{
    buf[0] = '\0';
    for (int i = 0, k = 0; i < n; i++, k++) {
        if (i == skip_at) k++;
        size_t len = strlen(buf);
        snprintf(buf + len, size - len, "%s{\"from\":%d,\"to\":%d,\"ms\":0.5}", i ? "," : "", k, k + 1);
    }
}

static void test_bad_profiles(void **state)
{
    (void)state;
    MS_REQUIRE_DATA(MODEL);
    ms_graph *base = load_model(MODEL);
    int n = count_chokepoints(base);
    char *dir = ms_test_tmpdir(), units[4096], json[8192], fp[65];
    ms_fingerprint_hex(base->fingerprint, fp);
    units_json(units, sizeof units, n, -1);
    /* the good one first, so that each refusal below is the one change */
    snprintf(json, sizeof json, "{\"format_version\":1,\"backend\":\"ref\",\"model_fingerprint\":\"%s\",\"segments\":[%s]}",
             fp, units);
    char path[4096];
    snprintf(path, sizeof path, "%s/p.json", dir);
    assert_int_equal(fixture_write(path, json), 0);
    ms_profile p;
    ms_error err;
    if (ms_profile_load_for(path, base, n, &p, &err)) fail_msg("%s", err.msg);
    assert_int_equal(p.n_units, n);
    ms_profile_free(&p);

    snprintf(json, sizeof json, "{\"segments\":[%s],\"segmnts\":[]}", units);
    expect_refused(dir, base, n, json, "p.json: unknown key \"segmnts\" (did you mean \"segments\"?)");
    expect_refused(dir, base, n, "{\"segments\":[{\"from\":0,\"to\":1,\"msec\":2}]}",
                   "p.json: segments[0]: unknown key \"msec\" (did you mean \"ms\"?)");
    snprintf(json, sizeof json, "{\"format_version\":2,\"segments\":[%s]}", units);
    expect_refused(dir, base, n, json, "p.json: format_version 2 is newer than this build reads (1)");
    snprintf(json, sizeof json, "{\"format_version\":0,\"segments\":[%s]}", units);
    expect_refused(dir, base, n, json, "p.json: format_version: 0 is not a version");
    units_json(units, sizeof units, n - 1, -1);
    snprintf(json, sizeof json, "{\"segments\":[%s]}", units);
    char needle[256];
    snprintf(needle, sizeof needle, "p.json: segments: %d units, but the model has %d chokepoints", n - 1, n);
    expect_refused(dir, base, n, json, needle);
    units_json(units, sizeof units, n + 1, -1);
    snprintf(json, sizeof json, "{\"segments\":[%s]}", units);
    snprintf(needle, sizeof needle, "p.json: segments: %d units, but the model has %d chokepoints", n + 1, n);
    expect_refused(dir, base, n, json, needle);
    units_json(units, sizeof units, n, 3);
    snprintf(json, sizeof json, "{\"segments\":[%s]}", units);
    expect_refused(dir, base, n, json, "p.json: segments[3]: from 4 to 5, but unit 3 runs from chokepoint 3 to 4");
    expect_refused(dir, base, n, "{\"segments\":[{\"from\":0,\"to\":1,\"ms\":-1}]}", "p.json: segments[0].ms: must be >= 0");
    expect_refused(dir, base, n, "{\"segments\":[]}", "p.json: segments: must not be empty");
    expect_refused(dir, base, n, "{\"backend\":\"ref\"}", "p.json: missing field \"segments\"");
    units_json(units, sizeof units, n, -1);
    snprintf(json, sizeof json, "{\"precision\":\"fp64\",\"segments\":[%s]}", units);
    expect_refused(dir, base, n, json, "p.json: precision: unknown precision 'fp64'");
    snprintf(json, sizeof json, "{\"batch\":0,\"segments\":[%s]}", units);
    expect_refused(dir, base, n, json, "p.json: batch: must be in [1, 4096], got 0");
    snprintf(json, sizeof json, "{\"model_fingerprint\":\"abc\",\"segments\":[%s]}", units);
    expect_refused(dir, base, n, json, "p.json: model_fingerprint: must be 64 hex digits");
    snprintf(json, sizeof json, "{\"model_fingerprint\":\"%064d\",\"segments\":[%s]}", 7, units);
    expect_refused(dir, base, n, json, "p.json: model_fingerprint: 0000");
    snprintf(json, sizeof json, "{\"network_ms\":-2,\"segments\":[%s]}", units);
    expect_refused(dir, base, n, json, "p.json: network_ms: must be >= 0");
    expect_refused(dir, base, n, "[1, 2]", "p.json: must be a JSON object");
    ms_graph_free(base);
    ms_test_rmdir(dir);
}

/* The runtime refuses a profile of another model, before anything runs, naming it. */
static void test_runtime_refuses(void **state)
{
    (void)state;
    MS_REQUIRE_DATA(MODEL);
    MS_REQUIRE_DATA(OTHER_MODEL);
    ms_graph *other = load_model(OTHER_MODEL);
    const ms_backend *b = ms_backend_find("cpu");
    ms_plan_options o = {.batch = 1, .threads = 1, .precision = MS_PREC_FP32};
    ms_profile p;
    ms_error err;
    if (ms_profile_measure(other, b, &o, (ms_profile_timing){.warmup = 0, .runs = 1}, &p, &err)) fail_msg("%s", err.msg);
    char *dir = ms_test_tmpdir(), path[4096];
    snprintf(path, sizeof path, "%s/other.json", dir);
    if (ms_profile_save(path, &p, false, &err)) fail_msg("%s", err.msg);
    ms_profile_free(&p);
    ms_graph_free(other);
    const char *model = ms_test_data(MODEL);
    ms_runtime_options ro = {.models = &model, .n_models = 1, .backend = "cpu", .threads = 1, .batch = 1,
                             .profile = path, .where = "test"};
    ms_runtime *rt = NULL;
    assert_int_equal(ms_runtime_open(&ro, &rt, &err), MS_ERR_INVALID);
    assert_null(rt);
    if (!strstr(err.msg, "other.json: model_fingerprint: ")) fail_msg("%s", err.msg);
    ms_test_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_head_unit),
        cmocka_unit_test(test_runner_measures_as_profile),
        cmocka_unit_test(test_bad_profiles),
        cmocka_unit_test(test_runtime_refuses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
