/* The stem tree of a schedule (what the runner executes) and the schedule as JSON.
 * The stem is a single trunk: segment [c_{j-1}, c_j) between consecutive distinct
 * chokepoints runs at the highest fps of the apps that branch at c_j or later; apps leave
 * the trunk at their chokepoint and run their own layers at their own fps. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "sched/schedule.h"

void ms_stem_tree_free(ms_stem_tree *t)
{
    for (int i = 0; i < t->n_segments; i++) free(t->segments[i].branches);
    free(t->segments);
    free(t->root_branches);
    memset(t, 0, sizeof *t);
}

static int compare_ints(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

ms_status ms_stem_tree_build(const ms_scenario *s, const ms_schedule *sch, ms_stem_tree *out,
                             ms_error *err)
{
    memset(out, 0, sizeof *out);
    int n = sch->n_apps;
    int *cuts = malloc(sizeof *cuts * (size_t)(n > 0 ? n : 1));
    out->segments = calloc((size_t)(n > 0 ? n : 1), sizeof *out->segments);
    out->root_branches = malloc(sizeof *out->root_branches * (size_t)(n > 0 ? n : 1));
    if (!cuts || !out->segments || !out->root_branches) goto nomem;
    int k = 0;
    for (int a = 0; a < n; a++) {
        if (sch->apps[a].chokepoint == 0) out->root_branches[out->n_root_branches++] = a;
        else cuts[k++] = sch->apps[a].chokepoint;
    }
    qsort(cuts, (size_t)k, sizeof *cuts, compare_ints);
    int from = 0;
    for (int i = 0; i < k; i++) {
        if (i > 0 && cuts[i] == cuts[i - 1]) continue;
        ms_stem_segment *seg = &out->segments[out->n_segments++];
        seg->from = from;
        seg->to = cuts[i];
        seg->branches = malloc(sizeof *seg->branches * (size_t)n);
        if (!seg->branches) goto nomem;
        for (int a = 0; a < n; a++) {
            if (sch->apps[a].chokepoint >= seg->to) seg->fps = fmax(seg->fps, sch->apps[a].fps);
            if (sch->apps[a].chokepoint == seg->to) seg->branches[seg->n_branches++] = a;
        }
        from = seg->to;
    }
    (void)s;
    free(cuts);
    return MS_OK;
nomem:
    free(cuts);
    ms_stem_tree_free(out);
    return ms_errorf(err, MS_ERR_NOMEM, "stem tree: out of memory");
}

double ms_stem_tree_cost(const ms_scenario *s, const ms_stem_tree *t, const ms_schedule *sch)
{
    double cost = 0;
    for (int i = 0; i < t->n_segments; i++)
        for (int u = t->segments[i].from; u < t->segments[i].to; u++)
            cost += s->unit_costs[u] * t->segments[i].fps;
    for (int a = 0; a < sch->n_apps; a++)
        for (int u = sch->apps[a].chokepoint; u < s->n_units; u++) cost += s->unit_costs[u] * sch->apps[a].fps;
    return cost;
}

static cJSON *branches_json(const ms_scenario *s, const ms_schedule *sch, const int *apps, int n)
{
    cJSON *arr = cJSON_CreateArray();
    for (int i = 0; arr && i < n; i++) {
        cJSON *b = cJSON_CreateObject();
        if (!b) return arr;
        cJSON_AddStringToObject(b, "app", s->apps[apps[i]].name);
        cJSON_AddNumberToObject(b, "fps", sch->apps[apps[i]].fps);
        cJSON_AddItemToArray(arr, b);
    }
    return arr;
}

/* The merged stem: consecutive segments of equal fps become one entry {chokepoint, fps}. */
static cJSON *stem_json(const ms_stem_tree *t)
{
    cJSON *arr = cJSON_CreateArray();
    for (int i = 0; arr && i < t->n_segments; i++) {
        if (i + 1 < t->n_segments && t->segments[i + 1].fps == t->segments[i].fps) continue;
        cJSON *e = cJSON_CreateObject();
        if (!e) break;
        cJSON_AddNumberToObject(e, "chokepoint", t->segments[i].to);
        cJSON_AddNumberToObject(e, "fps", t->segments[i].fps);
        cJSON_AddItemToArray(arr, e);
    }
    return arr;
}

cJSON *ms_schedule_to_json(const ms_scenario *s, const ms_sched_config *cfg, const ms_schedule *sch,
                           const ms_stem_tree *tree)
{
    cJSON *root = cJSON_CreateObject();
    if (!root) return NULL;
    ms_json_add_version(root, MS_SCHEDULE_FORMAT_VERSION);
    cJSON_AddStringToObject(root, "policy", ms_policy_name(cfg->policy));
    cJSON_AddStringToObject(root, "objective", ms_objective_name(cfg->objective));
    cJSON_AddStringToObject(root, "model", cfg->compat ? "compat" : "default");
    cJSON_AddBoolToObject(root, "feasible", sch->feasible);
    cJSON_AddBoolToObject(root, "exact", sch->exact);
    if (sch->feasible) {
        cJSON_AddNumberToObject(root, "value", sch->value);
        if (isfinite(sch->bound)) cJSON_AddNumberToObject(root, "bound", sch->bound);
        cJSON_AddNumberToObject(root, "cost", sch->cost);
    }
    cJSON_AddNumberToObject(root, "budget", s->budget);
    cJSON_AddNumberToObject(root, "seconds", sch->seconds);
    cJSON *apps = cJSON_AddArrayToObject(root, "apps");
    for (int a = 0; sch->feasible && apps && a < sch->n_apps; a++) {
        cJSON *o = cJSON_CreateObject();
        if (!o) break;
        const ms_assignment *x = &sch->apps[a];
        cJSON_AddStringToObject(o, "name", s->apps[a].name);
        cJSON_AddNumberToObject(o, "chokepoint", x->chokepoint);
        cJSON_AddNumberToObject(o, "fps", x->fps);
        cJSON_AddNumberToObject(o, "recall", x->m.recall);
        cJSON_AddNumberToObject(o, "precision", x->m.precision);
        cJSON_AddNumberToObject(o, "f1", x->m.f1);
        cJSON_AddItemToArray(apps, o);
    }
    if (tree) {
        cJSON_AddItemToObject(root, "stem", stem_json(tree));
        cJSON *st = cJSON_AddObjectToObject(root, "stem_tree");
        cJSON *segs = st ? cJSON_AddArrayToObject(st, "segments") : NULL;
        for (int i = 0; segs && i < tree->n_segments; i++) {
            const ms_stem_segment *g = &tree->segments[i];
            cJSON *e = cJSON_CreateObject();
            if (!e) break;
            cJSON_AddNumberToObject(e, "from", g->from);
            cJSON_AddNumberToObject(e, "to", g->to);
            cJSON_AddNumberToObject(e, "fps", g->fps);
            cJSON_AddItemToObject(e, "branches", branches_json(s, sch, g->branches, g->n_branches));
            cJSON_AddItemToArray(segs, e);
        }
        if (st)
            cJSON_AddItemToObject(st, "root_branches",
                                  branches_json(s, sch, tree->root_branches, tree->n_root_branches));
    }
    return root;
}
