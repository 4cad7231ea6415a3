/* bench_train_cache parses its options with the commands' shared parser (src/cli/args.c)
 * and their data option set (MS_DATA_OPTIONS): --opt=value and unambiguous prefixes work,
 * an unknown or ambiguous option, a bad value of its own or of a data option, a second
 * file after --model and a missing --model are usage errors (exit 2, naming the option and
 * `bench_train_cache --help`) before anything is loaded. */
#include "testutil.h"

#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char bench[4200];

static int setup(void **state)
{
    (void)state;
    char *cli = strdup(MS_CLI_PATH);
    snprintf(bench, sizeof bench, "%s/bench_train_cache", dirname(cli));
    free(cli);
    return 0;
}

/* Runs the benchmark; its exit status, stderr in *err (the caller frees). */
static int run(const char *const *args, char **err)
{
    char *out = NULL;
    int rc = ms_test_run_program(bench, args, &out, err);
    assert_string_equal(out, "");
    free(out);
    return rc;
}

static void test_usage_errors(void **state)
{
    (void)state;
    if (access(bench, X_OK)) {
        print_message("skipped: %s is not built\n", bench);
        skip();
    }
    static const struct {
        const char *args[8];
        const char *says;
    } cases[] = {
        {{"--model", "m.tflite", "--bogus", "1", NULL}, "unknown option '--bogus'"},
        {{"--model", "m.tflite", "--pos", "a", NULL}, "ambiguous option '--pos' (--positive, --positive-class)"},
        {{"--model", "m.tflite", "--epochs", "0", NULL}, "--epochs: '0' is not a whole number in [1, 100000]"},
        {{"--model", "m.tflite", "--frame-step=x", NULL}, "--frame-step: 'x' is not a whole number"},
        {{"--model", "m.tflite", "--train-fraction", "2", NULL}, "--train-fraction: '2' is not a number in [0, 1]"},
        {{"--model", "m.tflite", "--optimizer", "rmsprop", NULL}, "--optimizer: 'rmsprop' is not adam or sgd"},
        {{"--model", "a.tflite", "b.tflite", NULL}, "unexpected argument 'b.tflite'"},
        {{"--positive", "p", "--negative", "n", NULL}, "--model is required"},
        {{"--model", "m.tflite", "--seed", NULL}, "--seed needs a value"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *err = NULL;
        assert_int_equal(run(cases[i].args, &err), 2);
        if (!strstr(err, cases[i].says) || !strstr(err, "(see bench_train_cache --help)"))
            fail_msg("case %zu: '%s' lacks '%s'", i, err, cases[i].says);
        free(err);
    }
}

/* Prefixes and --opt=value reach the loading, which names the missing model file. */
static void test_prefixes_parse(void **state)
{
    (void)state;
    if (access(bench, X_OK)) skip();
    const char *args[] = {"--model=/nonexistent/m.tflite", "--ep=2", "--positive", "/p", "--neg", "/n",
                          "--back", "ref", "--opt=sgd", "--chokepoints", "0", NULL};
    char *err = NULL;
    assert_int_equal(run(args, &err), 1);
    assert_non_null(strstr(err, "/nonexistent/m.tflite"));
    free(err);
    char *out = NULL;
    const char *help[] = {"--help", NULL};
    assert_int_equal(ms_test_run_program(bench, help, &out, &err), 0);
    assert_non_null(strstr(out, "usage: bench_train_cache --model FILE [--model FILE]... DATA"));
    free(out);
    free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage_errors),
        cmocka_unit_test(test_prefixes_parse),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
