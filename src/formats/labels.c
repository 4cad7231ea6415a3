/* Label files (CSV): one tokenizer with one set of rules for frame labels and class
 * labels (see labels.h). */
#include "formats/labels.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/file.h"
#include "base/text.h"

#define MAX_FIELDS 2

typedef ms_status (*row_fn)(void *ctx, const char *path, long long line, char **fields, ms_error *err);

/* Splits row at commas into exactly n fields, each non-empty, unquoted, unpadded. */
static ms_status split(char *row, int n, char **fields, const char *path, long long line, const char *header,
                       ms_error *err)
{
    int k = 0;
    for (char *p = row;; p++) {
        if (k == n) return ms_errorf(err, MS_ERR_FORMAT, "%s: line %lld: more than %d fields (expected \"%s\")", path, line, n, header);
        fields[k++] = p;
        p += strcspn(p, ",");
        bool last = !*p;
        *p = '\0';
        if (last) break;
    }
    if (k != n) return ms_errorf(err, MS_ERR_FORMAT, "%s: line %lld: %d field%s, expected %d (\"%s\")", path, line, k, k == 1 ? "" : "s", n, header);
    for (int i = 0; i < n; i++) {
        const char *f = fields[i];
        size_t len = strlen(f);
        if (!len) return ms_errorf(err, MS_ERR_FORMAT, "%s: line %lld: field %d is empty", path, line, i + 1);
        if (strchr(f, '"')) return ms_errorf(err, MS_ERR_FORMAT, "%s: line %lld: field %d is quoted (quotes are not supported)", path, line, i + 1);
        if (f[0] == ' ' || f[0] == '\t' || f[len - 1] == ' ' || f[len - 1] == '\t')
            return ms_errorf(err, MS_ERR_FORMAT, "%s: line %lld: field %d has spaces around it", path, line, i + 1);
    }
    return MS_OK;
}

/* The header, then every non-blank row through fn. */
static ms_status parse_csv(const char *path, const char *text, size_t len, const char *header, int n_fields, row_fn fn,
                           void *ctx, ms_error *err)
{
    if (memchr(text, '\0', len)) return ms_errorf(err, MS_ERR_FORMAT, "%s: not a text file (it holds a NUL byte)", path);
    char *buf = malloc(len + 1);
    if (!buf) return ms_errorf(err, MS_ERR_NOMEM, "%s: out of memory", path);
    memcpy(buf, text, len);
    buf[len] = '\0';
    char *cursor = buf, *row, *fields[MAX_FIELDS] = {0};
    if (len >= 3 && !memcmp(buf, "\xEF\xBB\xBF", 3)) cursor += 3; /* a UTF-8 byte-order mark */
    long long line = 0, rows = 0;
    ms_status s = MS_OK;
    while (!s && (row = ms_text_next_line(&cursor))) {
        line++;
        if (line == 1) {
            if (strcmp(row, header)) s = ms_errorf(err, MS_ERR_FORMAT, "%s: line 1: expected the header \"%s\"", path, header);
            continue;
        }
        if (!row[0]) continue;
        rows++;
        if (!(s = split(row, n_fields, fields, path, line, header, err))) s = fn(ctx, path, line, fields, err);
    }
    free(buf);
    if (!s && line == 0) s = ms_errorf(err, MS_ERR_FORMAT, "%s: line 1: expected the header \"%s\"", path, header);
    if (!s && rows == 0) s = ms_errorf(err, MS_ERR_FORMAT, "%s: no label rows after the header", path);
    return s;
}

/* A decimal integer in [0, max]: digits only. */
static bool parse_count(const char *f, long long max, long long *out)
{
    long long v = 0;
    if (!*f) return false;
    for (; *f; f++) {
        if (*f < '0' || *f > '9') return false;
        v = v * 10 + (*f - '0');
        if (v > max) return false;
    }
    *out = v;
    return true;
}

typedef struct {
    ms_frame_labels *l;
    int64_t cap;
} frame_ctx;

static ms_status frame_row(void *ctx, const char *path, long long line, char **f, ms_error *err)
{
    frame_ctx *c = ctx;
    ms_frame_labels *l = c->l;
    long long frame;
    if (!parse_count(f[0], MS_LABELS_MAX_FRAME, &frame))
        return ms_errorf(err, MS_ERR_FORMAT, "%s: line %lld: frame '%.40s' is not a whole number in [0, %lld]", path, line,
                         f[0], MS_LABELS_MAX_FRAME);
    if ((f[1][0] != '0' && f[1][0] != '1') || f[1][1])
        return ms_errorf(err, MS_ERR_FORMAT, "%s: line %lld: present '%.40s' is not 0 or 1", path, line, f[1]);
    if (l->n && frame <= l->frames[l->n - 1])
        return ms_errorf(err, MS_ERR_FORMAT, "%s: line %lld: frame %lld does not follow frame %lld (frames must increase)",
                         path, line, frame, (long long)l->frames[l->n - 1]);
    if (l->n == c->cap) {
        int64_t cap = c->cap ? 2 * c->cap : 1024;
        int64_t *fr = realloc(l->frames, (size_t)cap * sizeof *fr);
        if (fr) l->frames = fr;
        uint8_t *pr = fr ? realloc(l->present, (size_t)cap) : NULL;
        if (pr) l->present = pr;
        if (!fr || !pr) return ms_errorf(err, MS_ERR_NOMEM, "%s: out of memory", path);
        c->cap = cap;
    }
    l->frames[l->n] = frame;
    l->present[l->n++] = (uint8_t)(f[1][0] - '0');
    return MS_OK;
}

