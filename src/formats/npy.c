/* NumPy .npy reading and writing (see npy.h). The header is a Python dict literal; we
 * accept exactly the three keys NumPy writes, in any order, and nothing else. */
#include "formats/npy.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/file.h"

static const char *skip_space(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t')) p++;
    return p;
}

/* 'key': returns the position after the colon, or NULL. */
static const char *read_key(const char *p, const char *end, char *key, size_t size)
{
    p = skip_space(p, end);
    if (p >= end || (*p != '\'' && *p != '"')) return NULL;
    char q = *p++;
    size_t n = 0;
    while (p < end && *p != q) {
        if (n + 1 >= size) return NULL;
        key[n++] = *p++;
    }
    key[n] = '\0';
    if (p >= end) return NULL;
    p = skip_space(p + 1, end);
    if (p >= end || *p != ':') return NULL;
    return skip_space(p + 1, end);
}

static ms_status parse_header(const char *h, size_t len, const char *name, ms_npy *out, int *elem, ms_error *err)
{
    const char *p = h, *end = h + len;
    bool have_descr = false, have_order = false, have_shape = false;
    p = skip_space(p, end);
    if (p >= end || *p++ != '{') return ms_errorf(err, MS_ERR_FORMAT, "%s: the header is not a dict", name);
    for (int k = 0; k < 8; k++) {
        p = skip_space(p, end);
        if (p < end && *p == '}') break;
        char key[32];
        if (!(p = read_key(p, end, key, sizeof key))) return ms_errorf(err, MS_ERR_FORMAT, "%s: malformed header key", name);
        if (!strcmp(key, "descr")) {
            char d[16];
            if (p >= end || (*p != '\'' && *p != '"')) return ms_errorf(err, MS_ERR_FORMAT, "%s: 'descr' is not a string", name);
            char qc = *p++;
            size_t n = 0;
            while (p < end && *p != qc && n + 1 < sizeof d) d[n++] = *p++;
            d[n] = '\0';
            if (p >= end || *p != qc) return ms_errorf(err, MS_ERR_FORMAT, "%s: 'descr' is malformed", name);
            p++;
            if (!strcmp(d, "<f4")) *elem = 4;
            else if (!strcmp(d, "<f8")) *elem = 8;
            else return ms_errorf(err, MS_ERR_UNSUPPORTED, "%s: dtype '%s' is not supported (float32 '<f4' or float64 '<f8')", name, d);
            have_descr = true;
        } else if (!strcmp(key, "fortran_order")) {
            if (end - p >= 5 && !strncmp(p, "False", 5)) p += 5;
            else if (end - p >= 4 && !strncmp(p, "True", 4))
                return ms_errorf(err, MS_ERR_UNSUPPORTED, "%s: Fortran-ordered arrays are not supported", name);
            else return ms_errorf(err, MS_ERR_FORMAT, "%s: 'fortran_order' is not False or True", name);
            have_order = true;
        } else if (!strcmp(key, "shape")) {
            if (p >= end || *p++ != '(') return ms_errorf(err, MS_ERR_FORMAT, "%s: 'shape' is not a tuple", name);
            out->ndim = 0;
            for (;;) {
                p = skip_space(p, end);
                if (p < end && *p == ')') {
                    p++;
                    break;
                }
                /* digits within the header only: it is not NUL-terminated */
                const char *e = p;
                int64_t v = 0;
                while (e < end && *e >= '0' && *e <= '9' && v <= ((int64_t)1 << 40)) v = v * 10 + (*e++ - '0');
                if (e == p || v > ((int64_t)1 << 40))
                    return ms_errorf(err, MS_ERR_FORMAT, "%s: 'shape' has a bad dimension", name);
                if (out->ndim >= MS_NPY_MAX_DIMS)
                    return ms_errorf(err, MS_ERR_UNSUPPORTED, "%s: more than %d dimensions", name, MS_NPY_MAX_DIMS);
                out->shape[out->ndim++] = v;
                p = skip_space(e, end);
                if (p < end && *p == ',') p++;
            }
            have_shape = true;
        } else {
            return ms_errorf(err, MS_ERR_FORMAT, "%s: unknown header key '%s'", name, key);
        }
        p = skip_space(p, end);
        if (p < end && *p == ',') p++;
    }
    if (!have_descr || !have_order || !have_shape)
        return ms_errorf(err, MS_ERR_FORMAT, "%s: the header lacks descr, fortran_order or shape", name);
    if (out->ndim < 1) return ms_errorf(err, MS_ERR_UNSUPPORTED, "%s: scalars (shape ()) are not supported", name);
    return MS_OK;
}

