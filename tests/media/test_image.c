/* Tests of image decoding, resizing and normalisation, each against a reference the
 * test computes itself: BMP headers and pixel bytes parsed here, PNGs written here with
 * known pixels, JPEG pixels from another decoder (libjpeg-turbo's djpeg), hand-computed
 * normalisation, geometry and constant pictures. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "media/image.h"

/* ---- BMP: the header and the raw bottom-up BGR rows, read without FFmpeg ---- */

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static unsigned char *read_all(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)n);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *size = (size_t)n;
    return buf;
}

static void check_bmp(const char *name)
{
    char rel[128];
    snprintf(rel, sizeof rel, "images/%s", name);
    size_t size;
    unsigned char *bmp = read_all(ms_test_data(rel), &size);
    assert_memory_equal(bmp, "BM", 2);
    uint32_t offset = le32(bmp + 10);
    int w = (int)le32(bmp + 18), h = (int)le32(bmp + 22);
    assert_int_equal(bmp[28], 24); /* the Coral images are 24-bit, bottom-up */
    assert_true(h > 0);
    size_t row = ((size_t)w * 3 + 3) / 4 * 4;
    assert_true(offset + row * (size_t)h <= size);

    ms_rgb_image img;
    ms_error err;
    assert_int_equal(ms_image_load_rgb(ms_test_data(rel), &img, &err), MS_OK);
    assert_int_equal(img.width, w);
    assert_int_equal(img.height, h);
    for (int y = 0; y < h; y++) {
        const unsigned char *src = bmp + offset + (size_t)(h - 1 - y) * row;
        const uint8_t *got = img.pixels + (size_t)y * (size_t)img.stride;
        for (int x = 0; x < w; x++) {
            if (got[3 * x] != src[3 * x + 2] || got[3 * x + 1] != src[3 * x + 1] ||
                got[3 * x + 2] != src[3 * x])
                fail_msg("%s: pixel (%d, %d) is %d %d %d, file has %d %d %d", name, x, y, got[3 * x],
                         got[3 * x + 1], got[3 * x + 2], src[3 * x + 2], src[3 * x + 1], src[3 * x]);
        }
    }
    ms_rgb_image_free(&img);
    free(bmp);
}

static void test_bmp_pixels_match_file_bytes(void **state)
{
    (void)state;
    MS_REQUIRE_DATA("images/cat.bmp");
    const char *names[] = {"bird.bmp", "cat.bmp", "dragonfly.bmp", "grace_hopper.bmp",
                           "missvickie_potato_chips.bmp", "resized_cat.bmp", "sunflower.bmp"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) check_bmp(names[i]);
}

/* ---- JPEG: size from the SOF marker, pixels from djpeg ---- */

static void jpeg_size(const char *path, int *w, int *h)
{
    size_t size;
    unsigned char *j = read_all(path, &size);
    *w = *h = 0;
    for (size_t i = 2; i + 9 < size;) {
        assert_int_equal(j[i], 0xFF);
        unsigned char marker = j[i + 1];
        size_t len = (size_t)j[i + 2] << 8 | j[i + 3];
        if (marker >= 0xC0 && marker <= 0xC2) {
            *h = j[i + 5] << 8 | j[i + 6];
            *w = j[i + 7] << 8 | j[i + 8];
            break;
        }
        i += 2 + len;
    }
    free(j);
}

typedef struct {
    int x, y;
    uint8_t rgb[3];
} ref_pixel;

static void check_jpeg(const char *name, const ref_pixel *ref, int n)
{
    char rel[128];
    snprintf(rel, sizeof rel, "images/%s", name);
    int w, h;
    jpeg_size(ms_test_data(rel), &w, &h);
    ms_rgb_image img;
    ms_error err;
    assert_int_equal(ms_image_load_rgb(ms_test_data(rel), &img, &err), MS_OK);
    assert_int_equal(img.width, w);
    assert_int_equal(img.height, h);
    /* Decoders differ in IDCT and chroma upsampling by a few levels; on these two files
     * FFmpeg and djpeg differ by at most 3 anywhere. */
    for (int i = 0; i < n; i++) {
        const uint8_t *p = img.pixels + (size_t)ref[i].y * (size_t)img.stride + 3 * (size_t)ref[i].x;
        for (int c = 0; c < 3; c++)
            if (abs(p[c] - ref[i].rgb[c]) > 3)
                fail_msg("%s: pixel (%d, %d) channel %d is %d, djpeg says %d", name, ref[i].x, ref[i].y,
                         c, p[c], ref[i].rgb[c]);
    }
    ms_rgb_image_free(&img);
}

