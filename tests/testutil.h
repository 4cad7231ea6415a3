/* Helpers shared by the tests: where the shared data lives, skipping when it is absent,
 * running the `mainstream` command and capturing what it prints, temporary folders. */
#ifndef MS_TESTUTIL_H
#define MS_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

/* Path of a file under ../shared/data (static buffer, valid until the next call). */
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

/* A fresh temporary directory (malloc'd path) and its recursive removal. */
char *ms_test_tmpdir(void);
void ms_test_rmdir(char *path);

/* Relative L2 error ||a - b|| / ||b||. */
double ms_test_rel_l2(const float *a, const float *b, size_t n);

#endif
