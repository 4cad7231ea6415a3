/* Serve's event record: ISO 8601 UTC times, unique ids, and the JSON line with every
 * field of the runner's events plus id, start_time and end_time. */
#include "testutil.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "serve/event.h"

static void test_iso8601(void **state)
{
    (void)state;
    char buf[32];
    ms_event_iso8601(0, buf, sizeof buf);
    assert_string_equal(buf, "1970-01-01T00:00:00.000Z");
    ms_event_iso8601(1764757461.1204, buf, sizeof buf);
    assert_string_equal(buf, "2025-12-03T10:24:21.120Z");
    ms_event_iso8601(1764757461.9996, buf, sizeof buf); /* rounds into the next second */
    assert_string_equal(buf, "2025-12-03T10:24:22.000Z");
    ms_event_iso8601(951782400.5, buf, sizeof buf); /* 2000-02-29, a leap day */
    assert_string_equal(buf, "2000-02-29T00:00:00.500Z");
}

static void test_ids(void **state)
{
    (void)state;
    ms_event_ids a, b;
    ms_error err;
    assert_int_equal(ms_event_ids_init(&a, &err), MS_OK);
    assert_int_equal(ms_event_ids_init(&b, &err), MS_OK);
    assert_string_not_equal(a.prefix, b.prefix); /* a restart gets new ids */
    char x[48], y[48];
    ms_event_ids_next(&a, x, sizeof x);
    ms_event_ids_next(&a, y, sizeof y);
    assert_string_not_equal(x, y);
    assert_int_equal(strlen(x), 16 + 1 + 6);
    assert_memory_equal(x, a.prefix, 16);
    assert_string_equal(x + 17, "000001");
    assert_string_equal(y + 17, "000002");
}

static void test_json(void **state)
{
    (void)state;
    ms_event e = {.start_frame = 120, .end_frame = 161, .start_s = 9.6, .end_s = 12.88, .score = 0.93};
    /* wall clock of the stream's start known */
    char *line = ms_event_json("abc-000001", "gate", "red\"car", &e, 1764757461.0, 0);
    assert_non_null(line);
    assert_null(strchr(line, '\n'));
    cJSON *j = cJSON_Parse(line);
    assert_non_null(j);
    assert_string_equal(cJSON_GetObjectItem(j, "id")->valuestring, "abc-000001");
    assert_string_equal(cJSON_GetObjectItem(j, "stream")->valuestring, "gate");
    assert_string_equal(cJSON_GetObjectItem(j, "app")->valuestring, "red\"car");
    assert_int_equal(cJSON_GetObjectItem(j, "start_frame")->valueint, 120);
    assert_int_equal(cJSON_GetObjectItem(j, "end_frame")->valueint, 161);
    assert_true(cJSON_GetObjectItem(j, "start_s")->valuedouble == 9.6);
    assert_true(cJSON_GetObjectItem(j, "end_s")->valuedouble == 12.88);
    assert_true(cJSON_GetObjectItem(j, "score")->valuedouble == 0.93);
    assert_string_equal(cJSON_GetObjectItem(j, "start_time")->valuestring, "2025-12-03T10:24:30.600Z");
    assert_string_equal(cJSON_GetObjectItem(j, "end_time")->valuestring, "2025-12-03T10:24:33.880Z");
    assert_int_equal(cJSON_GetArraySize(j), 10);
    cJSON_Delete(j);
    cJSON_free(line);
    /* unknown origin: the event ends when it closed and lasts as long as in stream time */
    line = ms_event_json("abc-000002", "gate", "truck", &e, 0, 1764757500.0);
    j = cJSON_Parse(line);
    assert_string_equal(cJSON_GetObjectItem(j, "end_time")->valuestring, "2025-12-03T10:25:00.000Z");
    assert_string_equal(cJSON_GetObjectItem(j, "start_time")->valuestring, "2025-12-03T10:24:56.720Z");
    cJSON_Delete(j);
    cJSON_free(line);
    /* the wall clock of the event's first frame known: that is start_time, whatever the
     * origin; one after the close (a clock stepped back) is held at end_time */
    e.start_wall_s = 1764757490.25;
    line = ms_event_json("abc-000003", "gate", "truck", &e, 1764757461.0, 1764757500.0);
    j = cJSON_Parse(line);
    assert_string_equal(cJSON_GetObjectItem(j, "start_time")->valuestring, "2025-12-03T10:24:50.250Z");
    assert_string_equal(cJSON_GetObjectItem(j, "end_time")->valuestring, "2025-12-03T10:25:00.000Z");
    cJSON_Delete(j);
    cJSON_free(line);
    e.start_wall_s = 1764757501.0;
    line = ms_event_json("abc-000004", "gate", "truck", &e, 0, 1764757500.0);
    j = cJSON_Parse(line);
    assert_string_equal(cJSON_GetObjectItem(j, "start_time")->valuestring, "2025-12-03T10:25:00.000Z");
    cJSON_Delete(j);
    cJSON_free(line);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_iso8601), cmocka_unit_test(test_ids),
                                       cmocka_unit_test(test_json)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