static void test_jpeg_size_and_pixels(void **state)
{
    (void)state;
    MS_REQUIRE_DATA("images/parrot.jpg");
    /* `djpeg -pnm FILE` (libjpeg-turbo 2.1.5), pixels read from the PPM. */
    const ref_pixel parrot[] = {{0, 0, {179, 156, 125}},     {100, 50, {150, 169, 80}},
                                {256, 464, {77, 112, 54}},   {511, 928, {74, 72, 86}},
                                {128, 696, {144, 121, 149}}};
    const ref_pixel hot_dog[] = {{0, 0, {0, 6, 4}},          {100, 50, {0, 5, 1}},
                                 {256, 192, {213, 190, 136}}, {511, 383, {1, 11, 0}},
                                 {128, 288, {0, 47, 27}}};
    check_jpeg("parrot.jpg", parrot, 5);
    check_jpeg("hot_dog.jpg", hot_dog, 5);
}

/* ---- PNG written here: stored (uncompressed) deflate blocks, known pixels ---- */

static uint32_t crc32_of(const unsigned char *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1)));
    }
    return c ^ 0xFFFFFFFFu;
}

static void put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static void write_chunk(FILE *f, const char *type, const unsigned char *data, uint32_t n)
{
    unsigned char *buf = malloc(n + 4);
    memcpy(buf, type, 4);
    if (n) memcpy(buf + 4, data, n);
    unsigned char be[4];
    put32(be, n);
    fwrite(be, 1, 4, f);
    fwrite(buf, 1, n + 4, f);
    put32(be, crc32_of(buf, n + 4));
    fwrite(be, 1, 4, f);
    free(buf);
}

/* Writes a w x h PNG of colour type 2 (RGB, channels 3) or 0 (grey, channels 1). */
static void write_png(const char *path, const uint8_t *pixels, int w, int h, int channels)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fwrite("\x89PNG\r\n\x1a\n", 1, 8, f);
    unsigned char ihdr[13] = {0};
    put32(ihdr, (uint32_t)w);
    put32(ihdr + 4, (uint32_t)h);
    ihdr[8] = 8;
    ihdr[9] = channels == 3 ? 2 : 0;
    write_chunk(f, "IHDR", ihdr, 13);
    size_t raw_n = (size_t)h * (1 + (size_t)w * (size_t)channels); /* filter byte 0 per row */
    assert_true(raw_n < 65536);
    unsigned char *z = malloc(raw_n + 11);
    z[0] = 0x78;
    z[1] = 0x01;
    z[2] = 1; /* final block, stored */
    z[3] = (unsigned char)raw_n;
    z[4] = (unsigned char)(raw_n >> 8);
    z[5] = (unsigned char)~raw_n;
    z[6] = (unsigned char)(~raw_n >> 8);
    unsigned char *raw = z + 7;
    for (int y = 0; y < h; y++) {
        unsigned char *r = raw + (size_t)y * (1 + (size_t)w * (size_t)channels);
        r[0] = 0;
        memcpy(r + 1, pixels + (size_t)y * (size_t)w * (size_t)channels, (size_t)w * (size_t)channels);
    }
    uint32_t a = 1, b = 0;
    for (size_t i = 0; i < raw_n; i++) {
        a = (a + raw[i]) % 65521;
        b = (b + a) % 65521;
    }
    put32(z + 7 + raw_n, b << 16 | a);
    write_chunk(f, "IDAT", z, (uint32_t)(raw_n + 11));
    write_chunk(f, "IEND", NULL, 0);
    free(z);
    fclose(f);
}

