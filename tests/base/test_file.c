/* Tests of whole-file reads, atomic writes and folder fsyncs. */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/file.h"
#include "base/json.h"

static void test_atomic_write_then_read(void **state)
{
    (void)state;
    char *dir = ms_test_tmpdir();
    char path[256];
    snprintf(path, sizeof path, "%s/out.txt", dir);
    ms_error err;
    assert_int_equal(ms_write_file_atomic(path, "hello", 5, &err), MS_OK);
    unsigned char *data;
    size_t size;
    assert_int_equal(ms_read_file(path, 100, &data, &size, &err), MS_OK);
    assert_int_equal(size, 5);
    assert_string_equal((char *)data, "hello");
    free(data);
    assert_int_equal(ms_read_file(path, 4, &data, &size, &err), MS_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "larger than the limit"));
    ms_test_rmdir(dir);
}

static void test_abort_leaves_target_untouched(void **state)
{
    (void)state;
    char *dir = ms_test_tmpdir();
    char path[256];
    snprintf(path, sizeof path, "%s/keep.txt", dir);
    ms_error err;
    assert_int_equal(ms_write_file_atomic(path, "old", 3, &err), MS_OK);
    ms_atomic_file f;
    assert_int_equal(ms_atomic_open(&f, path, &err), MS_OK);
    fputs("new and partial", f.fp);
    ms_atomic_abort(&f);
    unsigned char *data;
    size_t size;
    assert_int_equal(ms_read_file(path, 100, &data, &size, &err), MS_OK);
    assert_string_equal((char *)data, "old");
    free(data);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "test $(ls '%s' | wc -l) -eq 1", dir);
    assert_int_equal(system(cmd), 0);
    ms_test_rmdir(dir);
}

/* Folder fsyncs: a folder, the folder of a path (with and without a '/'), and the
 * refusals, each naming what it could not sync. */
static void test_fsync_dir(void **state)
{
    (void)state;
    char *dir = ms_test_tmpdir();
    char path[256], missing[300];
    snprintf(path, sizeof path, "%s/file.txt", dir);
    snprintf(missing, sizeof missing, "%s/no-such-folder/file.txt", dir);
    ms_error err;
    assert_int_equal(ms_fsync_dir(dir, &err), MS_OK);
    assert_int_equal(ms_fsync_parent(path, &err), MS_OK);
    assert_int_equal(ms_fsync_parent("file-in-the-working-folder", &err), MS_OK);
    assert_int_equal(ms_fsync_parent("/etc", &err), MS_OK);
    assert_int_equal(ms_write_file_atomic(path, "x", 1, &err), MS_OK);
    assert_int_equal(ms_fsync_dir(path, &err), MS_ERR_IO); /* a file is not a folder */
    assert_non_null(strstr(err.msg, "file.txt: cannot open the folder"));
    assert_int_equal(ms_fsync_parent(missing, &err), MS_ERR_IO);
    assert_non_null(strstr(err.msg, "no-such-folder: cannot open the folder"));
    ms_test_rmdir(dir);
}

static void test_missing_file_is_named(void **state)
{
    (void)state;
    unsigned char *data;
    size_t size;
    ms_error err;
    assert_int_equal(ms_read_file("/nonexistent/x.bin", 100, &data, &size, &err), MS_ERR_IO);
    assert_non_null(strstr(err.msg, "/nonexistent/x.bin"));
}

static void test_json_fields_named_in_errors(void **state)
{
    (void)state;
    cJSON *o = cJSON_Parse("{\"a\": 1.5, \"n\": 3, \"s\": \"x\", \"bad\": \"y\", \"arr\": [1]}");
    ms_error err;
    double d = 0;
    int64_t i = 0;
    const char *s = NULL;
    const cJSON *arr = NULL;
    assert_int_equal(ms_json_number(o, "cfg.json", "a", &d, &err), MS_OK);
    assert_true(d == 1.5);
    assert_int_equal(ms_json_int(o, "cfg.json", "n", &i, &err), MS_OK);
    assert_int_equal(i, 3);
    assert_int_equal(ms_json_int(o, "cfg.json", "a", &i, &err), MS_ERR_FORMAT);
    assert_string_equal(err.msg, "cfg.json: field \"a\" must be an integer");
    assert_int_equal(ms_json_string(o, "cfg.json", "s", &s, &err), MS_OK);
    assert_string_equal(s, "x");
    assert_int_equal(ms_json_number(o, "cfg.json", "bad", &d, &err), MS_ERR_FORMAT);
    assert_string_equal(err.msg, "cfg.json: field \"bad\" must be a finite number");
    assert_int_equal(ms_json_number(o, "cfg.json", "missing", &d, &err), MS_ERR_FORMAT);
    assert_string_equal(err.msg, "cfg.json: missing field \"missing\"");
    d = 7;
    assert_int_equal(ms_json_number_opt(o, "cfg.json", "missing", &d, &err), MS_OK);
    assert_true(d == 7);
    assert_int_equal(ms_json_array(o, "cfg.json", "arr", &arr, &err), MS_OK);
    assert_int_equal(cJSON_GetArraySize(arr), 1);
    assert_int_equal(ms_json_array(o, "cfg.json", "s", &arr, &err), MS_ERR_FORMAT);
    cJSON_Delete(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_atomic_write_then_read),
        cmocka_unit_test(test_abort_leaves_target_untouched),
        cmocka_unit_test(test_missing_file_is_named),
        cmocka_unit_test(test_fsync_dir),
        cmocka_unit_test(test_json_fields_named_in_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
