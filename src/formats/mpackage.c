/* M-Package files: the safetensors framing (8-byte little-endian header length, JSON
 * header, raw float32 data) and the "mainstream" metadata document, written with cJSON
 * through an atomic file and read back with every length, offset and field checked. */
#include "formats/mpackage.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/file.h"
#include "base/json.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "M-Package tensors are stored little-endian; this reader copies them as they lie"
#endif

#define META_KEY "mainstream"

static const char *pkg_name(const ms_mpackage *p) { return p->path ? p->path : "package"; }

ms_status ms_mpackage_new(const char *app, const ms_graph *base, ms_mpackage **out, ms_error *err)
{
    *out = NULL;
    ms_mpackage *p = calloc(1, sizeof *p);
    if (!p || !(p->app = strdup(app))) {
        free(p);
        return ms_errorf(err, MS_ERR_NOMEM, "out of memory creating package '%s'", app);
    }
    p->version = MS_MPACKAGE_VERSION;
    memcpy(p->base_fingerprint, base->fingerprint, sizeof p->base_fingerprint);
    p->input = base->input_spec;
    strcpy(p->resize, "crop");
    *out = p;
    return MS_OK;
}

void ms_mpackage_free(ms_mpackage *p)
{
    if (!p) return;
    for (int i = 0; i < p->n_tensors; i++) {
        free(p->tensors[i].name);
        free(p->tensors[i].data);
    }
    free(p->tensors);
    free(p->curve);
    free(p->events.lengths_ms);
    free(p->app);
    free(p->path);
    free(p);
}

void ms_fingerprint_hex(const uint8_t fp[32], char out[65])
{
    for (int i = 0; i < 32; i++) snprintf(out + 2 * i, 3, "%02x", fp[i]);
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

ms_status ms_fingerprint_parse(const char *hex, uint8_t out[32])
{
    if (strlen(hex) != 64) return MS_ERR_FORMAT;
    for (int i = 0; i < 32; i++) {
        int hi = hex_digit(hex[2 * i]), lo = hex_digit(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) return MS_ERR_FORMAT;
        out[i] = (uint8_t)(hi * 16 + lo);
    }
    return MS_OK;
}

/* ---- writing ---- */

/* cJSON's adders return NULL when an allocation fails; `ok` collects that. */
static void add_num(cJSON *o, const char *k, double v, bool *ok) { *ok &= cJSON_AddNumberToObject(o, k, v) != NULL; }
static void add_str(cJSON *o, const char *k, const char *v, bool *ok) { *ok &= cJSON_AddStringToObject(o, k, v) != NULL; }
static void add_bool(cJSON *o, const char *k, bool v, bool *ok) { *ok &= cJSON_AddBoolToObject(o, k, v) != NULL; }
static cJSON *add_obj(cJSON *o, const char *k, bool *ok)
{
    cJSON *c = cJSON_AddObjectToObject(o, k);
    *ok &= c != NULL;
    return c ? c : o; /* on failure keep filling the parent: `ok` already says it failed */
}

static void meta_curve(cJSON *root, const ms_mpackage *p, bool *ok)
{
    cJSON *arr = cJSON_AddArrayToObject(root, "curve");
    if (!arr) {
        *ok = false;
        return;
    }
    for (int i = 0; i < p->n_curve; i++) {
        const ms_curve_point *c = &p->curve[i];
        cJSON *o = cJSON_CreateObject();
        if (!o || !cJSON_AddItemToArray(arr, o)) {
            cJSON_Delete(o);
            *ok = false;
            return;
        }
        add_num(o, "chokepoint", c->chokepoint, ok);
        add_num(o, "tpr", c->tpr, ok);
        add_num(o, "fpr", c->fpr, ok);
        add_num(o, "positives", (double)c->positives, ok);
        add_num(o, "negatives", (double)c->negatives, ok);
        add_num(o, "threshold", c->threshold, ok);
    }
}

static void meta_events(cJSON *root, const ms_event_stats *e, bool *ok)
{
    cJSON *o = add_obj(root, "events", ok);
    add_bool(o, "known", e->known, ok);
    if (!e->known) return;
    add_num(o, "length_mean_ms", e->length_mean_ms, ok);
    cJSON *arr = e->n_lengths ? cJSON_CreateDoubleArray(e->lengths_ms, e->n_lengths) : cJSON_CreateArray();
    if (!arr || !cJSON_AddItemToObject(o, "lengths_ms", arr)) {
        cJSON_Delete(arr);
        *ok = false;
    }
    add_num(o, "frequency", e->frequency, ok);
    add_num(o, "events_per_minute", e->events_per_minute, ok);
    add_num(o, "correlation", e->correlation, ok);
    add_num(o, "frames", (double)e->frames, ok);
    add_num(o, "seconds", e->seconds, ok);
}

static void meta_training(cJSON *root, const ms_train_settings *t, bool *ok)
{
    cJSON *o = add_obj(root, "training", ok);
    char seed[32];
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)t->seed);
    add_str(o, "optimizer", t->optimizer, ok);
    add_str(o, "schedule", t->schedule, ok);
    add_num(o, "epochs", t->epochs, ok);
    add_num(o, "batch", t->batch, ok);
    add_num(o, "lr", t->lr, ok);
    add_num(o, "momentum", t->momentum, ok);
    add_num(o, "weight_decay", t->weight_decay, ok);
    add_str(o, "seed", seed, ok); /* a string: JSON numbers lose 64-bit integers */
    add_bool(o, "augment", t->augment, ok);
    add_num(o, "train_frames", (double)t->train_frames, ok);
    add_num(o, "val_frames", (double)t->val_frames, ok);
    add_num(o, "base_lr_scale", t->base_lr_scale, ok);
}

