/* `mainstream inspect MODEL...`: loads a model (several files are chained into one
 * network) and prints its layers, totals and chokepoints, as a table or as JSON. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "formats/model.h"
#include "graph/cut.h"
#include "graph/graph.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: mainstream inspect [--json] [--mean R,G,B --std R,G,B] MODEL...   (or --model MODEL, repeatable)\n"
            "\n"
            "Prints the layers of MODEL (index, op, name, output shape, parameters, multiply-adds),\n"
            "the totals and the chokepoints: the cuts where one tensor carries all state, at which\n"
            "apps can share the layers before and fine-tune the layers after. Several files are\n"
            "chained into one network (e.g. a feature extractor and its classifier head).\n"
            "\n"
            "  --json         print one JSON object instead of tables\n"
            "  --model FILE   a model file (the same as a MODEL argument; files chain in order)\n"
            "  --mean R,G,B --std R,G,B   the input normalisation (pixels / 255 scale) when the\n"
            "                 model does not carry it (ONNX metadata_props); the table says where it came from\n"
            "  -q, -v         fewer or more log messages\n"
            "\n"
            "Example:\n"
            "  mainstream inspect $MAINSTREAM_DATA/models/mobilenet_v1_0.25_128_quant.tflite\n");
}

/* A node's parameters: elements of the constants it reads (a reshape's target shape
 * excluded), as ms_graph_params counts them. */
static int64_t node_params(const ms_graph *g, const ms_node *n, const bool *is_state)
{
    int64_t total = 0;
    int used = n->kind == MS_OP_RESHAPE ? 1 : n->n_inputs;
    for (int j = 0; j < used && j < n->n_inputs; j++) {
        const ms_tensor *t = &g->tensors[n->inputs[j]];
        if (!is_state[n->inputs[j]] && t->data) total += ms_tensor_numel(t);
    }
    return total;
}

/* Graph inputs and node outputs: the tensors that are not constants. */
static bool *state_tensors(const ms_graph *g)
{
    bool *s = calloc((size_t)g->n_tensors + 1, sizeof *s);
    if (!s) return NULL;
    for (int i = 0; i < g->n_inputs; i++)
        if (g->inputs[i] >= 0 && g->inputs[i] < g->n_tensors) s[g->inputs[i]] = true;
    for (int k = 0; k < g->n_nodes; k++)
        if (g->nodes[k].output >= 0 && g->nodes[k].output < g->n_tensors) s[g->nodes[k].output] = true;
    return s;
}

static void format_shape(const ms_tensor *t, char *buf, size_t size)
{
    size_t len = (size_t)snprintf(buf, size, "[");
    for (int d = 0; d < t->ndim && len < size; d++)
        len += (size_t)snprintf(buf + len, size - len, "%s%lld", d ? "," : "", (long long)t->shape[d]);
    if (len < size) snprintf(buf + len, size - len, "]");
}

/* TFLite names a fused layer by all the ops folded into it, joined by ';': the table
 * shows the first (e.g. ".../Conv2d_1_pointwise/Relu6"); JSON keeps the whole name. */
static int short_name_len(const char *name)
{
    const char *semi = strchr(name, ';');
    return semi ? (int)(semi - name) : (int)strlen(name);
}

/* The op as the table shows it: depthwise convolutions are marked. */
static const char *op_label(const ms_graph *g, const ms_node *n)
{
    if (n->kind == MS_OP_CONV2D && n->groups > 1 && n->n_inputs > 0) {
        const ms_tensor *x = &g->tensors[n->inputs[0]];
        if (x->ndim > 0 && x->shape[x->ndim - 1] == n->groups) return "conv2d dw";
    }
    return ms_op_name(n->kind);
}

static void print_tensors(const ms_graph *g, const char *label, const int *ids, int n)
{
    for (int i = 0; i < n; i++) {
        const ms_tensor *t = &g->tensors[ids[i]];
        char shape[96];
        format_shape(t, shape, sizeof shape);
        printf("%-8s %.*s %s %s\n", i ? "" : label, short_name_len(t->name), t->name, shape, ms_dtype_name(t->dtype));
    }
}

/* How pixels become the input, and where that came from. */
static void print_input_spec(const ms_input_spec *sp, bool nchw)
{
    if (sp->per_channel)
        printf("input:   x[c] = (pixel[c] - (%g, %g, %g)[c]) * (%g, %g, %g)[c], %s", sp->chan_mean[0], sp->chan_mean[1],
               sp->chan_mean[2], sp->chan_scale[0], sp->chan_scale[1], sp->chan_scale[2], sp->bgr ? "BGR" : "RGB");
    else
        printf("input:   x = (pixel - %g) * %g, %s", sp->mean, sp->scale, sp->bgr ? "BGR" : "RGB");
    printf("%s; from %s\n", nchw ? ", NCHW in the file (NHWC here)" : "", sp->origin ? sp->origin : "the model file");
}

