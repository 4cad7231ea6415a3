/* Event outputs: the "outputs" validator (defaults, paths, 14 bad configs each naming
 * the field), and delivery through the file sink: ordered, spooled while the file
 * cannot be opened and delivered once it can, spooled events kept across a close and
 * delivered by the next open. (MQTT and Redis are tested against real brokers in
 * tests/e2e/serve.sh.) */
#include "testutil.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/file.h"
#include "serve/outputs.h"

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

static ms_status parse(const char *json, ms_outputs_config *c, ms_error *err)
{
    cJSON *j = cJSON_Parse(json);
    assert_non_null(j);
    ms_status st = ms_outputs_config_parse(j, "s.json: outputs", "/etc/ms/s.json", c, err);
    cJSON_Delete(j);
    return st;
}

static void test_good(void **state)
{
    (void)state;
    ms_outputs_config c;
    ms_error err;
    if (parse("[{\"type\":\"file\",\"path\":\"ev.jsonl\"},"
              "{\"type\":\"mqtt\",\"host\":\"127.0.0.1\",\"port\":1883,\"topic\":\"ms/ev\"},"
              "{\"type\":\"redis\",\"host\":\"localhost\",\"port\":6379,\"stream\":\"ms:ev\",\"maxlen\":1000,"
              "\"spool_bytes\":65536}]",
              &c, &err))
        fail_msg("%s", err.msg);
    assert_int_equal(c.n, 3);
    assert_int_equal(c.items[0].kind, MS_SINK_FILE);
    assert_string_equal(c.items[0].path, "/etc/ms/ev.jsonl"); /* relative to the config */
    assert_int_equal(c.items[0].spool_bytes, MS_OUTPUT_DEFAULT_SPOOL_BYTES);
    assert_int_equal(c.items[1].kind, MS_SINK_MQTT);
    assert_string_equal(c.items[1].host, "127.0.0.1");
    assert_int_equal(c.items[1].port, 1883);
    assert_string_equal(c.items[1].topic, "ms/ev");
    assert_int_equal(c.items[1].qos, 1); /* default: at least once */
    assert_int_equal(c.items[2].kind, MS_SINK_REDIS);
    assert_string_equal(c.items[2].stream, "ms:ev");
    assert_int_equal(c.items[2].maxlen, 1000);
    assert_int_equal(c.items[2].spool_bytes, 65536);
    ms_outputs_config_free(&c);
    assert_int_equal(ms_outputs_config_parse(NULL, "x", NULL, &c, &err), MS_OK);
    assert_int_equal(c.n, 0);
}