/* The metadata document as one JSON string. */
static char *meta_text(const ms_mpackage *p)
{
    cJSON *root = cJSON_CreateObject();
    if (!root) return NULL;
    bool ok = true;
    char fp[65];
    ms_fingerprint_hex(p->base_fingerprint, fp);
    add_num(root, "format_version", p->version, &ok);
    add_str(root, "app", p->app, &ok);
    add_str(root, "base_fingerprint", fp, &ok);
    cJSON *in = add_obj(root, "input", &ok);
    add_num(in, "height", p->input.height, &ok);
    add_num(in, "width", p->input.width, &ok);
    add_num(in, "channels", p->input.channels, &ok);
    add_num(in, "mean", p->input.mean, &ok);
    add_num(in, "scale", p->input.scale, &ok);
    add_bool(in, "bgr", p->input.bgr, &ok);
    if (p->input.per_channel) {
        cJSON *m = cJSON_CreateFloatArray(p->input.chan_mean, 3), *sc = cJSON_CreateFloatArray(p->input.chan_scale, 3);
        ok &= m && sc && cJSON_AddItemToObject(in, "chan_mean", m) && cJSON_AddItemToObject(in, "chan_scale", sc);
    }
    add_str(in, "resize", p->resize, &ok);
    meta_curve(root, p, &ok);
    meta_events(root, &p->events, &ok);
    meta_training(root, &p->training, &ok);
    char *text = ok ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    return text;
}

/* The safetensors header: metadata plus one entry per tensor, data laid out in order.
 * Padded with spaces to a multiple of 8 bytes so the data starts aligned. */
static char *header_text(const ms_mpackage *p, size_t *len)
{
    char *meta = meta_text(p);
    cJSON *root = cJSON_CreateObject();
    cJSON *md = root ? cJSON_AddObjectToObject(root, "__metadata__") : NULL;
    bool ok = meta && md && cJSON_AddStringToObject(md, META_KEY, meta);
    free(meta);
    size_t offset = 0;
    for (int i = 0; ok && i < p->n_tensors; i++) {
        const ms_mpackage_tensor *t = &p->tensors[i];
        cJSON *o = cJSON_AddObjectToObject(root, t->name);
        size_t bytes = sizeof(float);
        for (int d = 0; d < t->ndim; d++) bytes *= (size_t)t->shape[d];
        double shape[MS_MAX_DIMS], offsets[2] = {(double)offset, (double)(offset + bytes)};
        for (int d = 0; d < t->ndim; d++) shape[d] = (double)t->shape[d];
        cJSON *s = cJSON_CreateDoubleArray(shape, t->ndim), *off = cJSON_CreateDoubleArray(offsets, 2);
        ok = o && s && off && cJSON_AddStringToObject(o, "dtype", "F32");
        ok = ok && cJSON_AddItemToObject(o, "shape", s);
        if (!ok) cJSON_Delete(s);
        ok = ok && cJSON_AddItemToObject(o, "data_offsets", off);
        if (!ok) cJSON_Delete(off);
        offset += bytes;
    }
    char *text = ok ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    if (!text) return NULL;
    size_t n = strlen(text), padded = (n + 7) / 8 * 8;
    char *buf = realloc(text, padded + 1);
    if (!buf) {
        free(text);
        return NULL;
    }
    memset(buf + n, ' ', padded - n);
    buf[padded] = '\0';
    *len = padded;
    return buf;
}