static void print_table(const ms_graph *g, const bool *is_state, const ms_chokepoint *cps, int n_cps,
                        const char *cp_error)
{
    char shape[96];
    printf("model: %s\n", g->source ? g->source : "");
    print_tensors(g, "inputs:", g->inputs, g->n_inputs);
    print_tensors(g, "outputs:", g->outputs, g->n_outputs);
    print_input_spec(&g->input_spec, g->nchw);
    printf("\n%5s  %-16s %-52s %-18s %10s %12s\n", "index", "op", "name", "shape", "params", "MACs");
    for (int k = 0; k < g->n_nodes; k++) {
        const ms_node *n = &g->nodes[k];
        format_shape(&g->tensors[n->output], shape, sizeof shape);
        printf("%5d  %-16s %-52.*s %-18s %10lld %12lld\n", k, op_label(g, n), short_name_len(n->name), n->name, shape,
               (long long)node_params(g, n, is_state), (long long)ms_node_macs(g, n));
    }
    printf("total: %d layers, %lld params, %lld MACs\n", g->n_nodes, (long long)ms_graph_params(g),
           (long long)ms_graph_macs(g));
    if (cp_error) {
        printf("\nchokepoints: none (%s)\n", cp_error);
        return;
    }
    printf("\nchokepoints (%d; cut = layers before it):\n", n_cps);
    printf("%5s  %5s  %-52s %-18s %12s %12s\n", "index", "cut", "tensor", "shape", "MACs before", "MACs after");
    for (int i = 0; i < n_cps; i++) {
        const ms_tensor *t = &g->tensors[cps[i].tensor];
        format_shape(t, shape, sizeof shape);
        printf("%5d  %5d  %-52.*s %-18s %12lld %12lld\n", i, cps[i].node_end, short_name_len(t->name), t->name, shape,
               (long long)cps[i].macs_before, (long long)cps[i].macs_after);
    }
}

static cJSON *shape_json(const ms_tensor *t)
{
    cJSON *a = cJSON_CreateArray();
    for (int d = 0; a && d < t->ndim; d++) cJSON_AddItemToArray(a, cJSON_CreateNumber((double)t->shape[d]));
    return a;
}

static cJSON *tensors_json(const ms_graph *g, const int *ids, int n)
{
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; a && i < n; i++) {
        const ms_tensor *t = &g->tensors[ids[i]];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToArray(a, o);
        cJSON_AddStringToObject(o, "name", t->name);
        cJSON_AddItemToObject(o, "shape", shape_json(t));
        cJSON_AddStringToObject(o, "dtype", ms_dtype_name(t->dtype));
    }
    return a;
}

/* "inputs" lists the activations a layer reads (its constants are counted in "params"). */
static cJSON *layers_json(const ms_graph *g, const bool *is_state)
{
    cJSON *a = cJSON_CreateArray();
    for (int k = 0; a && k < g->n_nodes; k++) {
        const ms_node *n = &g->nodes[k];
        cJSON *o = cJSON_CreateObject(), *ins = cJSON_CreateArray();
        cJSON_AddItemToArray(a, o);
        cJSON_AddNumberToObject(o, "index", k);
        cJSON_AddStringToObject(o, "op", ms_op_name(n->kind));
        cJSON_AddStringToObject(o, "name", n->name);
        for (int j = 0; ins && j < n->n_inputs; j++)
            if (is_state[n->inputs[j]])
                cJSON_AddItemToArray(ins, cJSON_CreateString(g->tensors[n->inputs[j]].name));
        cJSON_AddItemToObject(o, "inputs", ins);
        cJSON_AddStringToObject(o, "output", g->tensors[n->output].name);
        cJSON_AddItemToObject(o, "shape", shape_json(&g->tensors[n->output]));
        cJSON_AddNumberToObject(o, "params", (double)node_params(g, n, is_state));
        cJSON_AddNumberToObject(o, "macs", (double)ms_node_macs(g, n));
    }
    return a;
}

static cJSON *chokepoints_json(const ms_graph *g, const ms_chokepoint *cps, int n)
{
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; a && i < n; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToArray(a, o);
        cJSON_AddNumberToObject(o, "index", i);
        cJSON_AddNumberToObject(o, "node_end", cps[i].node_end);
        cJSON_AddStringToObject(o, "tensor", g->tensors[cps[i].tensor].name);
        cJSON_AddItemToObject(o, "shape", shape_json(&g->tensors[cps[i].tensor]));
        cJSON_AddNumberToObject(o, "macs_before", (double)cps[i].macs_before);
        cJSON_AddNumberToObject(o, "macs_after", (double)cps[i].macs_after);
    }
    return a;
}

/* The input spec: mean and scale per channel (all three equal without a per-channel
 * normalisation), channel order, the file's layout, where it came from. */
