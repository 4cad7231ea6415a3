/* Loading base models: reading each file (with a size limit), importing it (ONNX by
 * extension or content, else TFLite), chaining
 * the parts and fingerprinting their bytes with SHA-256 (libavutil). */
#include "formats/model.h"

#include <libavutil/mem.h>
#include <libavutil/sha.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/file.h"
#include "formats/onnx.h"
#include "formats/tflite.h"

static bool same_shape(const ms_tensor *a, const ms_tensor *b)
{
    if (a->ndim != b->ndim) return false;
    for (int d = 0; d < a->ndim; d++)
        if (a->shape[d] != b->shape[d]) return false;
    return true;
}

static void shape_str(const ms_tensor *t, char *buf, size_t size)
{
    size_t n = (size_t)snprintf(buf, size, "[");
    for (int d = 0; d < t->ndim && n < size; d++)
        n += (size_t)snprintf(buf + n, size - n, "%s%lld", d ? ", " : "", (long long)t->shape[d]);
    if (n < size) snprintf(buf + n, size - n, "]");
}

ms_status ms_model_chain(ms_graph *g, ms_graph *next, ms_error *err)
{
    ms_status s = MS_OK;
    if (g->n_outputs != 1 || next->n_inputs != 1) {
        s = ms_errorf(err, MS_ERR_INVALID,
                      "%s: cannot chain after %s: it has %d inputs and the previous part %d outputs (need 1 and 1)",
                      next->source, g->source, next->n_inputs, g->n_outputs);
        ms_graph_free(next);
        return s;
    }
    if (g->nchw != next->nchw) {
        s = ms_errorf(err, MS_ERR_UNSUPPORTED, "%s: cannot chain after %s: one is ONNX (NCHW) and the other TFLite (NHWC)",
                      next->source, g->source);
        ms_graph_free(next);
        return s;
    }
    int joint = g->outputs[0], in = next->inputs[0];
    const ms_tensor *a = &g->tensors[joint], *b = &next->tensors[in];
    if (!same_shape(a, b)) {
        char sa[96], sb[96];
        shape_str(a, sa, sizeof sa);
        shape_str(b, sb, sizeof sb);
        s = ms_errorf(err, MS_ERR_INVALID, "%s: input tensor '%s' has shape %s but %s's output '%s' has %s",
                      next->source, b->name, sb, g->source, a->name, sa);
        ms_graph_free(next);
        return s;
    }
    int base = g->n_tensors;
    int *map = malloc(((size_t)next->n_tensors + 1) * sizeof *map);
    ms_tensor *tensors = realloc(g->tensors, ((size_t)base + (size_t)next->n_tensors) * sizeof *tensors);
    if (tensors) g->tensors = tensors;
    ms_node *nodes = tensors ? realloc(g->nodes, ((size_t)g->n_nodes + (size_t)next->n_nodes + 1) * sizeof *nodes) : NULL;
    if (nodes) g->nodes = nodes;
    if (!map || !tensors || !nodes) {
        free(map);
        ms_graph_free(next);
        return ms_errorf(err, MS_ERR_NOMEM, "chaining %s: out of memory", g->source);
    }
    /* move next's tensors (all but its input, which is g's output) and nodes into g */
    for (int i = 0; i < next->n_tensors; i++) {
        if (i == in) {
            map[i] = joint;
            continue;
        }
        map[i] = g->n_tensors;
        g->tensors[g->n_tensors++] = next->tensors[i];
        memset(&next->tensors[i], 0, sizeof next->tensors[i]);
    }
    for (int i = 0; i < next->n_nodes; i++) {
        ms_node *n = &next->nodes[i];
        for (int k = 0; k < n->n_inputs; k++)
            if (n->inputs[k] >= 0) n->inputs[k] = map[n->inputs[k]];
        n->output = map[n->output];
        g->nodes[g->n_nodes++] = *n;
    }
    next->n_nodes = 0;
    for (int i = 0; i < next->n_outputs; i++) next->outputs[i] = map[next->outputs[i]];
    free(g->outputs);
    g->outputs = next->outputs;
    g->n_outputs = next->n_outputs;
    next->outputs = NULL;
    next->n_outputs = 0;
    free(map);
    ms_graph_free(next);
    return MS_OK;
}