ms_status ms_mpackage_save(const ms_mpackage *p, const char *path, ms_error *err)
{
    size_t hlen;
    char *header = header_text(p, &hlen);
    if (!header) return ms_errorf(err, MS_ERR_NOMEM, "%s: out of memory writing the package header", path);
    ms_atomic_file f;
    ms_status s = ms_atomic_open(&f, path, err);
    if (s) {
        free(header);
        return s;
    }
    uint8_t len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (uint8_t)((uint64_t)hlen >> (8 * i));
    bool ok = fwrite(len8, 1, 8, f.fp) == 8 && fwrite(header, 1, hlen, f.fp) == hlen;
    free(header);
    for (int i = 0; ok && i < p->n_tensors; i++) {
        const ms_mpackage_tensor *t = &p->tensors[i];
        size_t n = 1;
        for (int d = 0; d < t->ndim; d++) n *= (size_t)t->shape[d];
        ok = fwrite(t->data, sizeof(float), n, f.fp) == n;
    }
    if (!ok) {
        ms_atomic_abort(&f);
        return ms_errorf(err, MS_ERR_IO, "%s: write failed", path);
    }
    return ms_atomic_commit(&f, err);
}

/* ---- reading ---- */

static ms_status meta_input(const cJSON *root, const char *path, ms_input_spec *in, char resize[8], ms_error *err)
{
    char where[1100];
    snprintf(where, sizeof where, "%s: metadata.input", path);
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(root, "input");
    if (!cJSON_IsObject(o)) return ms_errorf(err, MS_ERR_FORMAT, "%s: metadata: field \"input\" must be an object", path);
    int64_t h, w, c;
    double mean, scale;
    ms_status s;
    if ((s = ms_json_int(o, where, "height", &h, err)) || (s = ms_json_int(o, where, "width", &w, err)) ||
        (s = ms_json_int(o, where, "channels", &c, err)) || (s = ms_json_number(o, where, "mean", &mean, err)) ||
        (s = ms_json_number(o, where, "scale", &scale, err)))
        return s;
    if (h < 1 || w < 1 || h > 65536 || w > 65536 || (c != 1 && c != 3))
        return ms_errorf(err, MS_ERR_FORMAT, "%s: %lldx%lldx%lld is not an image size", where, (long long)h,
                         (long long)w, (long long)c);
    const cJSON *bgr = cJSON_GetObjectItemCaseSensitive(o, "bgr");
    if (bgr && !cJSON_IsBool(bgr)) return ms_errorf(err, MS_ERR_FORMAT, "%s: field \"bgr\" must be true or false", where);
    const char *fit;
    if ((s = ms_json_string(o, where, "resize", &fit, err))) return s;
    if (strcmp(fit, "crop") && strcmp(fit, "stretch"))
        return ms_errorf(err, MS_ERR_FORMAT, "%s: field \"resize\" must be \"crop\" or \"stretch\"", where);
    strcpy(resize, fit);
    *in = (ms_input_spec){.height = (int)h, .width = (int)w, .channels = (int)c, .mean = (float)mean, .scale = (float)scale, .bgr = cJSON_IsTrue(bgr)};
    /* optional: per-channel normalisation (ONNX bases), three numbers each */
    const cJSON *cm = cJSON_GetObjectItemCaseSensitive(o, "chan_mean"), *cs = cJSON_GetObjectItemCaseSensitive(o, "chan_scale");
    if (!cm && !cs) return MS_OK;
    if (!cJSON_IsArray(cm) || !cJSON_IsArray(cs) || cJSON_GetArraySize(cm) != 3 || cJSON_GetArraySize(cs) != 3)
        return ms_errorf(err, MS_ERR_FORMAT, "%s: fields \"chan_mean\" and \"chan_scale\" must both be arrays of 3 numbers", where);
    for (int k = 0; k < 3; k++) {
        const cJSON *a = cJSON_GetArrayItem(cm, k), *b = cJSON_GetArrayItem(cs, k);
        if (!cJSON_IsNumber(a) || !cJSON_IsNumber(b) || !isfinite(a->valuedouble) || !(b->valuedouble > 0) || !isfinite(b->valuedouble))
            return ms_errorf(err, MS_ERR_FORMAT, "%s: chan_mean[%d] / chan_scale[%d] must be finite (scale > 0)", where, k, k);
        in->chan_mean[k] = (float)a->valuedouble;
        in->chan_scale[k] = (float)b->valuedouble;
    }
    in->per_channel = true;
    return MS_OK;
}

