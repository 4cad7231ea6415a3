/* One command-line style across the commands: `mainstream help CMD` is `CMD --help` and
 * shows an example; an unknown or ambiguous option, a missing value or a bad number is a
 * usage error (exit 2, naming the option and `mainstream help CMD`) before anything is
 * loaded; --opt=value and unambiguous prefixes work; -q and -v are accepted. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The commands in the shared style (src/cli/args.c). */
static const char *const commands[] = {"inspect", "classify", "profile", "schedule", "simulate", "run", "score-events", "train", "evaluate", NULL};

static int run(const char *const *args, char **out, char **err) { return ms_test_run_cli(args, out, err); }

static void test_help(void **state)
{
    (void)state;
    for (const char *const *c = commands; *c; c++) {
        char *o1, *e1, *o2, *e2;
        const char *help[] = {"help", *c, NULL}, *dash[] = {*c, "--help", NULL};
        assert_int_equal(run(help, &o1, &e1), 0);
        assert_int_equal(run(dash, &o2, &e2), 0);
        assert_string_equal(o1, o2);
        char usage[64];
        snprintf(usage, sizeof usage, "usage: mainstream %s", *c);
        if (!strstr(o1, usage) || !strstr(o1, "Example:")) fail_msg("%s --help lacks usage or an example:\n%s", *c, o1);
        free(o1);
        free(e1);
        free(o2);
        free(e2);
    }
    char *o, *e;
    const char *unknown[] = {"help", "frobnicate", NULL};
    assert_int_equal(run(unknown, &o, &e), 2);
    assert_non_null(strstr(e, "unknown command 'frobnicate'"));
    free(o);
    free(e);
}

static void expect_usage_error(const char *const *args, const char *needle)
{
    char *o, *e;
    int rc = run(args, &o, &e);
    char see[64];
    snprintf(see, sizeof see, "(see mainstream help %s)", args[0]);
    if (rc != 2 || !strstr(e, needle) || !strstr(e, see))
        fail_msg("%s: expected exit 2 and '%s' %s, got %d: %s", args[0], needle, see, rc, e);
    assert_string_equal(o, "");
    free(o);
    free(e);
}

static void test_usage_errors(void **state)
{
    (void)state;
    for (const char *const *c = commands; *c; c++) {
        const char *bogus[] = {*c, "--bogus", "x", NULL};
        expect_usage_error(bogus, "unknown option '--bogus'");
        const char *bogus_eq[] = {*c, "--bogus=3", NULL};
        expect_usage_error(bogus_eq, "unknown option '--bogus'");
        const char *short_bad[] = {*c, "-Z", NULL};
        expect_usage_error(short_bad, "unknown option '-Z'");
        const char *no_value[] = {*c, "--model", NULL};
        expect_usage_error(no_value, "--model needs a value");
        const char *no_help_value[] = {*c, "--help=yes", NULL};
        expect_usage_error(no_help_value, "--help takes no value");
    }
}

static void test_forms(void **state)
{
    (void)state;
    MS_REQUIRE_DATA("models/mobilenet_v1_0.25_128_quant.tflite");
    char model[4200];
    snprintf(model, sizeof model, "--model=%s", ms_test_data("models/mobilenet_v1_0.25_128_quant.tflite"));
    /* --opt=value, a prefix (--js for --json), -q and -v: all the same JSON */
    const char *a[] = {"inspect", "-q", model, "--js", NULL}, *b[] = {"inspect", "-v", "--json", model + 8, NULL};
    char *oa, *ea, *ob, *eb;
    assert_int_equal(run(a, &oa, &ea), 0);
    assert_int_equal(run(b, &ob, &eb), 0);
    assert_string_equal(oa, ob);
    assert_non_null(strstr(oa, "\"chokepoints\""));
    free(oa);
    free(ea);
    free(ob);
    free(eb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_help),
        cmocka_unit_test(test_usage_errors),
        cmocka_unit_test(test_forms),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