static void test_png_written_here_decodes_exactly(void **state)
{
    (void)state;
    enum { W = 7, H = 5 };
    uint8_t rgb[H][W][3], grey[H][W];
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            rgb[y][x][0] = (uint8_t)(30 * x + y);
            rgb[y][x][1] = (uint8_t)(50 * y + 3);
            rgb[y][x][2] = (uint8_t)(255 - 11 * (x + y));
            grey[y][x] = (uint8_t)(17 * x + 40 * y);
        }
    char *dir = ms_test_tmpdir();
    char rgb_path[256], grey_path[256];
    snprintf(rgb_path, sizeof rgb_path, "%s/rgb.png", dir);
    snprintf(grey_path, sizeof grey_path, "%s/grey.png", dir);
    write_png(rgb_path, &rgb[0][0][0], W, H, 3);
    write_png(grey_path, &grey[0][0], W, H, 1);

    ms_rgb_image img;
    ms_error err;
    assert_int_equal(ms_image_load_rgb(rgb_path, &img, &err), MS_OK);
    assert_int_equal(img.width, W);
    assert_int_equal(img.height, H);
    for (int y = 0; y < H; y++) assert_memory_equal(img.pixels + y * img.stride, rgb[y], 3 * W);
    ms_rgb_image_free(&img);

    assert_int_equal(ms_image_load_rgb(grey_path, &img, &err), MS_OK);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            for (int c = 0; c < 3; c++) assert_int_equal(img.pixels[y * img.stride + 3 * x + c], grey[y][x]);
    ms_rgb_image_free(&img);

    /* At its own size with mean 0 and scale 1 the model input is the pixels themselves,
     * BGR reversing each triple. */
    ms_input_spec spec = {.height = H, .width = W, .channels = 3, .mean = 0.0f, .scale = 1.0f, .bgr = true};
    float out[H * W * 3];
    assert_int_equal(ms_image_load(rgb_path, &spec, MS_RESIZE_STRETCH, out, &err), MS_OK);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            for (int c = 0; c < 3; c++) assert_true(out[(y * W + x) * 3 + c] == rgb[y][x][2 - c]);
    ms_test_rmdir(dir);
}

/* ---- normalisation, geometry and resizing ---- */

static void test_normalisation_math(void **state)
{
    (void)state;
    /* two rows of two pixels, with 1 byte of padding per row */
    const uint8_t px[] = {0, 128, 255, 10, 20, 30, 99, 200, 1, 2, 3, 4, 77, 0};
    ms_input_spec spec = {.height = 2, .width = 2, .channels = 3, .mean = 127.5f, .scale = 1.0f / 127.5f, .bgr = false};
    float out[12];
    ms_normalise(px, 7, &spec, out);
    const float want[12] = {-1.0f, 0.5f / 127.5f, 1.0f, -117.5f / 127.5f, -107.5f / 127.5f,
                            -97.5f / 127.5f, /* row 2 starts at byte 7, past the padding */
                            72.5f / 127.5f, -126.5f / 127.5f, -125.5f / 127.5f,
                            -124.5f / 127.5f, -123.5f / 127.5f, -50.5f / 127.5f};
    for (int i = 0; i < 12; i++) assert_float_equal(out[i], want[i], 1e-6);

    spec = (ms_input_spec){.height = 1, .width = 2, .channels = 3, .mean = 128.0f, .scale = 0.5f, .bgr = true};
    ms_normalise(px, 6, &spec, out);
    const float bgr[6] = {63.5f, 0.0f, -64.0f, -49.0f, -54.0f, -59.0f};
    for (int i = 0; i < 6; i++) assert_float_equal(out[i], bgr[i], 1e-6);
}

