/* The stem tree's pictures on a hand-made schedule: the exact text tree, and a DOT graph
 * that Graphviz's `dot` (the real program) accepts and lays out. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sched/stem_draw.h"

/* 4 units of cost 1, 2, 3, 4; apps: solo at 0 (2 fps), a and b at 2 (5 and 1 fps), c at 3 (2 fps). */
static void make(ms_scenario *s, ms_schedule *sch, ms_stem_tree *t)
{
    static double costs[4] = {1, 2, 3, 4};
    static ms_app apps[4] = {{.name = "solo"}, {.name = "a"}, {.name = "b"}, {.name = "c \"quoted\""}};
    static ms_assignment as[4] = {{0, 2, {.f1 = 0.5}}, {2, 5, {.f1 = 0.75}}, {2, 1, {.f1 = 0.25}}, {3, 2, {.f1 = 1}}};
    *s = (ms_scenario){.stream_fps = 10, .budget = 100, .n_units = 4, .unit_costs = costs, .n_apps = 4, .apps = apps};
    *sch = (ms_schedule){.feasible = true, .n_apps = 4, .apps = as};
    ms_error err;
    assert_int_equal(ms_stem_tree_build(s, sch, t, &err), MS_OK);
}

static char *render(void (*draw)(FILE *, const ms_scenario *, const ms_schedule *, const ms_stem_tree *))
{
    ms_scenario s;
    ms_schedule sch;
    ms_stem_tree t;
    make(&s, &sch, &t);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    draw(f, &s, &sch, &t);
    fclose(f);
    ms_stem_tree_free(&t);
    return buf;
}

static void test_text_tree(void **state)
{
    (void)state;
    char *text = render(ms_stem_tree_print);
    /* stem [0,2) at max(5,1,2) = 5 fps costs (1+2)*5; [2,3) at 2 fps costs 3*2 */
    const char *want = "input\n"
                       "|-- solo: chokepoint 0, own units 0-3 @ 2 fps (cost 20.000/s, F1 0.500)\n"
                       "`-- stem: units 0-1 @ 5 fps (cost 15.000/s)\n"
                       "    |-- a: chokepoint 2, own units 2-3 @ 5 fps (cost 35.000/s, F1 0.750)\n"
                       "    |-- b: chokepoint 2, own units 2-3 @ 1 fps (cost 7.000/s, F1 0.250)\n"
                       "    `-- stem: units 2-2 @ 2 fps (cost 6.000/s)\n"
                       "        `-- c \"quoted\": chokepoint 3, own units 3-3 @ 2 fps (cost 8.000/s, F1 1.000)\n";
    assert_string_equal(text, want);
    free(text);
}

static void test_dot_graph(void **state)
{
    (void)state;
    char *dot = render(ms_stem_tree_write_dot);
    assert_non_null(strstr(dot, "digraph stem_tree {"));
    assert_non_null(strstr(dot, "input -> app0;"));
    assert_non_null(strstr(dot, "input -> seg0;"));
    assert_non_null(strstr(dot, "seg0 -> seg1;"));
    assert_non_null(strstr(dot, "seg0 -> app1;"));
    assert_non_null(strstr(dot, "seg1 -> app3;"));
    assert_non_null(strstr(dot, "label=\"c \\\"quoted\\\"\\ncp 3")); /* names escaped */
    if (access("/usr/bin/dot", X_OK) != 0) {
        free(dot);
        print_message("skipped: Graphviz's dot is not installed\n");
        skip();
    }
    char *dir = ms_test_tmpdir(), path[600], cmd[1400];
    snprintf(path, sizeof path, "%s/tree.dot", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(dot, f);
    fclose(f);
    /* dot lays it out: 4 apps + input + 2 segments = 7 nodes, 6 edges */
    snprintf(cmd, sizeof cmd, "/usr/bin/dot -Tplain %s/tree.dot > %s/tree.txt 2>&1", dir, dir);
    assert_int_equal(system(cmd), 0);
    snprintf(path, sizeof path, "%s/tree.txt", dir);
    f = fopen(path, "r");
    assert_non_null(f);
    char line[1024];
    int nodes = 0, edges = 0;
    while (fgets(line, sizeof line, f)) {
        nodes += !strncmp(line, "node ", 5);
        edges += !strncmp(line, "edge ", 5);
    }
    fclose(f);
    assert_int_equal(nodes, 7);
    assert_int_equal(edges, 6);
    ms_test_rmdir(dir);
    free(dot);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_tree),
        cmocka_unit_test(test_dot_graph),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
