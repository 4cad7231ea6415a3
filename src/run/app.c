/* Apps from M-Packages (see app.h). */
#include "run/app.h"

#include <stdlib.h>
#include <string.h>

#include "formats/mpackage.h"

void ms_run_app_free(ms_run_app *a)
{
    ms_mpackage_free(a->pkg);
    free(a->chokepoints);
    free(a->tpr);
    free(a->fpr);
    memset(a, 0, sizeof *a);
}

ms_status ms_run_app_load(const char *path, const ms_graph *base, const char *where, ms_run_app *out, ms_error *err)
{
    memset(out, 0, sizeof *out);
    ms_mpackage *p;
    if (ms_mpackage_load(path, &p, err)) return ms_error_prefix(err, "%s.package", where);
    out->pkg = p;
    if (ms_mpackage_check_base(p, base, err)) {
        ms_run_app_free(out);
        return ms_error_prefix(err, "%s.package", where);
    }
    int n = p->n_curve;
    out->chokepoints = malloc(sizeof *out->chokepoints * (size_t)(n ? n : 1));
    out->tpr = malloc(sizeof *out->tpr * (size_t)(n ? n : 1));
    out->fpr = malloc(sizeof *out->fpr * (size_t)(n ? n : 1));
    if (!out->chokepoints || !out->tpr || !out->fpr) {
        ms_run_app_free(out);
        return ms_errorf(err, MS_ERR_NOMEM, "%s.package: out of memory", where);
    }
    if (n == 0) {
        ms_run_app_free(out);
        return ms_errorf(err, MS_ERR_INVALID, "%s.package: %s was not trained at any chokepoint", where, path);
    }
    for (int i = 0; i < n; i++) {
        out->chokepoints[i] = p->curve[i].chokepoint;
        out->tpr[i] = p->curve[i].tpr;
        out->fpr[i] = p->curve[i].fpr;
    }
    out->n_points = n;
    out->events_known = p->events.known;
    out->event_length_ms = p->events.length_mean_ms;
    out->event_frequency = p->events.frequency;
    out->correlation = p->events.correlation;
    out->resize = (ms_resize_mode)ms_resize_mode_parse(p->resize);
    return MS_OK;
}

bool ms_run_app_has(const ms_run_app *a, int chokepoint)
{
    for (int i = 0; i < a->n_points; i++)
        if (a->chokepoints[i] == chokepoint) return true;
    return false;
}

ms_status ms_run_app_branch(const ms_run_app *a, const ms_graph *base, int chokepoint, ms_graph **out,
                            ms_error *err)
{
    return ms_mpackage_branch(a->pkg, base, chokepoint, out, err);
}

ms_status ms_run_branch_template(const ms_graph *base, int chokepoint, ms_graph **out, ms_error *err)
{
    return ms_branch_from_base(base, chokepoint, out, err);
}
