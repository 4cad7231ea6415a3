/* Top-1 of the int8 plan against the fp32 plan (and both against the labels) on a
 * folder of labelled images, e.g. the 300-image ImageNet sample:
 *
 *   bench_int8_agreement MODEL[+MODEL] DIR    (DIR/labels.csv: "file,class" lines)
 *
 * Prints the accuracy of each precision, their top-1 agreement and the count of images. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "formats/model.h"
#include "media/image.h"

enum { BATCH = 10, MAX_FILES = 4 };

static int argmax(const float *v, int64_t n)
{
    int best = 0;
    for (int64_t i = 1; i < n; i++)
        if (v[i] > v[best]) best = (int)i;
    return best;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: bench_int8_agreement MODEL[+MODEL] DIR\n");
        return 2;
    }
    char spec[4096], path[8192], line[1024];
    snprintf(spec, sizeof spec, "%s", argv[1]);
    const char *files[MAX_FILES];
    int n_files = 0;
    for (char *f = strtok(spec, "+"); f && n_files < MAX_FILES; f = strtok(NULL, "+")) files[n_files++] = f;
    ms_error err;
    ms_graph *g = NULL;
    ms_plan *p32 = NULL, *p8 = NULL;
    ms_plan_options o = {.batch = BATCH, .threads = 2, .precision = MS_PREC_FP32};
    const ms_backend *cpu = ms_backend_find("cpu");
    ms_status st = ms_model_load(files, n_files, &g, &err);
    if (!st) st = ms_plan_compile(cpu, g, &o, &p32, &err);
    o.precision = MS_PREC_INT8;
    if (!st) st = ms_plan_compile(cpu, g, &o, &p8, &err);
    snprintf(path, sizeof path, "%s/labels.csv", argv[2]);
    FILE *lf = st ? NULL : fopen(path, "r");
    if (!st && !lf) st = ms_errorf(&err, MS_ERR_IO, "%s: cannot open", path);
    int64_t ni = st ? 0 : p32->in_numel, no = st ? 0 : p32->out_numel;
    float *in = calloc((size_t)(BATCH * ni) + 1, sizeof *in);
    float *o32 = malloc(((size_t)(BATCH * no) + 1) * sizeof *o32), *o8 = malloc(((size_t)(BATCH * no) + 1) * sizeof *o8);
    int labels[BATCH], n = 0, total = 0, ok32 = 0, ok8 = 0, agree = 0;
    if (!st && (!in || !o32 || !o8)) st = ms_errorf(&err, MS_ERR_NOMEM, "out of memory");
    bool eof = false;
    while (!st && !eof) {
        eof = !fgets(line, sizeof line, lf);
        if (!eof) {
            char *comma = strchr(line, ',');
            if (!comma || !strcmp(line, "file,class\n")) continue;
            *comma = 0;
            labels[n] = atoi(comma + 1);
            snprintf(path, sizeof path, "%s/%s", argv[2], line);
            st = ms_image_load(path, &g->input_spec, MS_RESIZE_CENTER_CROP, in + n * ni, &err);
            n++;
        }
        if (st || !n || (n < BATCH && !eof)) continue;
        /* A last, short batch runs with the rest of the buffer left as it was. */
        st = ms_plan_run(p32, in, o32, &err);
        if (!st) st = ms_plan_run(p8, in, o8, &err);
        for (int i = 0; !st && i < n; i++) {
            int a = argmax(o32 + i * no, no), b = argmax(o8 + i * no, no);
            ok32 += a == labels[i];
            ok8 += b == labels[i];
            agree += a == b;
            total++;
        }
        n = 0;
    }
    if (!st)
        printf("%s: %d images, top-1 fp32 %.1f%%, int8 %.1f%%, agreement %.1f%%\n", argv[1], total,
               100.0 * ok32 / total, 100.0 * ok8 / total, 100.0 * agree / total);
    else
        fprintf(stderr, "bench_int8_agreement: %s\n", err.msg);
    if (lf) fclose(lf);
    free(in);
    free(o32);
    free(o8);
    ms_plan_free(p32);
    ms_plan_free(p8);
    ms_graph_free(g);
    return st ? 1 : 0;
}