static ms_status rate(const cJSON *o, const char *where, const char *field, double *out, ms_error *err)
{
    ms_status s = ms_json_number(o, where, field, out, err);
    if (!s && (*out < 0 || *out > 1))
        return ms_errorf(err, MS_ERR_FORMAT, "%s: field \"%s\" = %g is not in [0, 1]", where, field, *out);
    return s;
}

static ms_status count(const cJSON *o, const char *where, const char *field, int64_t *out, ms_error *err)
{
    ms_status s = ms_json_int(o, where, field, out, err);
    if (!s && *out < 0) return ms_errorf(err, MS_ERR_FORMAT, "%s: field \"%s\" must not be negative", where, field);
    return s;
}

static ms_status meta_curve_point(const cJSON *o, const char *where, ms_curve_point *c, ms_error *err)
{
    int64_t cp;
    ms_status s;
    if (!cJSON_IsObject(o)) return ms_errorf(err, MS_ERR_FORMAT, "%s: must be an object", where);
    if ((s = count(o, where, "chokepoint", &cp, err)) || (s = rate(o, where, "tpr", &c->tpr, err)) ||
        (s = rate(o, where, "fpr", &c->fpr, err)) || (s = count(o, where, "positives", &c->positives, err)) ||
        (s = count(o, where, "negatives", &c->negatives, err)) ||
        (s = rate(o, where, "threshold", &c->threshold, err)))
        return s;
    if (cp > 100000) return ms_errorf(err, MS_ERR_FORMAT, "%s: chokepoint %lld is out of range", where, (long long)cp);
    c->chokepoint = (int)cp;
    return MS_OK;
}

static ms_status meta_curve_read(const cJSON *root, const char *path, ms_mpackage *p, ms_error *err)
{
    char where[1100];
    snprintf(where, sizeof where, "%s: metadata", path);
    const cJSON *arr;
    ms_status s = ms_json_array(root, where, "curve", &arr, err);
    if (s) return s;
    int n = cJSON_GetArraySize(arr);
    p->curve = calloc((size_t)n + 1, sizeof *p->curve);
    if (!p->curve) return ms_errorf(err, MS_ERR_NOMEM, "%s: out of memory", path);
    const cJSON *o;
    cJSON_ArrayForEach(o, arr)
    {
        snprintf(where, sizeof where, "%s: metadata.curve[%d]", path, p->n_curve);
        ms_curve_point *c = &p->curve[p->n_curve];
        if ((s = meta_curve_point(o, where, c, err))) return s;
        if (p->n_curve > 0 && c->chokepoint <= c[-1].chokepoint)
            return ms_errorf(err, MS_ERR_FORMAT, "%s: chokepoint %d does not follow %d in increasing order", where,
                             c->chokepoint, c[-1].chokepoint);
        p->n_curve++;
    }
    return MS_OK;
}