ms_status ms_npy_parse(const uint8_t *b, size_t size, const char *name, ms_npy *out, ms_error *err)
{
    memset(out, 0, sizeof *out);
    if (size < 10 || memcmp(b, "\x93NUMPY", 6)) return ms_errorf(err, MS_ERR_FORMAT, "%s: not a .npy file (no \\x93NUMPY magic)", name);
    int major = b[6];
    size_t hlen, off;
    if (major == 1) {
        hlen = (size_t)b[8] | (size_t)b[9] << 8;
        off = 10;
    } else if (major == 2 || major == 3) {
        if (size < 12) return ms_errorf(err, MS_ERR_FORMAT, "%s: truncated header", name);
        hlen = (size_t)b[8] | (size_t)b[9] << 8 | (size_t)b[10] << 16 | (size_t)b[11] << 24;
        off = 12;
    } else {
        return ms_errorf(err, MS_ERR_UNSUPPORTED, "%s: .npy format version %d is not supported", name, major);
    }
    if (hlen > size - off || hlen > 65536) return ms_errorf(err, MS_ERR_FORMAT, "%s: the header (%zu bytes) runs past the file", name, hlen);
    int elem = 0;
    ms_status s = parse_header((const char *)b + off, hlen, name, out, &elem, err);
    if (s) return s;
    int64_t numel = 1;
    for (int d = 0; d < out->ndim; d++) {
        if (out->shape[d] && numel > (int64_t)(MS_NPY_MAX_BYTES / 8) / out->shape[d])
            return ms_errorf(err, MS_ERR_UNSUPPORTED, "%s: more than %zu bytes of data", name, MS_NPY_MAX_BYTES);
        numel *= out->shape[d];
    }
    size_t data = off + hlen, need = (size_t)numel * (size_t)elem;
    if (size - data != need)
        return ms_errorf(err, MS_ERR_FORMAT, "%s: %zu bytes of data, the shape needs %zu", name, size - data, need);
    out->numel = numel;
    out->data = malloc(((size_t)numel + 1) * sizeof *out->data);
    if (!out->data) return ms_errorf(err, MS_ERR_NOMEM, "%s: out of memory", name);
    const uint8_t *p = b + data;
    for (int64_t k = 0; k < numel; k++, p += elem) {
        uint64_t u = 0;
        for (int j = 0; j < elem; j++) u |= (uint64_t)p[j] << (8 * j);
        if (elem == 4) {
            uint32_t w = (uint32_t)u;
            memcpy(&out->data[k], &w, 4);
        } else {
            double dv;
            memcpy(&dv, &u, 8);
            out->data[k] = (float)dv;
        }
    }
    return MS_OK;
}

ms_status ms_npy_read(const char *path, ms_npy *out, ms_error *err)
{
    unsigned char *bytes;
    size_t size;
    memset(out, 0, sizeof *out);
    ms_status s = ms_read_file(path, MS_NPY_MAX_BYTES + 65536, &bytes, &size, err);
    if (s) return s;
    s = ms_npy_parse(bytes, size, path, out, err);
    free(bytes);
    return s;
}

ms_status ms_npy_write(const char *path, const ms_npy *a, ms_error *err)
{
    char shape[256];
    size_t n = 0;
    for (int d = 0; d < a->ndim && n < sizeof shape; d++)
        n += (size_t)snprintf(shape + n, sizeof shape - n, "%lld,%s", (long long)a->shape[d], a->ndim > 1 && d + 1 < a->ndim ? " " : "");
    if (n >= sizeof shape) return ms_errorf(err, MS_ERR_INVALID, "%s: shape too long", path);
    char header[400];
    int hl = snprintf(header, sizeof header, "{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }", shape);
    int total = 10 + hl + 1, pad = (64 - total % 64) % 64;
    size_t hlen = (size_t)hl + (size_t)pad + 1;
    size_t bytes = 10 + hlen + (size_t)a->numel * 4;
    uint8_t *buf = malloc(bytes);
    if (!buf) return ms_errorf(err, MS_ERR_NOMEM, "%s: out of memory", path);
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    buf[8] = (uint8_t)(hlen & 0xff);
    buf[9] = (uint8_t)(hlen >> 8);
    memcpy(buf + 10, header, (size_t)hl);
    memset(buf + 10 + hl, ' ', (size_t)pad);
    buf[10 + hlen - 1] = '\n';
    uint8_t *p = buf + 10 + hlen;
    for (int64_t k = 0; k < a->numel; k++, p += 4) {
        uint32_t w;
        memcpy(&w, &a->data[k], 4);
        p[0] = (uint8_t)w, p[1] = (uint8_t)(w >> 8), p[2] = (uint8_t)(w >> 16), p[3] = (uint8_t)(w >> 24);
    }
    ms_status s = ms_write_file_atomic(path, buf, bytes, err);
    free(buf);
    return s;
}

void ms_npy_free(ms_npy *a)
{
    free(a->data);
    memset(a, 0, sizeof *a);
}
