/* The one labels reader: frame labels and class labels under one set of rules, each
 * rule's violation named with the file and line. */
#include "testutil.h"

#include <stdio.h>
#include <string.h>

#include "formats/labels.h"

static ms_status frames(const char *text, ms_frame_labels *l, ms_error *err)
{
    return ms_frame_labels_parse("l.csv", text, strlen(text), l, err);
}

static void test_frame_labels(void **state)
{
    (void)state;
    ms_frame_labels l;
    ms_error err;
    /* BOM, CRLF, a blank line, a gap (frame 3 unlabelled), no final newline */
    assert_int_equal(frames("\xEF\xBB\xBF" "frame,present\r\n0,0\r\n1,1\r\n\r\n2,1\r\n4,0", &l, &err), MS_OK);
    assert_int_equal(l.n, 4);
    const int64_t want_f[] = {0, 1, 2, 4};
    const uint8_t want_p[] = {0, 1, 1, 0};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(l.frames[i], want_f[i]);
        assert_int_equal(l.present[i], want_p[i]);
    }
    ms_frame_labels_free(&l);
    /* growth past the first allocation */
    char big[64 * 1024];
    size_t n = (size_t)snprintf(big, sizeof big, "frame,present\n");
    for (int i = 0; i < 3000; i++) n += (size_t)snprintf(big + n, sizeof big - n, "%d,%d\n", 2 * i, i % 2);
    assert_int_equal(ms_frame_labels_parse("big.csv", big, n, &l, &err), MS_OK);
    assert_int_equal(l.n, 3000);
    assert_int_equal(l.frames[2999], 5998);
    assert_int_equal(l.present[2999], 1);
    ms_frame_labels_free(&l);
}

static void expect_frames_error(const char *text, size_t len, const char *want)
{
    ms_frame_labels l;
    ms_error err;
    assert_int_equal(ms_frame_labels_parse("l.csv", text, len, &l, &err), MS_ERR_FORMAT);
    assert_null(l.frames);
    if (!strstr(err.msg, "l.csv") || !strstr(err.msg, want)) fail_msg("'%s' lacks '%s'", err.msg, want);
}
#define BAD_FRAMES(text, want) expect_frames_error(text, sizeof text - 1, want)

static void test_frame_label_errors(void **state)
{
    (void)state;
    BAD_FRAMES("", "line 1: expected the header \"frame,present\"");
    BAD_FRAMES("0,1\n1,1\n", "line 1: expected the header");
    BAD_FRAMES("frame,present\n", "no label rows");
    BAD_FRAMES("frame,present\n0,2\n", "line 2: present '2' is not 0 or 1");
    BAD_FRAMES("frame,present\n0,01\n", "line 2: present '01' is not 0 or 1");
    BAD_FRAMES("frame,present\n+1,1\n", "line 2: frame '+1' is not a whole number");
    BAD_FRAMES("frame,present\n1000000001,1\n", "line 2: frame '1000000001'");
    BAD_FRAMES("frame,present\n99999999999999999999999,1\n", "line 2: frame");
    BAD_FRAMES("frame,present\n0\n", "line 2: 1 field, expected 2");
    BAD_FRAMES("frame,present\n0,1,1\n", "line 2: more than 2 fields");
    BAD_FRAMES("frame,present\n0,\n", "line 2: field 2 is empty");
    BAD_FRAMES("frame,present\n0 ,1\n", "line 2: field 1 has spaces");
    BAD_FRAMES("frame,present\n\"0\",1\n", "line 2: field 1 is quoted");
    BAD_FRAMES("frame,present\n3,1\n2,1\n", "line 3: frame 2 does not follow frame 3");
    BAD_FRAMES("frame,present\n3,1\n3,0\n", "line 3: frame 3 does not follow frame 3");
    BAD_FRAMES("frame,present\n0,1\0\n", "NUL byte");
}

static void test_class_labels(void **state)
{
    (void)state;
    ms_class_labels l;
    ms_error err;
    const char *text = "file,class\nbird.bmp,20\nsub/parrot.jpg,89\n/abs/cat.bmp,286\n";
    assert_int_equal(ms_class_labels_parse("c.csv", text, strlen(text), &l, &err), MS_OK);
    assert_int_equal(l.n, 3);
    assert_string_equal(l.files[1], "sub/parrot.jpg");
    assert_int_equal(l.classes[2], 286);
    assert_int_equal(ms_class_labels_find(&l, "/images/parrot.jpg"), 89);
    assert_int_equal(ms_class_labels_find(&l, "bird.bmp"), 20);
    assert_int_equal(ms_class_labels_find(&l, "dog.bmp"), -1);
    ms_class_labels_free(&l);
    const char *bad[][2] = {
        {"file,label\nx,1\n", "line 1: expected the header \"file,class\""},
        {"file,class\nx,-1\n", "line 2: class '-1' is not a whole number"},
        {"file,class\nx,1000001\n", "line 2: class '1000001'"},
        {"file,class\nx,1\na/x,2\n", "file name 'x' appears twice"},
        {"file,class\nsub/,1\n", "line 2: file 'sub/' names a folder"},
        {"file,class\na,b,1\n", "line 2: more than 2 fields"},
        {"file,class\n", "no label rows"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(ms_class_labels_parse("c.csv", bad[i][0], strlen(bad[i][0]), &l, &err), MS_ERR_FORMAT);
        assert_null(l.files);
        if (!strstr(err.msg, "c.csv") || !strstr(err.msg, bad[i][1])) fail_msg("case %zu: '%s' lacks '%s'", i, err.msg, bad[i][1]);
    }
    assert_int_equal(ms_class_labels_load("/nonexistent/c.csv", &l, &err), MS_ERR_IO);
    assert_non_null(strstr(err.msg, "/nonexistent/c.csv"));
}

static void test_shared_label_files(void **state)
{
    (void)state;
    MS_REQUIRE_DATA("videos/person.labels.csv");
    MS_REQUIRE_DATA("imagenet-sample/labels.csv");
    ms_frame_labels f;
    ms_class_labels c;
    ms_error err;
    assert_int_equal(ms_frame_labels_load(ms_test_data("videos/person.labels.csv"), &f, &err), MS_OK);
    assert_int_equal(f.n, 1394); /* README: 1394 frames */
    assert_int_equal(f.frames[1393], 1393);
    ms_frame_labels_free(&f);
    assert_int_equal(ms_class_labels_load(ms_test_data("imagenet-sample/labels.csv"), &c, &err), MS_OK);
    assert_int_equal(c.n, 300);
    assert_int_equal(ms_class_labels_find(&c, "n01443537_goldfish.JPEG"), 2);
    ms_class_labels_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frame_labels),
        cmocka_unit_test(test_frame_label_errors),
        cmocka_unit_test(test_class_labels),
        cmocka_unit_test(test_shared_label_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
