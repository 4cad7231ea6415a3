/* The training log files: a per-epoch CSV and an SVG of the accuracy curve (see trainlog.h). */
#include "train/trainlog.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/file.h"

void ms_trainlog_write_csv(FILE *out, const ms_cp_result *res, int n)
{
    fprintf(out, "chokepoint,epoch,train_loss,val_loss,val_acc,val_tpr,val_fpr,seconds,best\n");
    for (int k = 0; k < n; k++)
        for (int e = 0; e < res[k].epochs_run && res[k].epochs; e++) {
            const ms_epoch_log *l = &res[k].epochs[e];
            fprintf(out, "%d,%d,%.6f,%.6f,%.6f,%.6f,%.6f,%.3f,%d\n", res[k].point.chokepoint, l->epoch, l->train_loss,
                    l->val_loss, l->val_acc, l->val_tpr, l->val_fpr, l->seconds, l->epoch == res[k].best_epoch);
        }
}

/* XML text: the app name is the user's. */
static void xml_text(FILE *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '<') fputs("&lt;", out);
        else if (*s == '>') fputs("&gt;", out);
        else if (*s == '&') fputs("&amp;", out);
        else if (*s == '"') fputs("&quot;", out);
        else fputc(*s, out);
    }
}

void ms_trainlog_write_svg(FILE *out, const char *app, const ms_cp_result *res, int n)
{
    static const char *const colours[2] = {"#1f77b4", "#d62728"};
    static const char *const names[2] = {"tpr (validation)", "fpr (validation)"};
    const double W = 720, H = 420, L = 60, R = 160, T = 40, B = 50, pw = W - L - R, ph = H - T - B;
    int lo = n ? res[0].point.chokepoint : 0, hi = n ? res[n - 1].point.chokepoint : 1;
    for (int k = 0; k < n; k++) {
        lo = res[k].point.chokepoint < lo ? res[k].point.chokepoint : lo;
        hi = res[k].point.chokepoint > hi ? res[k].point.chokepoint : hi;
    }
    double span = hi > lo ? hi - lo : 1;
    fprintf(out, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%g\" height=\"%g\" font-family=\"sans-serif\" "
                 "font-size=\"12\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n", W, H);
    fprintf(out, "<text x=\"%g\" y=\"22\" font-size=\"14\">App ", L);
    xml_text(out, app);
    fprintf(out, ": accuracy per chokepoint (threshold 0.5)</text>\n");
    for (int i = 0; i <= 5; i++) {
        double y = T + ph - ph * i / 5.0;
        fprintf(out, "<line x1=\"%g\" y1=\"%g\" x2=\"%g\" y2=\"%g\" stroke=\"#ddd\"/>\n", L, y, L + pw, y);
        fprintf(out, "<text x=\"%g\" y=\"%g\" text-anchor=\"end\">%.1f</text>\n", L - 6, y + 4, i / 5.0);
    }
    for (int k = 0; k < n; k++) {
        double x = L + pw * (res[k].point.chokepoint - lo) / span;
        fprintf(out, "<text x=\"%g\" y=\"%g\" text-anchor=\"middle\">%d</text>\n", x, T + ph + 18, res[k].point.chokepoint);
    }
    fprintf(out, "<rect x=\"%g\" y=\"%g\" width=\"%g\" height=\"%g\" fill=\"none\" stroke=\"black\"/>\n", L, T, pw, ph);
    fprintf(out, "<text x=\"%g\" y=\"%g\" text-anchor=\"middle\">chokepoint (layers before it frozen and shared)</text>\n",
            L + pw / 2, H - 12);
    fprintf(out, "<text transform=\"translate(16 %g) rotate(-90)\" text-anchor=\"middle\">rate</text>\n", T + ph / 2);
    for (int c = 0; c < 2; c++) {
        fprintf(out, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", colours[c]);
        for (int k = 0; k < n; k++) {
            double v = c ? res[k].point.fpr : res[k].point.tpr;
            fprintf(out, "%.1f,%.1f ", L + pw * (res[k].point.chokepoint - lo) / span, T + ph - ph * fmin(fmax(v, 0), 1));
        }
        fprintf(out, "\"/>\n");
        for (int k = 0; k < n; k++) {
            double v = c ? res[k].point.fpr : res[k].point.tpr;
            fprintf(out, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"><title>chokepoint %d: %.3f</title></circle>\n",
                    L + pw * (res[k].point.chokepoint - lo) / span, T + ph - ph * fmin(fmax(v, 0), 1), colours[c],
                    res[k].point.chokepoint, v);
        }
        double ly = T + 14 + 18 * c;
        fprintf(out, "<line x1=\"%g\" y1=\"%g\" x2=\"%g\" y2=\"%g\" stroke=\"%s\" stroke-width=\"2\"/>\n", L + pw + 10, ly,
                L + pw + 40, ly, colours[c]);
        fprintf(out, "<text x=\"%g\" y=\"%g\">%s</text>\n", L + pw + 46, ly + 4, names[c]);
    }
    fprintf(out, "</svg>\n");
}

typedef void (*writer)(FILE *, const char *, const ms_cp_result *, int);

static void csv_writer(FILE *out, const char *app, const ms_cp_result *res, int n)
{
    (void)app;
    ms_trainlog_write_csv(out, res, n);
}

static ms_status write_one(const char *prefix, const char *suffix, writer w, const char *app, const ms_cp_result *res,
                           int n, ms_error *err)
{
    size_t len = strlen(prefix) + strlen(suffix) + 1;
    char *path = malloc(len);
    if (!path) return ms_errorf(err, MS_ERR_NOMEM, "%s%s: out of memory", prefix, suffix);
    snprintf(path, len, "%s%s", prefix, suffix);
    ms_atomic_file f;
    ms_status s = ms_atomic_open(&f, path, err);
    if (!s) {
        w(f.fp, app, res, n);
        s = ms_atomic_commit(&f, err);
    }
    free(path);
    return s;
}

ms_status ms_trainlog_save(const char *prefix, const char *app, const ms_cp_result *res, int n, ms_error *err)
{
    ms_status s = write_one(prefix, ".epochs.csv", csv_writer, app, res, n, err);
    if (!s) s = write_one(prefix, ".curve.svg", ms_trainlog_write_svg, app, res, n, err);
    return s;
}
