/* `mainstream serve` start-up refusals, each before it listens, with its message: usage
 * errors (exit 2), a non-loopback address without a token, a non-numeric address, an
 * empty token file, no CONFIG and no state, an unknown config field (with the nearest key
 * suggested), a key given twice, a bad output, a bad stream in the config, a state folder
 * in use by another serve (exit 1). The running service is tested end to end by
 * tests/e2e/serve.sh. */
#include "testutil.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#define MODEL "models/mobilenet_v1_0.25_128_quant.tflite"

static char *dir;

static int setup(void **state)
{
    (void)state;
    dir = ms_test_tmpdir();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    ms_test_rmdir(dir);
    return 0;
}

static const char *at(const char *name)
{
    static char buf[4][4096];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* Runs serve with args; checks the exit status and that stderr holds want. */
static void refused(int status, const char *want, const char *const *args)
{
    char *out = NULL, *err = NULL;
    int rc = ms_test_run_cli(args, &out, &err);
    if (rc != status || !strstr(err, want)) fail_msg("exit %d (want %d), stderr lacks '%s':\n%s", rc, status, want, err);
    free(out);
    free(err);
}

static void test_usage(void **state)
{
    (void)state;
    refused(2, "unknown or incomplete option '--bogus'", (const char *[]){"serve", "--bogus", NULL});
    refused(2, "--mode: 'fast' is not live or offline", (const char *[]){"serve", "--mode", "fast", NULL});
    refused(2, "--report-every: 'x' is not a number", (const char *[]){"serve", "--report-every", "x", NULL});
    refused(2, "unexpected argument 'b.json'", (const char *[]){"serve", "a.json", "b.json", NULL});
    refused(2, "unknown or incomplete option '--listen'", (const char *[]){"serve", "--listen", NULL});
    char *out = NULL;
    assert_int_equal(ms_test_run_cli((const char *[]){"serve", "--help", NULL}, &out, NULL), 0);
    assert_non_null(strstr(out, "usage: mainstream serve [CONFIG.json]"));
    free(out);
}

static void test_start_refusals(void **state)
{
    (void)state;
    char st[4200]; /* at() reuses its buffers */
    snprintf(st, sizeof st, "%s", at("state"));
    refused(1, "--listen: 0.0.0.0:8080 is not a loopback address; give a token",
            (const char *[]){"serve", "x.json", "--listen", "0.0.0.0:8080", "--state", st, NULL});
    refused(1, "--listen: 'localhost' is not a numeric IPv4 or IPv6 address",
            (const char *[]){"serve", "x.json", "--listen", "localhost:8080", "--state", st, NULL});
    refused(1, "--listen: '127.0.0.1:99999': port must be in [0, 65535]",
            (const char *[]){"serve", "x.json", "--listen", "127.0.0.1:99999", "--state", st, NULL});
    write_file(at("empty-token"), "  \n");
    refused(1, "the token is empty",
            (const char *[]){"serve", "x.json", "--token-file", at("empty-token"), "--state", st, NULL});
    refused(1, "no CONFIG given, and", (const char *[]){"serve", "--state", st, NULL});
    write_file(at("unknown.json"), "{\"model\": \"m.tflite\", \"colour\": 1}");
    refused(1, "unknown.json: unknown key \"colour\"", (const char *[]){"serve", at("unknown.json"), "--state", st, NULL});
    write_file(at("typo.json"), "{\"model\": \"m.tflite\", \"outptus\": []}");
    refused(1, "typo.json: unknown key \"outptus\" (did you mean \"outputs\"?)",
            (const char *[]){"serve", at("typo.json"), "--state", st, NULL});
    write_file(at("twice.json"), "{\"model\": \"m.tflite\", \"model\": \"n.tflite\"}");
    refused(1, "twice.json: key \"model\" appears twice", (const char *[]){"serve", at("twice.json"), "--state", st, NULL});
    write_file(at("output.json"), "{\"model\": \"m.tflite\", \"outputs\": [{\"type\": \"kafka\"}]}");
    refused(1, "output.json: outputs[0].type: 'kafka' is not file, mqtt or redis",
            (const char *[]){"serve", at("output.json"), "--state", st, NULL});
    /* a second serve on a state folder in use */
    char lock[4300];
    snprintf(lock, sizeof lock, "%s/lock", st);
    int fd = open(lock, O_RDWR | O_CREAT, 0600);
    assert_true(fd >= 0);
    assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), 0);
    refused(1, "in use by another mainstream serve", (const char *[]){"serve", at("unknown.json"), "--state", st, NULL});
    close(fd);
}

static void test_bad_stream_in_config(void **state)
{
    (void)state;
    MS_REQUIRE_DATA(MODEL);
    char json[8192];
    snprintf(json, sizeof json,
             "{\"model\": \"%s\", \"streams\": [{\"name\": \"a/b\", \"url\": \"v.mp4\"}]}", ms_test_data(MODEL));
    write_file(at("stream.json"), json);
    refused(1, "stream.json: streams[0].name: must be 1-128 characters",
            (const char *[]){"serve", at("stream.json"), "--state", at("state2"), NULL});
    snprintf(json, sizeof json,
             "{\"model\": \"%s\", \"streams\": [{\"name\": \"a\", \"url\": \"v.mp4\"}],"
             " \"apps\": [{\"name\": \"x\", \"stream\": \"b\", \"package\": \"p.mpk\", \"threshold\": 0.5}]}",
             ms_test_data(MODEL));
    write_file(at("app.json"), json);
    refused(1, "app.json: apps[0].stream: no stream named 'b'",
            (const char *[]){"serve", at("app.json"), "--state", at("state3"), NULL});
    /* nothing was recorded: the next start has no state to resume */
    assert_int_not_equal(access(at("state3/state.json"), F_OK), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_usage), cmocka_unit_test(test_start_refusals),
                                       cmocka_unit_test(test_bad_stream_in_config)};
    return cmocka_run_group_tests(tests, setup, teardown);
}
