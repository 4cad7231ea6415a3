/* The Prometheus renderer: the exact text of each family for hand-made stats, label
 * escaping, special values, and the exposition format's rules (one HELP and TYPE per
 * family, before its samples; every family of the issue present). */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve/metrics.h"

static void test_escaping(void **state)
{
    (void)state;
    ms_prom p = {0};
    ms_prom_family(&p, "m_x", "gauge", "line one\nback\\slash");
    const char *labels[] = {"a", "q\"uo\\te\nnl", "b", "", NULL};
    ms_prom_sample(&p, "m_x", labels, 1.5);
    ms_prom_sample(&p, "m_x", NULL, NAN);
    ms_prom_sample(&p, "m_x", NULL, INFINITY);
    ms_prom_sample(&p, "m_x", NULL, -INFINITY);
    ms_prom_sample(&p, "m_x", NULL, 12345678901.0);
    assert_false(p.failed);
    assert_string_equal(p.buf,
                        "# HELP m_x line one\\nback\\\\slash\n"
                        "# TYPE m_x gauge\n"
                        "m_x{a=\"q\\\"uo\\\\te\\nnl\",b=\"\"} 1.5\n"
                        "m_x NaN\n"
                        "m_x +Inf\n"
                        "m_x -Inf\n"
                        "m_x 12345678901\n");
    free(p.buf);
}

static void test_page(void **state)
{
    (void)state;
    ms_runtime_stream_stats streams[1] = {{.id = 1, .name = "gate", .up = true, .decoded = 300, .dropped = 7,
                                           .reopenings = 2}};
    ms_runtime_app_stats apps[2] = {
        {.id = 2, .name = "car", .stream_id = 1, .stream = "gate", .chokepoint = 11, .planned_fps = 3,
         .observed_fps = 2.5, .events = 4, .predicted = {.f1 = 0.98}},
        {.id = 3, .name = "person", .stream_id = 1, .stream = "gate", .chokepoint = -1, .planned_fps = 0,
         .observed_fps = 0, .events = 0, .predicted = {.f1 = 0}},
    };
    ms_runtime_node_stats nodes[2] = {
        {.stream_id = 1, .kind = MS_RUNTIME_NODE_SEGMENT, .from = 0, .to = 11, .app_id = -1, .ms_per_frame = 1.25,
         .planned_ms_per_frame = 1},
        {.stream_id = 1, .kind = MS_RUNTIME_NODE_BRANCH, .from = 11, .to = -1, .app_id = 2, .ms_per_frame = 0.5,
         .planned_ms_per_frame = 0.25},
    };
    ms_runtime_stats st = {.replans = 3, .budget = 900, .planned_cost = 4.5, .observed_cost = 5.25,
                           .n_streams = 1, .streams = streams, .n_apps = 2, .apps = apps, .n_nodes = 2, .nodes = nodes};
    ms_output_stats outs[1] = {{.type = "mqtt", .target = "127.0.0.1:1883/ev", .connected = false, .delivered = 10,
                                .pending = 3, .pending_bytes = 600, .spool_bytes = 4096, .dropped = 1, .failures = 5}};
    char *page = ms_serve_metrics(&st, outs, 1);
    assert_non_null(page);
    const char *want[] = {
        "# TYPE mainstream_app_fps gauge\n"
        "mainstream_app_fps{app=\"car\",stream=\"gate\"} 2.5\n"
        "mainstream_app_fps{app=\"person\",stream=\"gate\"} 0\n",
        "mainstream_app_planned_fps{app=\"car\",stream=\"gate\"} 3\n",
        "mainstream_app_predicted_f1{app=\"car\",stream=\"gate\"} 0.98\n",
        "mainstream_app_chokepoint{app=\"person\",stream=\"gate\"} -1\n",
        "# TYPE mainstream_events_total counter\nmainstream_events_total{app=\"car\",stream=\"gate\"} 4\n",
        "mainstream_stream_up{stream=\"gate\"} 1\n",
        "mainstream_stream_frames_decoded_total{stream=\"gate\"} 300\n",
        "mainstream_stream_frames_dropped_total{stream=\"gate\"} 7\n",
        "mainstream_stream_reopenings_total{stream=\"gate\"} 2\n",
        "mainstream_node_ms_per_frame{stream=\"gate\",kind=\"segment\",from=\"0\",to=\"11\",app=\"\"} 1.25\n",
        "mainstream_node_ms_per_frame{stream=\"gate\",kind=\"branch\",from=\"11\",to=\"\",app=\"car\"} 0.5\n",
        "mainstream_node_planned_ms_per_frame{stream=\"gate\",kind=\"branch\",from=\"11\",to=\"\",app=\"car\"} 0.25\n",
        "# TYPE mainstream_cost_ms_per_second gauge\nmainstream_cost_ms_per_second 5.25\n",
        "mainstream_planned_cost_ms_per_second 4.5\n",
        "mainstream_budget_ms_per_second 900\n",
        "# TYPE mainstream_replans_total counter\nmainstream_replans_total 3\n",
        "mainstream_output_up{output=\"127.0.0.1:1883/ev\",type=\"mqtt\"} 0\n",
        "mainstream_output_delivered_total{output=\"127.0.0.1:1883/ev\",type=\"mqtt\"} 10\n",
        "mainstream_output_spooled_events{output=\"127.0.0.1:1883/ev\",type=\"mqtt\"} 3\n",
        "mainstream_output_spool_bytes{output=\"127.0.0.1:1883/ev\",type=\"mqtt\"} 600\n",
        "mainstream_output_spool_limit_bytes{output=\"127.0.0.1:1883/ev\",type=\"mqtt\"} 4096\n",
        "mainstream_output_dropped_total{output=\"127.0.0.1:1883/ev\",type=\"mqtt\"} 1\n",
        "mainstream_output_failures_total{output=\"127.0.0.1:1883/ev\",type=\"mqtt\"} 5\n",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        if (!strstr(page, want[i])) fail_msg("missing:\n%s\nin:\n%s", want[i], page);
    /* every family: one HELP then one TYPE, and its samples right after */
    int families = 0;
    for (const char *l = page; *l;) {
        const char *nl = strchr(l, '\n');
        assert_non_null(nl);
        if (!strncmp(l, "# HELP ", 7)) {
            families++;
            const char *name = l + 7, *sp = strchr(name, ' ');
            char fam[128];
            snprintf(fam, sizeof fam, "%.*s", (int)(sp - name), name);
            assert_int_equal(strncmp(nl + 1, "# TYPE ", 7), 0);
            assert_int_equal(strncmp(nl + 8, fam, strlen(fam)), 0);
            const char *c = strstr(page, "# HELP ");
            int seen = 0;
            for (; c; c = strstr(c + 1, "# HELP "))
                if (!strncmp(c + 7, fam, strlen(fam)) && c[7 + strlen(fam)] == ' ') seen++;
            assert_int_equal(seen, 1);
        }
        l = nl + 1;
    }
    assert_int_equal(families, 22);
    free(page);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_escaping), cmocka_unit_test(test_page)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