/* "a, b, c": the sources of all parts, for messages and M-Packages. */
static char *join_paths(const char *const *paths, int n)
{
    size_t len = 1;
    for (int i = 0; i < n; i++) len += strlen(paths[i]) + 2;
    char *s = malloc(len);
    if (!s) return NULL;
    s[0] = '\0';
    for (int i = 0; i < n; i++) {
        if (i) strcat(s, ", ");
        strcat(s, paths[i]);
    }
    return s;
}

ms_status ms_model_load(const char *const *paths, int n_paths, ms_graph **out, ms_error *err)
{
    *out = NULL;
    if (n_paths < 1) return ms_errorf(err, MS_ERR_INVALID, "no model files given");
    for (int i = 0; i < n_paths; i++)
        if (!paths[i]) return ms_errorf(err, MS_ERR_INVALID, "model file %d of %d has no name", i + 1, n_paths);
    struct AVSHA *sha = av_sha_alloc();
    if (!sha || av_sha_init(sha, 256) < 0) {
        av_free(sha);
        return ms_errorf(err, MS_ERR_NOMEM, "%s: cannot set up SHA-256", paths[0]);
    }
    ms_graph *g = NULL;
    ms_status s = MS_OK;
    for (int i = 0; i < n_paths && !s; i++) {
        unsigned char *data;
        size_t size;
        ms_graph *part;
        if ((s = ms_read_file(paths[i], MS_MODEL_MAX_BYTES, &data, &size, err))) break;
        av_sha_update(sha, data, size);
        if (ms_onnx_detect(paths[i], data, size)) s = ms_onnx_import(data, size, paths[i], NULL, &part, err);
        else s = ms_tflite_import(data, size, paths[i], &part, err);
        free(data);
        if (s) break;
        if (!g) {
            g = part;
            continue;
        }
        s = ms_model_chain(g, part, err);
    }
    if (!s) {
        free(g->source);
        if (!(g->source = join_paths(paths, n_paths)))
            s = ms_errorf(err, MS_ERR_NOMEM, "%s: out of memory", paths[0]);
    }
    if (!s) av_sha_final(sha, g->fingerprint);
    av_free(sha);
    if (s) {
        ms_graph_free(g);
        return s;
    }
    *out = g;
    return MS_OK;
}

static bool parse_three(const char *s, float out[3])
{
    for (int k = 0; k < 3; k++) {
        char *end;
        double v = strtod(s, &end);
        if (end == s || !isfinite(v)) return false;
        out[k] = (float)v;
        s = end;
        if (k < 2 && *s++ != ',') return false;
    }
    return *s == '\0';
}

ms_status ms_model_set_normalisation(ms_graph *g, const char *mean, const char *std, ms_error *err)
{
    if (!mean && !std) return MS_OK;
    float m[3] = {0, 0, 0}, sd[3] = {1, 1, 1};
    if (mean && !parse_three(mean, m))
        return ms_errorf(err, MS_ERR_INVALID, "--mean: '%s' is not three comma-separated numbers (R,G,B)", mean);
    if (std && (!parse_three(std, sd) || !(sd[0] > 0) || !(sd[1] > 0) || !(sd[2] > 0)))
        return ms_errorf(err, MS_ERR_INVALID, "--std: '%s' is not three comma-separated positive numbers (R,G,B)", std);
    ms_input_spec *sp = &g->input_spec;
    if (sp->channels != 3)
        return ms_errorf(err, MS_ERR_UNSUPPORTED, "--mean/--std: %s takes %d channels, not 3", g->source, sp->channels);
    sp->per_channel = true;
    for (int k = 0; k < 3; k++) {
        sp->chan_mean[k] = m[k] * 255.0f;
        sp->chan_scale[k] = 1.0f / (255.0f * sd[k]);
    }
    sp->origin = "the command line (--mean, --std)";
    return MS_OK;
}
