/* End to end: the headline experiment in small (bench/headline.sh, docs/results.md).
 * scripts/make_streams.py builds, from ../shared/data at test time, a 6-minute stream
 * with three apps' events (sunflowers, cats, vehicles; other pictures as background) and
 * a calibration stream; three apps are trained on MobileNetV1 0.25_128 (2 epochs, 40 + 60
 * pictures each, calibrated with --val-video) and run together on the stream offline
 * under the mainstream, maxsharing and nosharing policies at a quarter of the full
 * network's cost on every frame (a fixed profile); score-events measures each app's event F1. Asserted:
 * every app has labelled events and a measured row in every run, and Mainstream's
 * measured mean event F1 is at least that of both baselines.
 *
 * Needs /usr/bin/python3 with numpy and PIL, ffmpeg and jq (scripts/setup.sh installs
 * them); skipped with a message when they or the shared data are missing. About a minute
 * in the optimised build; not built under the sanitizers nor run under valgrind
 * (CMakeLists.txt, MS_OPTIMISED_ONLY_TESTS). */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MODEL "models/mobilenet_v1_0.25_128_quant.tflite"
/* The model's 16 profile segments in ms per frame, as measured on the development
 * machine (1 thread): fixed, so that the plans do not depend on the machine's speed. */
#define UNIT_MS "0.040 0.041 0.020 0.035 0.015 0.027 0.013 0.023 0.022 0.023 0.022 0.023 0.012 0.022 0.001 0.019"

static int tool_missing(const char *check, const char *what)
{
    if (system(check) == 0) return 0;
    print_message("skipped: %s not found (scripts/setup.sh installs it)\n", what);
    return 1;
}

/* Value of column `key` in a CSV line, given the header; NULL when absent. */
static const char *field(const char *header, char *line, const char *key, char *buf, size_t n)
{
    char h[4096];
    snprintf(h, sizeof h, "%s", header);
    int col = -1, i = 0;
    for (char *save, *t = strtok_r(h, ",\n", &save); t; t = strtok_r(NULL, ",\n", &save), i++)
        if (!strcmp(t, key)) col = i;
    if (col < 0) return NULL;
    snprintf(h, sizeof h, "%s", line);
    char *p = h;
    for (i = 0; i < col && p; i++) p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL;
    if (!p) return NULL;
    size_t len = strcspn(p, ",\n");
    snprintf(buf, n, "%.*s", (int)(len < n ? len : n - 1), p);
    return buf;
}

static void test_mainstream_beats_both_baselines(void **state)
{
    (void)state;
    MS_REQUIRE_DATA(MODEL);
    MS_REQUIRE_DATA("flowers17/sunflower");
    MS_REQUIRE_DATA("cats_dogs/cat");
    MS_REQUIRE_DATA("vehicles/vehicle");
    MS_REQUIRE_DATA("imagenet-sample/labels.csv");
    if (tool_missing("/usr/bin/python3 -c 'import numpy, PIL' 2>/dev/null", "/usr/bin/python3 with numpy and PIL") ||
        tool_missing("command -v ffmpeg >/dev/null", "ffmpeg") || tool_missing("command -v jq >/dev/null", "jq"))
        skip();
    char *dir = ms_test_tmpdir();
    char cmd[16384];
    snprintf(cmd, sizeof cmd,
             "cd '%s' && MS='%s' DATA='%s' APPS=3 NS=3 BUDGETS=0.25 POLICIES='mainstream maxsharing nosharing' "
             "MINUTES=6 CALIB_MINUTES=3 RATE_SCALE=2 EPOCHS=2 THREADS=1 PIN_CPS= FIT_R_CPS= UNIT_MS='%s' "
             "sh bench/headline.sh '%s' >'%s/log.txt' 2>&1",
             MS_SOURCE_DIR, MS_CLI_PATH, ms_test_data(""), UNIT_MS, dir, dir);
    int rc = system(cmd);
    if (rc != 0) {
        snprintf(cmd, sizeof cmd, "tail -n 30 '%s/log.txt'", dir);
        (void)!system(cmd);
    }
    assert_int_equal(rc, 0);

    char path[4200], header[4096], line[4096], buf[64];
    snprintf(path, sizeof path, "%s/summary.csv", dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    assert_non_null(fgets(header, sizeof header, f));
    double f1[3] = {-1, -1, -1};
    const char *policies[3] = {"mainstream", "maxsharing", "nosharing"};
    while (fgets(line, sizeof line, f)) {
        char policy[64];
        assert_non_null(field(header, line, "policy", policy, sizeof policy));
        assert_non_null(field(header, line, "events", buf, sizeof buf));
        int events = atoi(buf);
        assert_true(events >= 20); /* three apps, about a dozen events each */
        assert_non_null(field(header, line, "f1", buf, sizeof buf));
        for (int p = 0; p < 3; p++)
            if (!strcmp(policy, policies[p])) f1[p] = atof(buf);
        print_message("%s: measured mean event F1 %s over %d events\n", policy, buf, events);
    }
    fclose(f);
    /* every app of every run was scored: 3 runs x 3 apps, plus the header */
    snprintf(cmd, sizeof cmd, "test $(grep -c . '%s/results.csv') -eq 10", dir);
    assert_int_equal(system(cmd), 0);
    for (int p = 0; p < 3; p++) assert_true(f1[p] >= 0 && f1[p] <= 1);
    assert_true(f1[0] >= f1[1]);
    assert_true(f1[0] >= f1[2]);
    ms_test_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mainstream_beats_both_baselines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