static void test_centre_crop_geometry(void **state)
{
    (void)state;
    ms_input_spec spec = {.height = 224, .width = 224, .channels = 3, .mean = 128, .scale = 1.0f / 128, .bgr = false};
    ms_resize_geometry g;
    ms_error err;
    /* cat.bmp, 512x341: short side 341 -> 256, so 512 -> 384.4 -> 384; crop (80, 16) */
    assert_int_equal(ms_resize_geometry_for(512, 341, &spec, MS_RESIZE_CENTER_CROP, &g, &err), MS_OK);
    assert_int_equal(g.resize_w, 384);
    assert_int_equal(g.resize_h, 256);
    assert_int_equal(g.crop_x, 80);
    assert_int_equal(g.crop_y, 16);
    /* portrait 300x600 for a 128 model: 128 / 0.875 = 146.3 -> 146 wide, 292 high */
    spec.height = spec.width = 128;
    assert_int_equal(ms_resize_geometry_for(300, 600, &spec, MS_RESIZE_CENTER_CROP, &g, &err), MS_OK);
    assert_int_equal(g.resize_w, 146);
    assert_int_equal(g.resize_h, 292);
    assert_int_equal(g.crop_x, 9);
    assert_int_equal(g.crop_y, 82);
    assert_int_equal(ms_resize_geometry_for(300, 600, &spec, MS_RESIZE_STRETCH, &g, &err), MS_OK);
    assert_int_equal(g.resize_w, 128);
    assert_int_equal(g.crop_x, 0);
    spec.channels = 4;
    assert_int_equal(ms_resize_geometry_for(300, 600, &spec, MS_RESIZE_STRETCH, &g, &err),
                     MS_ERR_UNSUPPORTED);
}

static void test_constant_picture_stays_constant(void **state)
{
    (void)state;
    enum { W = 37, H = 23 };
    uint8_t *rgb = malloc(W * H * 3);
    for (int i = 0; i < W * H; i++) {
        rgb[3 * i] = 200;
        rgb[3 * i + 1] = 100;
        rgb[3 * i + 2] = 7;
    }
    const int sizes[] = {8, 16, 64}; /* shrink, shrink, enlarge */
    ms_frame_converter conv = {0};
    ms_error err;
    for (int s = 0; s < 3; s++)
        for (int mode = MS_RESIZE_STRETCH; mode <= MS_RESIZE_CENTER_CROP; mode++) {
            ms_input_spec spec = {.height = sizes[s], .width = sizes[s], .channels = 3, .mean = 127.5f, .scale = 1.0f / 127.5f, .bgr = false};
            float *out = malloc(sizeof(float) * 3 * (size_t)(sizes[s] * sizes[s]));
            assert_int_equal(ms_convert_rgb(&conv, rgb, W, H, W * 3, &spec, (ms_resize_mode)mode, out,
                                            "constant", &err),
                             MS_OK);
            for (int i = 0; i < sizes[s] * sizes[s]; i++) {
                assert_float_equal(out[3 * i], (200 - 127.5) / 127.5, 1e-6);
                assert_float_equal(out[3 * i + 1], (100 - 127.5) / 127.5, 1e-6);
                assert_float_equal(out[3 * i + 2], (7 - 127.5) / 127.5, 1e-6);
            }
            free(out);
        }
    ms_converter_free(&conv);
    free(rgb);
}

/* A 400x200 picture: red left quarter, green right quarter, blue middle. A centred
 * crop of a 2:1 picture keeps only the middle half (source columns 112..288 for a 224
 * model), so it is all blue; stretching keeps the red and green edges. */
static void test_crop_keeps_the_centre(void **state)
{
    (void)state;
    enum { W = 400, H = 200 };
    uint8_t *rgb = calloc(W * H, 3);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) rgb[(y * W + x) * 3 + (x < 100 ? 0 : x >= 300 ? 1 : 2)] = 255;
    ms_input_spec spec = {.height = 224, .width = 224, .channels = 3, .mean = 0.0f, .scale = 1.0f, .bgr = false};
    float *out = malloc(sizeof(float) * 224 * 224 * 3);
    ms_frame_converter conv = {0};
    ms_error err;
    assert_int_equal(ms_convert_rgb(&conv, rgb, W, H, W * 3, &spec, MS_RESIZE_CENTER_CROP, out, "bars", &err),
                     MS_OK);
    for (int i = 0; i < 224 * 224; i++) {
        assert_float_equal(out[3 * i], 0, 0.5);
        assert_float_equal(out[3 * i + 2], 255, 0.5);
    }
    assert_int_equal(ms_convert_rgb(&conv, rgb, W, H, W * 3, &spec, MS_RESIZE_STRETCH, out, "bars", &err), MS_OK);
    int row = 100 * 224 * 3;
    assert_float_equal(out[row + 0], 255, 0.5);             /* left edge red */
    assert_float_equal(out[row + 223 * 3 + 1], 255, 0.5);   /* right edge green */
    assert_float_equal(out[row + 112 * 3 + 2], 255, 0.5);   /* middle blue */
    ms_converter_free(&conv);
    free(out);
    free(rgb);
}

