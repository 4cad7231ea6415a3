/* Lines cut out of a text in place: LF and CRLF ends, an unterminated last line, blank
 * lines kept, the end of the text. */
#include "testutil.h"

#include <string.h>

#include "base/text.h"

static void test_lines(void **state)
{
    (void)state;
    char text[] = "a,b\r\n\nlast\r\nx";
    char *cursor = text;
    const char *want[] = {"a,b", "", "last", "x"};
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        char *line = ms_text_next_line(&cursor);
        assert_non_null(line);
        assert_string_equal(line, want[i]);
    }
    assert_null(ms_text_next_line(&cursor));
    assert_null(ms_text_next_line(&cursor)); /* stays at the end */
}

static void test_empty_and_trailing_newline(void **state)
{
    (void)state;
    char empty[] = "";
    char *cursor = empty;
    assert_null(ms_text_next_line(&cursor));
    char one[] = "only\n";
    cursor = one;
    assert_string_equal(ms_text_next_line(&cursor), "only");
    assert_null(ms_text_next_line(&cursor)); /* a final newline ends the last line, no empty one after it */
    char cr[] = "\r";
    cursor = cr;
    assert_string_equal(ms_text_next_line(&cursor), "");
    assert_null(ms_text_next_line(&cursor));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lines),
        cmocka_unit_test(test_empty_and_trailing_newline),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
