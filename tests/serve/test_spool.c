/* The on-disk spool: order, persistence across a reopen (a crash), the bound (a full
 * spool refuses and counts), a torn last line, compaction, stale generations. */
#include "testutil.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve/spool.h"

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

static const char *sub(const char *name)
{
    static char buf[4096];
    snprintf(buf, sizeof buf, "%s/%s", dir, name);
    return buf;
}

static void push(ms_spool *s, const char *rec)
{
    ms_error err;
    if (ms_spool_push(s, rec, strlen(rec), &err)) fail_msg("%s", err.msg);
}

static void expect_head(ms_spool *s, const char *want)
{
    char *rec;
    size_t len;
    ms_error err;
    assert_true(ms_spool_peek(s, 0, &rec, &len, &err));
    assert_string_equal(rec, want);
    assert_int_equal(len, strlen(want));
    free(rec);
}

static void pop(ms_spool *s)
{
    ms_error err;
    if (ms_spool_pop(s, &err)) fail_msg("%s", err.msg);
}

static void test_order_and_reopen(void **state)
{
    (void)state;
    ms_spool *s;
    ms_error err;
    assert_int_equal(ms_spool_open(sub("a"), 1 << 20, &s, &err), MS_OK);
    push(s, "{\"n\":1}");
    push(s, "{\"n\":2}");
    push(s, "{\"n\":3}");
    expect_head(s, "{\"n\":1}");
    expect_head(s, "{\"n\":1}"); /* peek does not consume */
    pop(s);
    expect_head(s, "{\"n\":2}");
    ms_spool_stats st = ms_spool_get_stats(s);
    assert_int_equal(st.pending, 2);
    assert_int_equal(st.pending_bytes, 16);
    assert_int_equal(st.pushed, 3);
    assert_int_equal(st.popped, 1);
    ms_spool_close(s); /* as if killed: 2 and 3 were never popped */
    assert_int_equal(ms_spool_open(sub("a"), 1 << 20, &s, &err), MS_OK);
    st = ms_spool_get_stats(s);
    assert_int_equal(st.pending, 2);
    expect_head(s, "{\"n\":2}");
    pop(s);
    expect_head(s, "{\"n\":3}");
    pop(s);
    char *rec;
    size_t len;
    assert_false(ms_spool_peek(s, 0.05, &rec, &len, &err)); /* empty: times out */
    assert_null(rec);
    assert_int_equal(ms_spool_pop(s, &err), MS_ERR_INVALID);
    ms_spool_close(s);
}

static void test_bound(void **state)
{
    (void)state;
    ms_spool *s;
    ms_error err;
    assert_int_equal(ms_spool_open(sub("b"), 20, &s, &err), MS_OK);
    push(s, "123456789"); /* 10 bytes with its newline */
    push(s, "abcdefghi"); /* 20: full */
    assert_int_equal(ms_spool_push(s, "x", 1, &err), MS_ERR_INVALID);
    assert_non_null(strstr(err.msg, "spool full"));
    ms_spool_stats st = ms_spool_get_stats(s);
    assert_int_equal(st.dropped, 1);
    assert_int_equal(st.pending, 2);
    pop(s);
    push(s, "x");
    expect_head(s, "abcdefghi");
    assert_int_equal(ms_spool_push(s, "two\nlines", 9, &err), MS_ERR_INVALID);
    assert_int_equal(ms_spool_push(s, "", 0, &err), MS_ERR_INVALID);
    ms_spool_close(s);
}

static void test_torn_tail(void **state)
{
    (void)state;
    ms_spool *s;
    ms_error err;
    assert_int_equal(ms_spool_open(sub("c"), 1 << 20, &s, &err), MS_OK);
    push(s, "first");
    ms_spool_close(s);
    FILE *f = fopen(sub("c/queue.0"), "ab");
    assert_non_null(f);
    fputs("half a rec", f); /* a write cut by power loss: no newline */
    fclose(f);
    assert_int_equal(ms_spool_open(sub("c"), 1 << 20, &s, &err), MS_OK);
    assert_int_equal(ms_spool_get_stats(s).pending, 1);
    expect_head(s, "first");
    push(s, "second");
    pop(s);
    expect_head(s, "second");
    ms_spool_close(s);
}

static int count_queues(const char *d)
{
    DIR *dd = opendir(d);
    assert_non_null(dd);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(dd)))
        if (!strncmp(e->d_name, "queue.", 6)) n++;
    closedir(dd);
    return n;
}

static void test_compaction(void **state)
{
    (void)state;
    ms_spool *s;
    ms_error err;
    assert_int_equal(ms_spool_open(sub("d"), 1 << 20, &s, &err), MS_OK);
    ms_spool_set_compact_bytes(s, 64);
    char rec[32];
    for (int i = 0; i < 40; i++) {
        snprintf(rec, sizeof rec, "record-%02d", i);
        push(s, rec);
    }
    for (int i = 0; i < 25; i++) pop(s); /* crosses the compaction threshold several times */
    assert_int_equal(count_queues(sub("d")), 1);
    ms_spool_close(s);
    /* a stale generation left by a crash during compaction is ignored and removed */
    FILE *f = fopen(sub("d/queue.999"), "wb");
    assert_non_null(f);
    fputs("stale\n", f);
    fclose(f);
    assert_int_equal(ms_spool_open(sub("d"), 1 << 20, &s, &err), MS_OK);
    assert_int_equal(count_queues(sub("d")), 1);
    assert_int_equal(ms_spool_get_stats(s).pending, 15);
    for (int i = 25; i < 40; i++) {
        snprintf(rec, sizeof rec, "record-%02d", i);
        expect_head(s, rec);
        pop(s);
    }
    assert_int_equal(ms_spool_get_stats(s).pending, 0);
    ms_spool_close(s);
}

static void test_bad_cursor(void **state)
{
    (void)state;
    ms_spool *s;
    ms_error err;
    assert_int_equal(ms_spool_open(sub("e"), 1 << 20, &s, &err), MS_OK);
    ms_spool_close(s);
    FILE *f = fopen(sub("e/cursor"), "wb");
    assert_non_null(f);
    fputs("garbage", f);
    fclose(f);
    assert_int_equal(ms_spool_open(sub("e"), 1 << 20, &s, &err), MS_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "cursor"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_and_reopen), cmocka_unit_test(test_bound), cmocka_unit_test(test_torn_tail),
        cmocka_unit_test(test_compaction),       cmocka_unit_test(test_bad_cursor),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
