/* Helpers shared by the tests: where the shared data lives, skipping when it is absent,
 * running the `mainstream` command and capturing what it prints, temporary folders. */
#ifndef MS_TESTUTIL_H
#define MS_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

/* Path of a file under the shared data: $MAINSTREAM_DATA, or the build's MS_DATA_DIR
 * (../shared/data beside the sources). Static buffer, valid until the next call. */
const char *ms_test_data(const char *relative);

/* Skips the current test, saying which file is missing, unless the data file exists. */
#define MS_REQUIRE_DATA(relative)                                                         \
    do {                                                                                  \
        if (!ms_test_data_exists(relative)) {                                             \
            print_message("skipped: shared data %s not found\n", ms_test_data(relative)); \
            skip();                                                                       \
        }                                                                                 \
    } while (0)
int ms_test_data_exists(const char *relative);

/* Runs `mainstream ARGS...` (argv NULL-terminated, without the program name), captures
 * stdout and stderr into malloc'd strings (either pointer may be NULL), returns the exit
 * status (or -1 when it did not exit normally). */
int ms_test_run_cli(const char *const *args, char **out, char **errout);
/* The same for another program of the build (a benchmark), by path. */
int ms_test_run_program(const char *path, const char *const *args, char **out, char **errout);

/* A fresh temporary directory (malloc'd path) and its recursive removal. */
char *ms_test_tmpdir(void);
void ms_test_rmdir(char *path);

/* Building small graphs by hand (float32 tensors; every helper fails the test on
 * allocation failure). */
#include "graph/graph.h"
int ms_test_tensor(ms_graph *g, const char *name, int ndim, const int64_t *shape);
/* A constant holding `values` (as many as the shape has elements). */
int ms_test_constant(ms_graph *g, const char *name, int ndim, const int64_t *shape, const float *values);
ms_node *ms_test_node(ms_graph *g, ms_op_kind kind, const char *name, const int *in, int n_in, int out);
/* Makes `in` the graph's one input and `out` its one output. */
void ms_test_set_io(ms_graph *g, int in, int out);

/* Relative L2 error ||a - b|| / ||b||. */
double ms_test_rel_l2(const float *a, const float *b, size_t n);

#endif
