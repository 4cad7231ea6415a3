/* `mainstream infer --model FILE... --input X.npy -o Y.npy`: runs a whole network on a
 * tensor in the model's own layout (NCHW for ONNX, NHWC for TFLite) and writes its
 * output as float32 .npy in the model's layout. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/infer.h"
#include "cli/commands.h"
#include "formats/model.h"
#include "formats/npy.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: mainstream infer --model FILE [--model FILE]... --input X.npy -o Y.npy\n"
            "                        [--backend ref|cpu] [--precision fp32|int8] [--threads N]\n"
            "\n"
            "Runs the whole network on X (float32 or float64 .npy in the model's own layout: NCHW\n"
            "for ONNX, NHWC for TFLite; the batch is its first dimension) and writes the first\n"
            "output as float32 .npy, also in the model's layout. Defaults: --backend cpu\n"
            "--precision fp32 --threads 1.\n");
}

int cmd_infer(int argc, char **argv)
{
    const char *models[16], *input = NULL, *output = NULL, *backend_name = "cpu";
    int n_models = 0, threads = 1;
    ms_precision precision = MS_PREC_FP32;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has_value = i + 1 < argc;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--model") && has_value) {
            if (n_models == 16) {
                fprintf(stderr, "mainstream infer: at most 16 --model files\n");
                return 2;
            }
            models[n_models++] = argv[++i];
        } else if (!strcmp(a, "--input") && has_value) {
            input = argv[++i];
        } else if ((!strcmp(a, "-o") || !strcmp(a, "--output")) && has_value) {
            output = argv[++i];
        } else if (!strcmp(a, "--backend") && has_value) {
            backend_name = argv[++i];
        } else if (!strcmp(a, "--precision") && has_value) {
            const char *p = argv[++i];
            if (strcmp(p, "fp32") && strcmp(p, "int8")) {
                fprintf(stderr, "mainstream infer: --precision: '%s' is not fp32 or int8\n", p);
                return 2;
            }
            precision = !strcmp(p, "int8") ? MS_PREC_INT8 : MS_PREC_FP32;
        } else if (!strcmp(a, "--threads") && has_value) {
            char *end;
            long t = strtol(argv[++i], &end, 10);
            if (*end || t < 1 || t > 1024) {
                fprintf(stderr, "mainstream infer: --threads: '%s' is not a number from 1 to 1024\n", argv[i]);
                return 2;
            }
            threads = (int)t;
        } else {
            fprintf(stderr, "mainstream infer: unknown or incomplete option '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (!n_models || !input || !output) {
        usage(stderr);
        return 2;
    }
    const ms_backend *b = ms_backend_find(backend_name);
    if (!b) {
        fprintf(stderr, "mainstream infer: unknown backend '%s'\n", backend_name);
        return 2;
    }
    ms_error err = {0};
    ms_graph *g = NULL;
    ms_npy x = {0}, y = {0};
    ms_infer_tensor in = {0}, out = {0};
    ms_status s = ms_model_load(models, n_models, &g, &err);
    if (!s) s = ms_npy_read(input, &x, &err);
    if (!s && x.ndim > MS_MAX_DIMS) s = ms_errorf(&err, MS_ERR_UNSUPPORTED, "%s: %d dimensions (at most %d)", input, x.ndim, MS_MAX_DIMS);
    if (!s) {
        in.ndim = x.ndim;
        memcpy(in.shape, x.shape, (size_t)x.ndim * sizeof *x.shape);
        in.data = x.data;
        s = ms_infer(b, g, threads, precision, &in, &out, &err);
    }
    if (!s) {
        y.ndim = out.ndim;
        y.numel = 1;
        for (int d = 0; d < out.ndim; d++) y.numel *= (y.shape[d] = out.shape[d]);
        y.data = out.data;
        s = ms_npy_write(output, &y, &err);
    }
    free(out.data);
    ms_npy_free(&x);
    ms_graph_free(g);
    if (s) {
        fprintf(stderr, "mainstream infer: %s\n", err.msg);
        return 1;
    }
    return 0;
}