static ms_status meta_events_read(const cJSON *root, const char *path, ms_event_stats *e, ms_error *err)
{
    char where[1100];
    snprintf(where, sizeof where, "%s: metadata.events", path);
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(root, "events");
    const cJSON *known = cJSON_GetObjectItemCaseSensitive(o, "known");
    if (!cJSON_IsObject(o) || !cJSON_IsBool(known))
        return ms_errorf(err, MS_ERR_FORMAT, "%s: must be an object with a boolean \"known\"", where);
    e->known = cJSON_IsTrue(known);
    if (!e->known) return MS_OK;
    const cJSON *arr;
    ms_status s;
    if ((s = ms_json_number(o, where, "length_mean_ms", &e->length_mean_ms, err)) ||
        (s = rate(o, where, "frequency", &e->frequency, err)) ||
        (s = ms_json_number(o, where, "events_per_minute", &e->events_per_minute, err)) ||
        (s = rate(o, where, "correlation", &e->correlation, err)) || (s = count(o, where, "frames", &e->frames, err)) ||
        (s = ms_json_number(o, where, "seconds", &e->seconds, err)) ||
        (s = ms_json_array(o, where, "lengths_ms", &arr, err)))
        return s;
    int n = cJSON_GetArraySize(arr);
    e->lengths_ms = malloc(((size_t)n + 1) * sizeof *e->lengths_ms);
    if (!e->lengths_ms) return ms_errorf(err, MS_ERR_NOMEM, "%s: out of memory", path);
    const cJSON *v;
    cJSON_ArrayForEach(v, arr)
    {
        if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < 0)
            return ms_errorf(err, MS_ERR_FORMAT, "%s: lengths_ms[%d] must be a non-negative number", where, e->n_lengths);
        e->lengths_ms[e->n_lengths++] = v->valuedouble;
    }
    return MS_OK;
}

static ms_status meta_training_read(const cJSON *root, const char *path, ms_train_settings *t, ms_error *err)
{
    char where[1100];
    snprintf(where, sizeof where, "%s: metadata.training", path);
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(root, "training");
    if (!cJSON_IsObject(o)) return ms_errorf(err, MS_ERR_FORMAT, "%s: must be an object", where);
    const char *opt = "", *sched = "", *seed = "0";
    int64_t epochs = 0, batch = 0;
    ms_status s;
    if ((s = ms_json_string_opt(o, where, "optimizer", &opt, err)) ||
        (s = ms_json_string_opt(o, where, "schedule", &sched, err)) ||
        (s = ms_json_string_opt(o, where, "seed", &seed, err)) || (s = ms_json_int_opt(o, where, "epochs", &epochs, err)) ||
        (s = ms_json_int_opt(o, where, "batch", &batch, err)) || (s = ms_json_number_opt(o, where, "lr", &t->lr, err)) ||
        (s = ms_json_number_opt(o, where, "momentum", &t->momentum, err)) ||
        (s = ms_json_number_opt(o, where, "weight_decay", &t->weight_decay, err)) ||
        (s = ms_json_int_opt(o, where, "train_frames", &t->train_frames, err)) ||
        (s = ms_json_int_opt(o, where, "val_frames", &t->val_frames, err)))
        return s;
    t->base_lr_scale = 1; /* packages written before the option trained every layer alike */
    if ((s = ms_json_number_opt(o, where, "base_lr_scale", &t->base_lr_scale, err))) return s;
    if (!(t->base_lr_scale > 0 && t->base_lr_scale <= 1e3))
        return ms_errorf(err, MS_ERR_FORMAT, "%s: base_lr_scale must be in (0, 1000], not %g", where, t->base_lr_scale);
    snprintf(t->optimizer, sizeof t->optimizer, "%s", opt);
    snprintf(t->schedule, sizeof t->schedule, "%s", sched);
    t->seed = strtoull(seed, NULL, 10);
    t->epochs = (int)(epochs < 0 || epochs > 1000000 ? 0 : epochs);
    t->batch = (int)(batch < 0 || batch > 1000000 ? 0 : batch);
    t->augment = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "augment"));
    return MS_OK;
}

