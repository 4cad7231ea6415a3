/* Periodic timers: due at their period, re-armed from the time they fired, the wait
 * until the next one, disabled timers never due, a full set refused. */
#include "testutil.h"

#include "base/timer.h"

static void test_timers(void **state)
{
    (void)state;
    ms_timers ts = {0};
    int report = ms_timers_add(&ts, 10, 100), check = ms_timers_add(&ts, 2, 100), off = ms_timers_add(&ts, 0, 100);
    assert_int_equal(report, 0);
    assert_int_equal(check, 1);
    assert_false(ms_timers_due(&ts, report, 105));
    assert_false(ms_timers_due(&ts, check, 101.9));
    assert_float_equal(ms_timers_wait(&ts, 101, 5), 1, 1e-12);
    assert_float_equal(ms_timers_wait(&ts, 101, 0.5), 0.5, 1e-12);
    assert_true(ms_timers_due(&ts, check, 102.5));
    assert_false(ms_timers_due(&ts, check, 103)); /* re-armed at 104.5 */
    assert_float_equal(ms_timers_wait(&ts, 103, 100), 1.5, 1e-12);
    assert_true(ms_timers_due(&ts, check, 104.5));
    assert_float_equal(ms_timers_wait(&ts, 200, 100), 0, 0);
    assert_true(ms_timers_due(&ts, report, 200));
    assert_false(ms_timers_due(&ts, off, 1e9));
    ms_timers_reset(&ts, report, 300);
    assert_false(ms_timers_due(&ts, report, 309));
    assert_true(ms_timers_due(&ts, report, 310));
    for (int i = ts.n; i < MS_TIMERS_MAX; i++) assert_int_equal(ms_timers_add(&ts, 1, 0), i);
    assert_int_equal(ms_timers_add(&ts, 1, 0), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_timers)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
