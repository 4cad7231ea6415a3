/* Logging: levels, the callback, timestamps, and whole lines when several threads log at
 * once (stderr redirected to a file and every line checked). */
#include "testutil.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"

typedef struct {
    int calls;
    ms_log_level last_level;
    char last[256];
} sink;

static void collect(void *user, ms_log_level level, const char *msg)
{
    sink *s = user;
    s->calls++;
    s->last_level = level;
    snprintf(s->last, sizeof s->last, "%s", msg);
}

static void test_levels_and_callback(void **state)
{
    (void)state;
    ms_log_level l;
    assert_true(ms_log_level_parse("warning", &l) && l == MS_LOG_WARN);
    assert_true(ms_log_level_parse("debug", &l) && l == MS_LOG_DEBUG);
    assert_false(ms_log_level_parse("loud", &l));
    sink s = {0};
    ms_log_set_callback(collect, &s);
    ms_log_set_level(MS_LOG_INFO);
    ms_debug("hidden %d", 1);
    assert_int_equal(s.calls, 0);
    ms_info("stream '%s': %d frames\nsecond line", "cam", 10);
    assert_int_equal(s.calls, 1);
    assert_int_equal(s.last_level, MS_LOG_INFO);
    assert_string_equal(s.last, "stream 'cam': 10 frames second line"); /* one message, one line */
    ms_log_set_level(MS_LOG_ERROR);
    ms_warn("hidden too");
    ms_log_error("shown");
    assert_int_equal(s.calls, 2);
    assert_string_equal(s.last, "shown");
    /* a message longer than a line is cut and says so */
    char big[6000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    ms_log_error("%s", big);
    assert_int_equal(strlen(s.last), sizeof s.last - 1); /* the sink's own buffer */
    ms_log_set_callback(NULL, NULL);
}

#define THREADS 6
#define LINES 300

static void *writer(void *arg)
{
    int id = (int)(intptr_t)arg;
    char payload[301];
    memset(payload, 'a' + id, 300);
    payload[300] = '\0';
    for (int i = 0; i < LINES; i++) ms_warn("t%d %04d %s", id, i, payload);
    return NULL;
}

/* stderr into a file; restored afterwards. */
static void test_whole_lines_with_timestamps(void **state)
{
    (void)state;
    char *dir = ms_test_tmpdir(), path[512];
    snprintf(path, sizeof path, "%s/err.txt", dir);
    fflush(stderr);
    int saved = dup(2);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    dup2(fileno(f), 2);
    ms_log_set_level(MS_LOG_WARN);
    setenv("MS_LOG_TIME", "1", 1);
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++) pthread_create(&t[i], NULL, writer, (void *)(intptr_t)i);
    for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
    unsetenv("MS_LOG_TIME");
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    fclose(f);
    f = fopen(path, "r");
    assert_non_null(f);
    char line[1024];
    int count[THREADS] = {0};
    while (fgets(line, sizeof line, f)) {
        /* 2026-12-03T10:33:12.345Z mainstream: warning: tN NNNN aaaa... */
        int y, mo, d, h, mi, sec, ms, id, k;
        char z;
        if (sscanf(line, "%4d-%2d-%2dT%2d:%2d:%2d.%3d%c mainstream: warning: t%d %d ", &y, &mo, &d, &h, &mi, &sec, &ms, &z,
                   &id, &k) != 10 || z != 'Z' || id < 0 || id >= THREADS)
            fail_msg("not a whole log line: %s", line);
        const char *payload = strrchr(line, ' ') + 1;
        for (int c = 0; c < 300; c++)
            if (payload[c] != 'a' + id) fail_msg("line of thread %d mixed with another: %s", id, line);
        assert_string_equal(payload + 300, "\n");
        assert_int_equal(k, count[id]); /* each thread's lines in its order */
        count[id]++;
    }
    fclose(f);
    for (int i = 0; i < THREADS; i++) assert_int_equal(count[i], LINES);
    ms_test_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_levels_and_callback),
        cmocka_unit_test(test_whole_lines_with_timestamps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