static ms_status meta_read(const char *text, const char *path, ms_mpackage *p, ms_error *err)
{
    cJSON *root = cJSON_Parse(text);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return ms_errorf(err, MS_ERR_FORMAT, "%s: __metadata__.%s is not a JSON object", path, META_KEY);
    }
    char where[1100];
    snprintf(where, sizeof where, "%s: metadata", path);
    int64_t version;
    const char *app, *fp;
    ms_status s;
    if ((s = ms_json_int(root, where, "format_version", &version, err))) goto done;
    if (version != MS_MPACKAGE_VERSION) {
        s = ms_errorf(err, MS_ERR_UNSUPPORTED, "%s: format_version %lld, this build reads version %d", where,
                      (long long)version, MS_MPACKAGE_VERSION);
        goto done;
    }
    p->version = (int)version;
    if ((s = ms_json_string(root, where, "app", &app, err)) || (s = ms_json_string(root, where, "base_fingerprint", &fp, err)))
        goto done;
    if (ms_fingerprint_parse(fp, p->base_fingerprint)) {
        s = ms_errorf(err, MS_ERR_FORMAT, "%s: field \"base_fingerprint\" must be 64 hex digits", where);
        goto done;
    }
    if (!(p->app = strdup(app))) {
        s = ms_errorf(err, MS_ERR_NOMEM, "%s: out of memory", path);
        goto done;
    }
    if ((s = meta_input(root, path, &p->input, p->resize, err)) || (s = meta_curve_read(root, path, p, err)) ||
        (s = meta_events_read(root, path, &p->events, err)) || (s = meta_training_read(root, path, &p->training, err)))
        goto done;
done:
    cJSON_Delete(root);
    return s;
}

/* "cpNN/LAYER/weight" or ".../bias": the chokepoint, or -1 when the name is not one. */
static int name_chokepoint(const char *name)
{
    if (strncmp(name, "cp", 2) || name[2] < '0' || name[2] > '9') return -1;
    char *end;
    long cp = strtol(name + 2, &end, 10);
    const char *last = strrchr(name, '/');
    if (*end != '/' || cp > 100000 || !last || last == end || last == end + 1) return -1;
    if (strcmp(last, "/weight") && strcmp(last, "/bias")) return -1;
    return (int)cp;
}

static ms_status tensor_read(const cJSON *o, const char *path, const uint8_t *data, size_t data_size,
                             ms_mpackage *p, ms_error *err)
{
    const char *name = o->string;
    int cp = name_chokepoint(name);
    if (cp < 0)
        return ms_errorf(err, MS_ERR_FORMAT, "%s: tensor \"%s\": name is not cpNN/LAYER/weight or cpNN/LAYER/bias",
                         path, name);
    if (!ms_mpackage_point(p, cp))
        return ms_errorf(err, MS_ERR_FORMAT, "%s: tensor \"%s\": chokepoint %d has no point in metadata.curve", path,
                         name, cp);
    for (int i = 0; i < p->n_tensors; i++)
        if (!strcmp(p->tensors[i].name, name))
            return ms_errorf(err, MS_ERR_FORMAT, "%s: tensor \"%s\" appears twice", path, name);
    const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(o, "dtype");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(o, "shape");
    const cJSON *offs = cJSON_GetObjectItemCaseSensitive(o, "data_offsets");
    if (!cJSON_IsObject(o) || !cJSON_IsString(dtype) || !cJSON_IsArray(shape) || !cJSON_IsArray(offs))
        return ms_errorf(err, MS_ERR_FORMAT, "%s: tensor \"%s\": needs dtype, shape and data_offsets", path, name);
    if (strcmp(dtype->valuestring, "F32"))
        return ms_errorf(err, MS_ERR_FORMAT, "%s: tensor \"%s\": dtype \"%s\" is not F32", path, name,
                         dtype->valuestring);
    ms_mpackage_tensor *t = &p->tensors[p->n_tensors];
    t->ndim = cJSON_GetArraySize(shape);
    if (t->ndim > MS_MAX_DIMS)
        return ms_errorf(err, MS_ERR_FORMAT, "%s: tensor \"%s\": shape has %d dimensions, at most %d", path, name,
                         t->ndim, MS_MAX_DIMS);
    uint64_t numel = 1;
    for (int d = 0; d < t->ndim; d++) {
        const cJSON *v = cJSON_GetArrayItem(shape, d);
        if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > (double)(1 << 30) ||
            v->valuedouble != floor(v->valuedouble))
            return ms_errorf(err, MS_ERR_FORMAT, "%s: tensor \"%s\": shape[%d] is not a dimension", path, name, d);
        t->shape[d] = (int64_t)v->valuedouble;
        numel *= (uint64_t)t->shape[d];
        if (numel > MS_MPACKAGE_MAX_BYTES)
            return ms_errorf(err, MS_ERR_FORMAT, "%s: tensor \"%s\": shape is too large", path, name);
    }
    const cJSON *b = cJSON_GetArrayItem(offs, 0), *e = cJSON_GetArrayItem(offs, 1);
    if (cJSON_GetArraySize(offs) != 2 || !cJSON_IsNumber(b) || !cJSON_IsNumber(e) || b->valuedouble < 0 ||
        e->valuedouble < b->valuedouble || e->valuedouble > (double)data_size || b->valuedouble != floor(b->valuedouble) ||
        e->valuedouble != floor(e->valuedouble))
        return ms_errorf(err, MS_ERR_FORMAT, "%s: tensor \"%s\": data_offsets are not a range within the %zu data bytes",
                         path, name, data_size);
    size_t begin = (size_t)b->valuedouble, end = (size_t)e->valuedouble;
    if (end - begin != numel * sizeof(float))
        return ms_errorf(err, MS_ERR_FORMAT, "%s: tensor \"%s\": data_offsets span %zu bytes, its shape needs %llu", path,
                         name, end - begin, (unsigned long long)(numel * sizeof(float)));
    t->name = strdup(name);
    t->data = malloc(end - begin + 1);
    if (!t->name || !t->data) {
        free(t->name);
        free(t->data);
        return ms_errorf(err, MS_ERR_NOMEM, "%s: out of memory for tensor \"%s\"", path, name);
    }
    memcpy(t->data, data + begin, end - begin);
    for (size_t i = 0; i < numel; i++)
        if (!isfinite(t->data[i])) {
            p->n_tensors++; /* owned now: freed with p */
            return ms_errorf(err, MS_ERR_FORMAT, "%s: tensor \"%s\": element %zu is not finite", path, name, i);
        }
    p->n_tensors++;
    return MS_OK;
}

