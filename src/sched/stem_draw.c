/* Pictures of a stem tree: a text tree for schedule's table and a Graphviz graph
 * (`schedule --dot`). The stem is one trunk (stem.c): segment i runs units [from, to)
 * at its fps, and the apps listed with it branch off at `to`; apps at chokepoint 0 run
 * alone from the input. */
#include <stdio.h>

#include "sched/stem_draw.h"

/* The units an app runs on its own: [chokepoint, n_units). */
static void own_units(FILE *out, const ms_scenario *s, int chokepoint)
{
    if (chokepoint >= s->n_units) fprintf(out, "no own units");
    else fprintf(out, "own units %d-%d", chokepoint, s->n_units - 1);
}

static double segment_cost(const ms_scenario *s, const ms_stem_segment *g)
{
    double c = 0;
    for (int u = g->from; u < g->to; u++) c += s->unit_costs[u];
    return c * g->fps;
}

static double app_cost(const ms_scenario *s, const ms_assignment *x)
{
    double c = 0;
    for (int u = x->chokepoint; u < s->n_units; u++) c += s->unit_costs[u];
    return c * x->fps;
}

static void app_line(FILE *out, const ms_scenario *s, const ms_schedule *sch, int a, const char *indent, bool last)
{
    const ms_assignment *x = &sch->apps[a];
    fprintf(out, "%s%s %s: chokepoint %d, ", indent, last ? "`--" : "|--", s->apps[a].name, x->chokepoint);
    own_units(out, s, x->chokepoint);
    fprintf(out, " @ %g fps (cost %.3f/s, F1 %.3f)\n", x->fps, app_cost(s, x), x->m.f1);
}

void ms_stem_tree_print(FILE *out, const ms_scenario *s, const ms_schedule *sch, const ms_stem_tree *t)
{
    char indent[4096] = "";
    size_t depth = 0;
    fprintf(out, "input\n");
    /* under the input: the apps that share nothing, then the trunk */
    for (int i = 0; i < t->n_root_branches; i++)
        app_line(out, s, sch, t->root_branches[i], indent, i == t->n_root_branches - 1 && t->n_segments == 0);
    for (int k = 0; k < t->n_segments; k++) {
        const ms_stem_segment *g = &t->segments[k];
        fprintf(out, "%s`-- stem: units %d-%d @ %g fps (cost %.3f/s)\n", indent, g->from, g->to - 1, g->fps,
                segment_cost(s, g));
        if (depth + 4 < sizeof indent) {
            snprintf(indent + depth, sizeof indent - depth, "    ");
            depth += 4;
        }
        bool more = k + 1 < t->n_segments;
        for (int i = 0; i < g->n_branches; i++) app_line(out, s, sch, g->branches[i], indent, !more && i == g->n_branches - 1);
    }
}

/* A DOT string: the app names are the user's. */
static void dot_string(FILE *out, const char *str)
{
    fputc('"', out);
    for (; *str; str++) {
        if (*str == '"' || *str == '\\') fputc('\\', out);
        if (*str == '\n') fputs("\\n", out);
        else fputc(*str, out);
    }
    fputc('"', out);
}

static void dot_app(FILE *out, const ms_scenario *s, const ms_schedule *sch, int a, const char *parent)
{
    const ms_assignment *x = &sch->apps[a];
    char label[1024];
    snprintf(label, sizeof label, "%s\ncp %d, %g fps\nF1 %.3f, %.3f/s", s->apps[a].name, x->chokepoint, x->fps, x->m.f1,
             app_cost(s, x));
    fprintf(out, "  app%d [shape=ellipse, label=", a);
    dot_string(out, label);
    fprintf(out, "];\n  %s -> app%d;\n", parent, a);
}

void ms_stem_tree_write_dot(FILE *out, const ms_scenario *s, const ms_schedule *sch, const ms_stem_tree *t)
{
    fprintf(out, "digraph stem_tree {\n  rankdir=LR;\n  node [fontname=\"sans-serif\", fontsize=10];\n");
    fprintf(out, "  input [shape=box, style=rounded, label=\"input\\n%g fps\"];\n", s->stream_fps);
    for (int i = 0; i < t->n_root_branches; i++) dot_app(out, s, sch, t->root_branches[i], "input");
    char prev[32] = "input";
    for (int k = 0; k < t->n_segments; k++) {
        const ms_stem_segment *g = &t->segments[k];
        fprintf(out, "  seg%d [shape=box, style=filled, fillcolor=\"#dde8f5\", label=\"units %d-%d\\n%g fps\\n%.3f/s\"];\n",
                k, g->from, g->to - 1, g->fps, segment_cost(s, g));
        fprintf(out, "  %s -> seg%d;\n", prev, k);
        snprintf(prev, sizeof prev, "seg%d", k);
        for (int i = 0; i < g->n_branches; i++) dot_app(out, s, sch, g->branches[i], prev);
    }
    fprintf(out, "}\n");
}