/* ---- bad input: an error naming the file, nothing leaked (ASan checks) ---- */

static void write_bytes(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    fclose(f);
}

static void expect_error(const char *path, ms_status want, const char *detail)
{
    ms_input_spec spec = {.height = 32, .width = 32, .channels = 3, .mean = 128, .scale = 1.0f / 128, .bgr = false};
    float out[32 * 32 * 3];
    ms_error err;
    ms_status st = ms_image_load(path, &spec, MS_RESIZE_CENTER_CROP, out, &err);
    if (st != want) fail_msg("%s: status %d (%s), expected %d", path, st, err.msg, want);
    if (!strstr(err.msg, path)) fail_msg("message does not name %s: %s", path, err.msg);
    if (detail && !strstr(err.msg, detail)) fail_msg("message lacks \"%s\": %s", detail, err.msg);
}

static void test_bad_files_are_named(void **state)
{
    (void)state;
    char *dir = ms_test_tmpdir();
    char path[300];

    snprintf(path, sizeof path, "%s/missing.jpg", dir);
    expect_error(path, MS_ERR_IO, "No such file");

    expect_error(dir, MS_ERR_FORMAT, NULL); /* a directory */

    snprintf(path, sizeof path, "%s/notes.txt", dir);
    write_bytes(path, "just some words\n", 16);
    expect_error(path, MS_ERR_FORMAT, NULL);

    snprintf(path, sizeof path, "%s/words.jpg", dir);
    write_bytes(path, "just some words\n", 16);
    expect_error(path, MS_ERR_FORMAT, NULL);

    /* a BMP header claiming 60000 x 60000 pixels and no pixel data */
    unsigned char bmp[154] = {'B', 'M', sizeof bmp};
    bmp[10] = 54;
    bmp[14] = 40;
    const uint32_t big = 60000;
    memcpy(bmp + 18, &big, 4);
    memcpy(bmp + 22, &big, 4);
    bmp[26] = 1;
    bmp[28] = 24;
    snprintf(path, sizeof path, "%s/huge.bmp", dir);
    write_bytes(path, bmp, sizeof bmp);
    expect_error(path, MS_ERR_FORMAT, "60000");

    if (ms_test_data_exists("images/parrot.jpg")) {
        size_t size;
        unsigned char *jpg = read_all(ms_test_data("images/parrot.jpg"), &size);
        snprintf(path, sizeof path, "%s/truncated.jpg", dir);
        write_bytes(path, jpg, size / 3);
        expect_error(path, MS_ERR_FORMAT, NULL);
        /* a corrupt scan: the bytes after the headers overwritten */
        memset(jpg + size / 2, 0x55, 4096);
        snprintf(path, sizeof path, "%s/corrupt.jpg", dir);
        write_bytes(path, jpg, size);
        expect_error(path, MS_ERR_FORMAT, NULL);
        free(jpg);
    }
    ms_test_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bmp_pixels_match_file_bytes),
        cmocka_unit_test(test_jpeg_size_and_pixels),
        cmocka_unit_test(test_png_written_here_decodes_exactly),
        cmocka_unit_test(test_normalisation_math),
        cmocka_unit_test(test_centre_crop_geometry),
        cmocka_unit_test(test_constant_picture_stays_constant),
        cmocka_unit_test(test_crop_keeps_the_centre),
        cmocka_unit_test(test_bad_files_are_named),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