/* Tensors' byte ranges must not overlap (each byte of data belongs to one tensor). */
static int cmp_range(const void *a, const void *b)
{
    const size_t *x = a, *y = b;
    return x[0] < y[0] ? -1 : x[0] > y[0];
}

static ms_status check_overlaps(const cJSON *header, const ms_mpackage *p, const char *path, ms_error *err)
{
    size_t (*r)[2] = malloc(((size_t)p->n_tensors + 1) * sizeof *r);
    if (!r) return ms_errorf(err, MS_ERR_NOMEM, "%s: out of memory", path);
    int n = 0;
    const cJSON *o;
    cJSON_ArrayForEach(o, header)
    {
        if (!strcmp(o->string, "__metadata__")) continue;
        const cJSON *offs = cJSON_GetObjectItemCaseSensitive(o, "data_offsets");
        r[n][0] = (size_t)cJSON_GetArrayItem(offs, 0)->valuedouble;
        r[n][1] = (size_t)cJSON_GetArrayItem(offs, 1)->valuedouble;
        n++;
    }
    qsort(r, (size_t)n, sizeof *r, cmp_range);
    for (int i = 1; i < n; i++)
        if (r[i][0] < r[i - 1][1]) {
            size_t at = r[i][0];
            free(r);
            return ms_errorf(err, MS_ERR_FORMAT, "%s: two tensors' data_offsets overlap at byte %zu", path, at);
        }
    free(r);
    return MS_OK;
}