ms_status ms_frame_labels_parse(const char *path, const char *text, size_t len, ms_frame_labels *out, ms_error *err)
{
    memset(out, 0, sizeof *out);
    frame_ctx c = {out, 0};
    ms_status s = parse_csv(path, text, len, "frame,present", 2, frame_row, &c, err);
    if (s) ms_frame_labels_free(out);
    return s;
}

void ms_frame_labels_free(ms_frame_labels *l)
{
    free(l->frames);
    free(l->present);
    memset(l, 0, sizeof *l);
}

static const char *last_component(const char *p)
{
    const char *slash = strrchr(p, '/');
    return slash ? slash + 1 : p;
}

typedef struct {
    ms_class_labels *l;
    int cap;
} class_ctx;

static ms_status class_row(void *ctx, const char *path, long long line, char **f, ms_error *err)
{
    class_ctx *c = ctx;
    ms_class_labels *l = c->l;
    long long cls;
    if (!parse_count(f[1], MS_LABELS_MAX_CLASS, &cls))
        return ms_errorf(err, MS_ERR_FORMAT, "%s: line %lld: class '%.40s' is not a whole number in [0, %d]", path, line,
                         f[1], MS_LABELS_MAX_CLASS);
    if (!*last_component(f[0])) return ms_errorf(err, MS_ERR_FORMAT, "%s: line %lld: file '%.200s' names a folder", path, line, f[0]);
    if (l->n == c->cap) {
        if (c->cap > (1 << 24)) return ms_errorf(err, MS_ERR_FORMAT, "%s: line %lld: more than %d rows", path, line, 1 << 24);
        int cap = c->cap ? 2 * c->cap : 256;
        char **files = realloc(l->files, (size_t)cap * sizeof *files);
        if (files) l->files = files;
        int *classes = files ? realloc(l->classes, (size_t)cap * sizeof *classes) : NULL;
        if (classes) l->classes = classes;
        if (!files || !classes) return ms_errorf(err, MS_ERR_NOMEM, "%s: out of memory", path);
        c->cap = cap;
    }
    if (!(l->files[l->n] = strdup(f[0]))) return ms_errorf(err, MS_ERR_NOMEM, "%s: out of memory", path);
    l->classes[l->n++] = (int)cls;
    return MS_OK;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(last_component(*(char *const *)a), last_component(*(char *const *)b));
}

/* Files appear once; and, since classify looks rows up by file name, names do too. */
static ms_status check_unique(const char *path, const ms_class_labels *l, ms_error *err)
{
    char **sorted = malloc((size_t)(l->n ? l->n : 1) * sizeof *sorted);
    if (!sorted) return ms_errorf(err, MS_ERR_NOMEM, "%s: out of memory", path);
    memcpy(sorted, l->files, (size_t)l->n * sizeof *sorted);
    qsort(sorted, (size_t)l->n, sizeof *sorted, by_name);
    ms_status s = MS_OK;
    for (int i = 1; i < l->n && !s; i++)
        if (!by_name(&sorted[i - 1], &sorted[i]))
            s = ms_errorf(err, MS_ERR_FORMAT, "%s: file name '%.200s' appears twice", path, last_component(sorted[i]));
    free(sorted);
    return s;
}

ms_status ms_class_labels_parse(const char *path, const char *text, size_t len, ms_class_labels *out, ms_error *err)
{
    memset(out, 0, sizeof *out);
    class_ctx c = {out, 0};
    ms_status s = parse_csv(path, text, len, "file,class", 2, class_row, &c, err);
    if (!s) s = check_unique(path, out, err);
    if (s) ms_class_labels_free(out);
    return s;
}

void ms_class_labels_free(ms_class_labels *l)
{
    for (int i = 0; i < l->n; i++) free(l->files[i]);
    free(l->files);
    free(l->classes);
    memset(l, 0, sizeof *l);
}

int ms_class_labels_find(const ms_class_labels *l, const char *name)
{
    const char *base = last_component(name);
    for (int i = 0; i < l->n; i++)
        if (!strcmp(last_component(l->files[i]), base)) return l->classes[i];
    return -1;
}

typedef ms_status (*parse_fn)(const char *path, const char *text, size_t len, void *out, ms_error *err);

static ms_status load(const char *path, parse_fn parse, void *out, ms_error *err)
{
    unsigned char *text;
    size_t size;
    ms_status s = ms_read_file(path, MS_LABELS_MAX_BYTES, &text, &size, err);
    if (s) return s;
    s = parse(path, (const char *)text, size, out, err);
    free(text);
    return s;
}

static ms_status parse_frames(const char *path, const char *text, size_t len, void *out, ms_error *err)
{
    return ms_frame_labels_parse(path, text, len, out, err);
}

static ms_status parse_classes(const char *path, const char *text, size_t len, void *out, ms_error *err)
{
    return ms_class_labels_parse(path, text, len, out, err);
}

ms_status ms_frame_labels_load(const char *path, ms_frame_labels *out, ms_error *err)
{
    memset(out, 0, sizeof *out);
    return load(path, parse_frames, out, err);
}

ms_status ms_class_labels_load(const char *path, ms_class_labels *out, ms_error *err)
{
    memset(out, 0, sizeof *out);
    return load(path, parse_classes, out, err);
}
