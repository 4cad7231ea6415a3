/* The training log on hand-made results: the exact CSV, and an SVG with one point per
 * chokepoint and curve, the app's name escaped. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "train/trainlog.h"

static void results(ms_cp_result r[2], ms_epoch_log logs[3])
{
    logs[0] = (ms_epoch_log){1, 0.7, 0.6, 0.75, 0.8, 0.25, 1.5};
    logs[1] = (ms_epoch_log){2, 0.5, 0.65, 0.7, 0.7, 0.3, 3};
    logs[2] = (ms_epoch_log){1, 0.4, 0.3, 0.9, 0.95, 0.125, 0.5};
    memset(r, 0, 2 * sizeof *r);
    r[0].point = (ms_curve_point){3, 0.8, 0.25, 10, 10, 0.5};
    r[0].epochs = &logs[0];
    r[0].epochs_run = 2;
    r[0].best_epoch = 1;
    r[1].point = (ms_curve_point){7, 0.95, 0.125, 10, 10, 0.5};
    r[1].epochs = &logs[2];
    r[1].epochs_run = 1;
    r[1].best_epoch = 1;
}

static void test_csv(void **state)
{
    (void)state;
    ms_cp_result r[2];
    ms_epoch_log logs[3];
    results(r, logs);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ms_trainlog_write_csv(f, r, 2);
    fclose(f);
    assert_string_equal(buf, "chokepoint,epoch,train_loss,val_loss,val_acc,val_tpr,val_fpr,seconds,best\n"
                             "3,1,0.700000,0.600000,0.750000,0.800000,0.250000,1.500,1\n"
                             "3,2,0.500000,0.650000,0.700000,0.700000,0.300000,3.000,0\n"
                             "7,1,0.400000,0.300000,0.900000,0.950000,0.125000,0.500,1\n");
    free(buf);
}

static int count(const char *s, const char *what)
{
    int n = 0;
    for (const char *p = s; (p = strstr(p, what)); p++) n++;
    return n;
}

static void test_svg_and_save(void **state)
{
    (void)state;
    ms_cp_result r[2];
    ms_epoch_log logs[3];
    results(r, logs);
    char *dir = ms_test_tmpdir(), prefix[600], path[700];
    snprintf(prefix, sizeof prefix, "%s/cars", dir);
    ms_error err;
    assert_int_equal(ms_trainlog_save(prefix, "cars <&>", r, 2, &err), MS_OK);
    snprintf(path, sizeof path, "%s.curve.svg", prefix);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char svg[32768];
    svg[fread(svg, 1, sizeof svg - 1, f)] = '\0';
    fclose(f);
    assert_non_null(strstr(svg, "App cars &lt;&amp;&gt;: accuracy per chokepoint"));
    assert_int_equal(count(svg, "<polyline"), 2);
    assert_int_equal(count(svg, "<circle"), 4);
    assert_non_null(strstr(svg, "<title>chokepoint 7: 0.950</title>"));
    /* tpr 0.8 at the left edge: y = T + ph - ph * 0.8 = 40 + 330 - 264 */
    assert_non_null(strstr(svg, "points=\"60.0,106.0 "));
    snprintf(path, sizeof path, "%s.epochs.csv", prefix);
    assert_int_equal(access(path, R_OK), 0);
    /* an unwritable place fails with the path */
    assert_int_not_equal(ms_trainlog_save("/nonexistent/dir/x", "a", r, 2, &err), MS_OK);
    assert_non_null(strstr(err.msg, "/nonexistent/dir/x.epochs.csv"));
    ms_test_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csv),
        cmocka_unit_test(test_svg_and_save),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