static void test_bad(void **state)
{
    (void)state;
    static const struct {
        const char *json, *msg;
    } cases[] = {
        {"{}", "s.json: outputs: must be an array"},
        {"[3]", "outputs[0]: must be an object"},
        {"[{\"path\":\"a\"}]", "outputs[0].type: missing"},
        {"[{\"type\":\"kafka\"}]", "outputs[0].type: 'kafka' is not file, mqtt or redis"},
        {"[{\"type\":\"file\"}]", "outputs[0].path: missing"},
        {"[{\"type\":\"file\",\"path\":\"\"}]", "outputs[0].path: must be a non-empty string"},
        {"[{\"type\":\"file\",\"path\":\"a\",\"topic\":\"t\"}]", "outputs[0].topic: unknown field for a file output"},
        {"[{\"type\":\"mqtt\",\"host\":\"h\",\"port\":70000,\"topic\":\"t\"}]", "outputs[0].port: must be an integer in [1, 65535]"},
        {"[{\"type\":\"mqtt\",\"host\":\"h\",\"port\":18.5,\"topic\":\"t\"}]", "outputs[0].port: must be an integer"},
        {"[{\"type\":\"mqtt\",\"host\":\"h\",\"port\":1,\"topic\":\"t\",\"qos\":3}]", "outputs[0].qos: must be an integer in [0, 2]"},
        {"[{\"type\":\"mqtt\",\"host\":\"h\",\"port\":1,\"topic\":\"a/#\"}]", "outputs[0].topic: 'a/#' has a wildcard"},
        {"[{\"type\":\"mqtt\",\"port\":1,\"topic\":\"t\"}]", "outputs[0].host: missing"},
        {"[{\"type\":\"redis\",\"host\":\"h\",\"port\":1}]", "outputs[0].stream: missing"},
        {"[{\"type\":\"file\",\"path\":\"a\"},{\"type\":\"file\",\"path\":\"b\",\"spool_bytes\":10}]",
         "outputs[1].spool_bytes: must be an integer in [4096"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ms_outputs_config c;
        ms_error err;
        assert_int_not_equal(parse(cases[i].json, &c, &err), MS_OK);
        if (!strstr(err.msg, cases[i].msg)) fail_msg("case %zu: '%s' lacks '%s'", i, err.msg, cases[i].msg);
        assert_int_equal(c.n, 0);
        assert_null(c.items);
    }
}

static void publish(ms_outputs *o, int i)
{
    char id[16], json[128];
    snprintf(id, sizeof id, "x-%06d", i);
    snprintf(json, sizeof json, "{\"id\":\"%s\",\"stream\":\"s\",\"app\":\"a\",\"n\":%d}", id, i);
    ms_sink_event e = {id, "s", "a", json, strlen(json)};
    assert_int_equal(ms_outputs_publish(o, &e), 0);
}

/* Waits (bounded) until the output has delivered n events. */
static void wait_delivered(ms_outputs *o, uint64_t n)
{
    for (int i = 0; i < 500 && ms_outputs_stats(o, 0).delivered < n; i++) usleep(10000);
    assert_int_equal(ms_outputs_stats(o, 0).delivered, n);
}

static char *slurp(const char *path)
{
    unsigned char *d;
    size_t n;
    ms_error err;
    if (ms_read_file(path, 1 << 20, &d, &n, &err)) fail_msg("%s", err.msg);
    return (char *)d;
}

static void test_file_delivery(void **state)
{
    (void)state;
    char sub[4096], path[4200], spool[4096], json[4400];
    snprintf(sub, sizeof sub, "%s/later", dir);
    snprintf(path, sizeof path, "%s/ev.jsonl", sub);
    snprintf(spool, sizeof spool, "%s/spool", dir);
    snprintf(json, sizeof json, "[{\"type\":\"file\",\"path\":\"%s\"}]", path);
    ms_outputs_config c;
    ms_error err;
    if (parse(json, &c, &err)) fail_msg("%s", err.msg);
    ms_outputs *o;
    if (ms_outputs_open(&c, spool, &o, &err)) fail_msg("%s", err.msg);
    /* the folder does not exist yet: events wait in the spool */
    for (int i = 1; i <= 3; i++) publish(o, i);
    usleep(300000);
    ms_output_stats st = ms_outputs_stats(o, 0);
    assert_false(st.connected);
    assert_int_equal(st.delivered, 0);
    assert_int_equal(st.pending, 3);
    assert_true(st.failures >= 1);
    assert_int_equal(mkdir(sub, 0700), 0);
    wait_delivered(o, 3);
    publish(o, 4);
    wait_delivered(o, 4);
    ms_outputs_close(o, 1);
    char *text = slurp(path);
    assert_string_equal(text, "{\"id\":\"x-000001\",\"stream\":\"s\",\"app\":\"a\",\"n\":1}\n"
                              "{\"id\":\"x-000002\",\"stream\":\"s\",\"app\":\"a\",\"n\":2}\n"
                              "{\"id\":\"x-000003\",\"stream\":\"s\",\"app\":\"a\",\"n\":3}\n"
                              "{\"id\":\"x-000004\",\"stream\":\"s\",\"app\":\"a\",\"n\":4}\n");
    free(text);
    /* closed while the file cannot be written: what is pending is there at the next open */
    char moved[4200];
    snprintf(moved, sizeof moved, "%s/moved", dir);
    assert_int_equal(rename(sub, moved), 0);
    if (ms_outputs_open(&c, spool, &o, &err)) fail_msg("%s", err.msg);
    publish(o, 5);
    publish(o, 6);
    ms_outputs_close(o, 0.3); /* gives up after 0.3 s: both stay spooled */
    assert_int_equal(rename(moved, sub), 0);
    if (ms_outputs_open(&c, spool, &o, &err)) fail_msg("%s", err.msg);
    assert_int_equal(ms_outputs_stats(o, 0).pending + ms_outputs_stats(o, 0).delivered, 2);
    wait_delivered(o, 2);
    ms_outputs_close(o, 1);
    text = slurp(path);
    assert_non_null(strstr(text, "\"n\":4}\n{\"id\":\"x-000005\",\"stream\":\"s\",\"app\":\"a\",\"n\":5}\n"
                                 "{\"id\":\"x-000006\",\"stream\":\"s\",\"app\":\"a\",\"n\":6}\n"));
    free(text);
    ms_outputs_config_free(&c);
}

/* A full spool refuses the event for that output only, counts it, and takes events
 * again once delivery makes room. */
static void test_full_spool(void **state)
{
    (void)state;
    char sub[4096], path[4200], spool[4096], json[8600];
    snprintf(sub, sizeof sub, "%s/full", dir);
    snprintf(path, sizeof path, "%s/ev.jsonl", sub);
    snprintf(spool, sizeof spool, "%s/spool-full", dir);
    snprintf(json, sizeof json,
             "[{\"type\":\"file\",\"path\":\"%s\",\"spool_bytes\":4096},{\"type\":\"file\",\"path\":\"%s/other.jsonl\"}]",
             path, dir);
    ms_outputs_config c;
    ms_error err;
    if (parse(json, &c, &err)) fail_msg("%s", err.msg);
    ms_outputs *o;
    if (ms_outputs_open(&c, spool, &o, &err)) fail_msg("%s", err.msg);
    /* 51-byte lines: 80 fit in 4096 bytes; the 81st is refused by the first output */
    int refused = 0, i;
    for (i = 1; i <= 100; i++) {
        char id[16], ev[64];
        snprintf(id, sizeof id, "x-%06d", i);
        snprintf(ev, sizeof ev, "{\"id\":\"%s\",\"stream\":\"s\",\"app\":\"a\",\"n\":\"%03d\"}", id, i);
        assert_int_equal(strlen(ev), 50);
        ms_sink_event e = {id, "s", "a", ev, strlen(ev)};
        refused += ms_outputs_publish(o, &e);
    }
    ms_output_stats st = ms_outputs_stats(o, 0);
    assert_int_equal(st.pending, 80);
    assert_int_equal(st.dropped, 20);
    assert_int_equal(refused, 20);
    assert_int_equal(ms_outputs_stats(o, 1).dropped, 0); /* the other output got all 100 */
    for (int k = 0; k < 500 && ms_outputs_stats(o, 1).delivered < 100; k++) usleep(10000);
    assert_int_equal(ms_outputs_stats(o, 1).delivered, 100);
    assert_int_equal(mkdir(sub, 0700), 0);
    wait_delivered(o, 80);
    publish(o, 101);
    wait_delivered(o, 81);
    assert_int_equal(ms_outputs_stats(o, 0).dropped, 20);
    ms_outputs_close(o, 1);
    ms_outputs_config_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_good), cmocka_unit_test(test_bad),
                                       cmocka_unit_test(test_file_delivery), cmocka_unit_test(test_full_spool)};
    return cmocka_run_group_tests(tests, setup, teardown);
}