static cJSON *spec_json(const ms_input_spec *sp, bool nchw)
{
    cJSON *o = cJSON_CreateObject();
    float mean[3], scale[3];
    for (int k = 0; k < 3; k++) {
        mean[k] = sp->per_channel ? sp->chan_mean[k] : sp->mean;
        scale[k] = sp->per_channel ? sp->chan_scale[k] : sp->scale;
    }
    cJSON_AddItemToObject(o, "mean", cJSON_CreateFloatArray(mean, 3));
    cJSON_AddItemToObject(o, "scale", cJSON_CreateFloatArray(scale, 3));
    cJSON_AddStringToObject(o, "channel_order", sp->bgr ? "BGR" : "RGB");
    cJSON_AddStringToObject(o, "file_layout", nchw ? "NCHW" : "NHWC");
    cJSON_AddStringToObject(o, "origin", sp->origin ? sp->origin : "the model file");
    return o;
}

static ms_status print_json(const ms_graph *g, const bool *is_state, const ms_chokepoint *cps, int n_cps,
                            const char *cp_error, ms_error *err)
{
    cJSON *root = cJSON_CreateObject();
    if (!root) return ms_errorf(err, MS_ERR_NOMEM, "out of memory building JSON");
    ms_json_add_version(root, 1);
    cJSON_AddStringToObject(root, "source", g->source ? g->source : "");
    cJSON_AddItemToObject(root, "inputs", tensors_json(g, g->inputs, g->n_inputs));
    cJSON_AddItemToObject(root, "outputs", tensors_json(g, g->outputs, g->n_outputs));
    cJSON_AddItemToObject(root, "input_spec", spec_json(&g->input_spec, g->nchw));
    cJSON_AddItemToObject(root, "layers", layers_json(g, is_state));
    cJSON_AddNumberToObject(root, "params", (double)ms_graph_params(g));
    cJSON_AddNumberToObject(root, "macs", (double)ms_graph_macs(g));
    cJSON_AddItemToObject(root, "chokepoints", chokepoints_json(g, cps, n_cps));
    if (cp_error) cJSON_AddStringToObject(root, "chokepoints_error", cp_error);
    ms_status s = ms_json_write("-", root, false, err);
    cJSON_Delete(root);
    return s;
}

/* Makes sure a load error names the file(s), whatever the loader said. */
static void name_files(ms_error *err, const char *const *paths, int n)
{
    for (int i = 0; i < n; i++)
        if (strstr(err->msg, paths[i])) return;
    if (n == 1) ms_error_prefix(err, "%s", paths[0]);
    else ms_error_prefix(err, "%s (and %d more)", paths[0], n - 1);
}

int cmd_inspect(int argc, char **argv)
{
    static const struct option opts[] = {{"json", no_argument, NULL, 'j'},
                                         {"mean", required_argument, NULL, 'M'},
                                         {"std", required_argument, NULL, 'S'},
                                         {0, 0, 0, 0}};
    ms_cli c;
    bool json = false;
    const char *mean = NULL, *std = NULL;
    int code;
    ms_cli_begin(&c, "inspect", usage, opts, "");
    while ((code = ms_cli_next(&c, argc, argv)) != MS_CLI_DONE) {
        if (code == MS_CLI_EXIT) return c.exit_code;
        if (code == 'j') json = true;
        else if (code == 'M') mean = optarg;
        else if (code == 'S') std = optarg;
    }
    /* --model files first, then the MODEL arguments, in order */
    const char *paths[MS_CLI_MAX_MODELS];
    int n_paths = c.n_models;
    memcpy(paths, c.models, sizeof *paths * (size_t)c.n_models);
    for (int i = optind; i < argc; i++) {
        if (n_paths == MS_CLI_MAX_MODELS) return ms_cli_fail(&c, "at most %d model files", MS_CLI_MAX_MODELS);
        paths[n_paths++] = argv[i];
    }
    if (!n_paths) return ms_cli_fail(&c, "no model file given");

    ms_error err;
    ms_error_clear(&err);
    ms_graph *g = NULL;
    if (ms_model_load(paths, n_paths, &g, &err) != MS_OK || ms_model_set_normalisation(g, mean, std, &err)) {
        ms_graph_free(g);
        name_files(&err, paths, n_paths);
        fprintf(stderr, "mainstream inspect: %s\n", err.msg);
        return 1;
    }
    bool *is_state = state_tensors(g);
    if (!is_state) {
        ms_graph_free(g);
        fprintf(stderr, "mainstream inspect: out of memory\n");
        return 1;
    }
    /* A graph without chokepoints (several inputs, say) is still worth listing. */
    ms_chokepoint *cps = NULL;
    int n_cps = 0;
    ms_error cp_err;
    const char *cp_error = ms_graph_chokepoints(g, &cps, &n_cps, &cp_err) ? cp_err.msg : NULL;

    int rc = 0;
    if (json) {
        if (print_json(g, is_state, cps, n_cps, cp_error, &err) != MS_OK) {
            fprintf(stderr, "mainstream inspect: %s\n", err.msg);
            rc = 1;
        }
    } else {
        print_table(g, is_state, cps, n_cps, cp_error);
        if (fflush(stdout) != 0) {
            fprintf(stderr, "mainstream inspect: cannot write to standard output\n");
            rc = 1;
        }
    }
    free(cps);
    free(is_state);
    ms_graph_free(g);
    return rc;
}