static ms_status header_read(const cJSON *header, const char *path, const uint8_t *data, size_t data_size,
                             ms_mpackage *p, ms_error *err)
{
    if (!cJSON_IsObject(header)) return ms_errorf(err, MS_ERR_FORMAT, "%s: safetensors header is not a JSON object", path);
    const cJSON *md = cJSON_GetObjectItemCaseSensitive(header, "__metadata__");
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(md, META_KEY);
    if (!cJSON_IsObject(md) || !cJSON_IsString(meta))
        return ms_errorf(err, MS_ERR_FORMAT, "%s: header has no __metadata__.%s string (not an M-Package?)", path,
                         META_KEY);
    ms_status s = meta_read(meta->valuestring, path, p, err);
    if (s) return s;
    int n = cJSON_GetArraySize(header) - 1;
    p->tensors = calloc((size_t)n + 1, sizeof *p->tensors);
    if (!p->tensors) return ms_errorf(err, MS_ERR_NOMEM, "%s: out of memory", path);
    const cJSON *o;
    cJSON_ArrayForEach(o, header)
    {
        if (strcmp(o->string, "__metadata__") && (s = tensor_read(o, path, data, data_size, p, err))) return s;
    }
    if ((s = check_overlaps(header, p, path, err))) return s;
    for (int i = 0; i < p->n_curve; i++) {
        char w[64], b[64];
        snprintf(w, sizeof w, "cp%02d/%s/weight", p->curve[i].chokepoint, MS_MPACKAGE_HEAD);
        snprintf(b, sizeof b, "cp%02d/%s/bias", p->curve[i].chokepoint, MS_MPACKAGE_HEAD);
        bool hw = false, hb = false;
        for (int k = 0; k < p->n_tensors; k++) {
            hw |= !strcmp(p->tensors[k].name, w);
            hb |= !strcmp(p->tensors[k].name, b);
        }
        if (!hw || !hb)
            return ms_errorf(err, MS_ERR_FORMAT, "%s: metadata.curve[%d]: chokepoint %d has no tensor \"%s\"", path, i,
                             p->curve[i].chokepoint, hw ? b : w);
    }
    return MS_OK;
}

ms_status ms_mpackage_load(const char *path, ms_mpackage **out, ms_error *err)
{
    *out = NULL;
    unsigned char *buf;
    size_t size;
    ms_status s = ms_read_file(path, MS_MPACKAGE_MAX_BYTES, &buf, &size, err);
    if (s) return s;
    s = ms_mpackage_parse(buf, size, path, out, err);
    free(buf);
    return s;
}

ms_status ms_mpackage_parse(const uint8_t *buf, size_t size, const char *path, ms_mpackage **out, ms_error *err)
{
    *out = NULL;
    ms_status s;
    if (size < 8) {
        return ms_errorf(err, MS_ERR_FORMAT, "%s: %zu bytes, too short for the 8-byte header length", path, size);
    }
    uint64_t hlen = 0;
    for (int i = 0; i < 8; i++) hlen |= (uint64_t)buf[i] << (8 * i);
    if (hlen < 2 || hlen > size - 8) {
        return ms_errorf(err, MS_ERR_FORMAT, "%s: header length %llu does not fit the %zu bytes after it", path,
                         (unsigned long long)hlen, size - 8);
    }
    const char *end = NULL;
    cJSON *header = cJSON_ParseWithLengthOpts((const char *)buf + 8, (size_t)hlen, &end, false);
    const char *hend = (const char *)buf + 8 + hlen;
    while (header && end < hend && (*end == ' ' || *end == '\n' || *end == '\t' || *end == '\r')) end++;
    if (!header || end != hend) {
        cJSON_Delete(header);
        return ms_errorf(err, MS_ERR_FORMAT, "%s: safetensors header (bytes 8 to %llu) is not one JSON object", path,
                         (unsigned long long)(8 + hlen));
    }
    ms_mpackage *p = calloc(1, sizeof *p);
    if (!p || !(p->path = strdup(path))) {
        free(p);
        cJSON_Delete(header);
        return ms_errorf(err, MS_ERR_NOMEM, "%s: out of memory", path);
    }
    s = header_read(header, path, buf + 8 + hlen, size - 8 - (size_t)hlen, p, err);
    cJSON_Delete(header);
    if (s) {
        ms_mpackage_free(p);
        return s;
    }
    *out = p;
    return MS_OK;
}

const ms_curve_point *ms_mpackage_point(const ms_mpackage *p, int chokepoint)
{
    for (int i = 0; i < p->n_curve; i++)
        if (p->curve[i].chokepoint == chokepoint) return &p->curve[i];
    return NULL;
}

ms_status ms_mpackage_check_base(const ms_mpackage *p, const ms_graph *base, ms_error *err)
{
    if (!memcmp(p->base_fingerprint, base->fingerprint, sizeof base->fingerprint)) return MS_OK;
    char want[65], have[65];
    ms_fingerprint_hex(p->base_fingerprint, want);
    ms_fingerprint_hex(base->fingerprint, have);
    return ms_errorf(err, MS_ERR_INVALID,
                     "%s: app '%s' was trained on base model fingerprint %s, but %s has fingerprint %s", pkg_name(p),
                     p->app, want, base->source ? base->source : "the model", have);
}
