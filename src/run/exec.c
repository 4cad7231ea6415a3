/* Running a stem tree over chunks of frames (see exec.h). */
#include "run/exec.h"

#include <stdlib.h>
#include <string.h>

#include "base/clock.h"

void ms_exec_init(ms_exec_tree *t, const ms_backend *b, const ms_plan_options *opts, double stream_fps,
                  int64_t frame_numel)
{
    memset(t, 0, sizeof *t);
    t->backend = b;
    t->opts = *opts;
    t->stream_fps = stream_fps;
    t->frame_numel = frame_numel;
}

void ms_exec_free(ms_exec_tree *t)
{
    for (int i = 0; i < t->n_nodes; i++) {
        if (!t->nodes[i].borrowed) {
            ms_plan_free(t->nodes[i].plan1);
            ms_plan_free(t->nodes[i].planb);
        }
        free(t->nodes[i].rows);
        free(t->nodes[i].out);
    }
    free(t->nodes);
    free(t->gather);
    memset(t, 0, sizeof *t);
}

static ms_status compile(const ms_backend *b, const ms_plan_options *opts, const ms_graph *g, int batch,
                         const ms_plan *from, bool native, ms_plan **out, ms_error *err)
{
    ms_plan_options o = *opts;
    o.batch = batch;
    o.input_from = from;
    o.native_output = native;
    return ms_plan_compile(b, g, &o, out, err);
}

/* The node's batch-1 and batch-N plans, reading the parent's output (from; NULL: plain
 * frames). A segment's output is native when both plans lay it out alike, since its
 * rows may come from either; otherwise both write plain floats. */
ms_status ms_exec_compile(const ms_backend *b, const ms_plan_options *opts, ms_exec_kind kind, const ms_graph *g,
                          const ms_plan *from, ms_plan **plan1, ms_plan **planb, ms_error *err)
{
    *plan1 = *planb = NULL;
    bool native = kind == MS_EXEC_SEGMENT;
    ms_status st = compile(b, opts, g, 1, from, native, plan1, err);
    if (st == MS_OK && opts->batch > 1) st = compile(b, opts, g, opts->batch, from, native, planb, err);
    if (st == MS_OK && native && *planb && !ms_plan_same_output(*plan1, *planb)) {
        ms_plan_free(*plan1);
        ms_plan_free(*planb);
        *plan1 = *planb = NULL;
        st = compile(b, opts, g, 1, from, false, plan1, err);
        if (st == MS_OK) st = compile(b, opts, g, opts->batch, from, false, planb, err);
    }
    if (st != MS_OK) {
        ms_plan_free(*plan1);
        ms_plan_free(*planb);
        *plan1 = *planb = NULL;
    }
    return st;
}

ms_status ms_exec_add_plans(ms_exec_tree *t, ms_exec_kind kind, int parent, int from, int to, int app, double rate,
                            double planned_ms, ms_plan *plan1, ms_plan *planb, bool borrowed, int *index,
                            ms_error *err)
{
    ms_status st = MS_OK;
    if (parent >= t->n_nodes)
        st = ms_errorf(err, MS_ERR_INVALID, "stem tree: node %d has no parent %d", t->n_nodes, parent);
    int64_t parent_out = parent < 0 || st ? t->frame_numel : t->nodes[parent].out_numel;
    if (st == MS_OK && plan1->in_numel != parent_out)
        st = ms_errorf(err, MS_ERR_INVALID, "stem tree: a node takes %lld values per frame but its parent gives %lld",
                       (long long)plan1->in_numel, (long long)parent_out);
    if (st == MS_OK && kind == MS_EXEC_BRANCH && plan1->out_numel != 1)
        st = ms_errorf(err, MS_ERR_INVALID, "stem tree: a branch gives %lld values per frame, not one probability",
                       (long long)plan1->out_numel);
    if (st == MS_OK && t->n_nodes == t->cap_nodes) {
        int cap = t->cap_nodes ? 2 * t->cap_nodes : 8;
        ms_exec_node *nodes = realloc(t->nodes, sizeof *nodes * (size_t)cap);
        if (!nodes) st = ms_errorf(err, MS_ERR_NOMEM, "stem tree: out of memory");
        else {
            t->nodes = nodes;
            t->cap_nodes = cap;
        }
    }
    ms_exec_node *n = st ? NULL : &t->nodes[t->n_nodes];
    if (n) {
        *n = (ms_exec_node){.kind = kind, .parent = parent, .from = from, .to = to, .app = app, .rate = rate,
                            .planned_ms = planned_ms, .plan1 = plan1, .planb = planb, .borrowed = borrowed};
        n->in_numel = plan1->in_numel;
        n->out_numel = plan1->out_numel;
        n->in_bytes = plan1->in_bytes;
        n->out_bytes = plan1->out_bytes;
        n->rows = malloc(sizeof *n->rows * (size_t)t->opts.batch);
        n->out = malloc((size_t)(n->out_bytes * t->opts.batch) + 1);
        if (!n->rows || !n->out) st = ms_errorf(err, MS_ERR_NOMEM, "stem tree: out of memory");
    }
    if (st == MS_OK && t->opts.batch > 1) {
        int64_t need = 0;
        for (int i = 0; i <= t->n_nodes; i++)
            if (t->nodes[i].in_bytes > need) need = t->nodes[i].in_bytes;
        unsigned char *gather = realloc(t->gather, (size_t)(need * t->opts.batch));
        if (!gather) st = ms_errorf(err, MS_ERR_NOMEM, "stem tree: out of memory");
        else t->gather = gather;
    }
    if (st != MS_OK) {
        if (n) {
            free(n->rows);
            free(n->out);
        }
        if (!borrowed) {
            ms_plan_free(plan1);
            ms_plan_free(planb);
        }
        return st;
    }
    ms_sampler_init(&n->sampler, rate, t->stream_fps);
    *index = t->n_nodes++;
    return MS_OK;
}

ms_status ms_exec_add(ms_exec_tree *t, ms_exec_kind kind, int parent, int from, int to, int app, double rate,
                      double planned_ms, const ms_graph *g, int *index, ms_error *err)
{
    if (parent >= t->n_nodes)
        return ms_errorf(err, MS_ERR_INVALID, "stem tree: node %d has no parent %d", t->n_nodes, parent);
    int64_t parent_out = parent < 0 ? t->frame_numel : t->nodes[parent].out_numel;
    int in = g->n_inputs == 1 ? g->inputs[0] : -1;
    if (in < 0 || in >= g->n_tensors || ms_tensor_numel(&g->tensors[in]) != parent_out)
        return ms_errorf(err, MS_ERR_INVALID, "stem tree: %s takes %lld values per frame but its parent gives %lld",
                         g->source ? g->source : "a node",
                         (long long)(in >= 0 && in < g->n_tensors ? ms_tensor_numel(&g->tensors[in]) : -1),
                         (long long)parent_out);
    ms_plan *plan1, *planb;
    ms_status st = ms_exec_compile(t->backend, &t->opts, kind, g, parent < 0 ? NULL : t->nodes[parent].plan1, &plan1,
                                   &planb, err);
    if (st == MS_OK && kind == MS_EXEC_BRANCH && plan1->out_numel != 1) {
        st = ms_errorf(err, MS_ERR_INVALID, "stem tree: branch %s gives %lld values per frame, not one probability",
                       g->source ? g->source : "", (long long)plan1->out_numel);
        ms_plan_free(plan1);
        ms_plan_free(planb);
    }
    if (st) return st;
    return ms_exec_add_plans(t, kind, parent, from, to, app, rate, planned_ms, plan1, planb, false, index, err);
}

double ms_exec_root_rate(const ms_exec_tree *t)
{
    double r = 0;
    for (int i = 0; i < t->n_nodes; i++)
        if (t->nodes[i].parent < 0 && t->nodes[i].rate > r) r = t->nodes[i].rate;
    return r;
}

/* The parent's row r: a frame's pixels, or a row of the parent node's output. */
static const void *parent_row(const ms_exec_tree *t, const ms_exec_node *n, const ms_frame *frames, int r)
{
    if (n->parent < 0) return frames[r].pixels;
    const ms_exec_node *p = &t->nodes[n->parent];
    return p->out + (size_t)r * (size_t)p->out_bytes;
}

/* The stream frame behind the parent's row r. */
static const ms_frame *frame_of(const ms_exec_tree *t, const ms_exec_node *n, const ms_frame *frames, int r)
{
    while (n->parent >= 0) {
        n = &t->nodes[n->parent];
        r = n->rows[r];
    }
    return &frames[r];
}

static int parent_count(const ms_exec_tree *t, const ms_exec_node *n, int n_frames)
{
    return n->parent < 0 ? n_frames : t->nodes[n->parent].n_taken;
}

static ms_status run_node(ms_exec_tree *t, ms_exec_node *n, const ms_frame *frames, int n_frames, ms_error *err)
{
    n->n_taken = 0;
    int rows = parent_count(t, n, n_frames);
    for (int r = 0; r < rows; r++)
        if (ms_sampler_take(&n->sampler, frame_of(t, n, frames, r)->index)) n->rows[n->n_taken++] = r;
    if (n->n_taken == 0) return MS_OK;
    double start = ms_now();
    ms_status st = MS_OK;
    if (n->planb && n->n_taken == t->opts.batch) {
        size_t row = (size_t)n->in_bytes;
        for (int j = 0; j < n->n_taken; j++)
            memcpy(t->gather + j * row, parent_row(t, n, frames, n->rows[j]), row);
        st = ms_plan_run(n->planb, t->gather, n->out, err);
    } else {
        for (int j = 0; j < n->n_taken && st == MS_OK; j++)
            st = ms_plan_run(n->plan1, parent_row(t, n, frames, n->rows[j]), n->out + (size_t)j * (size_t)n->out_bytes,
                             err);
    }
    n->seconds += ms_now() - start;
    n->frames += n->n_taken;
    return st;
}

ms_status ms_exec_run(ms_exec_tree *t, const ms_frame *frames, int n, ms_score_fn on_score, void *ctx, ms_error *err)
{
    for (int i = 0; i < t->n_nodes; i++) {
        ms_exec_node *node = &t->nodes[i];
        ms_status st = run_node(t, node, frames, n, err);
        if (st != MS_OK) return st;
        if (node->kind != MS_EXEC_BRANCH) continue;
        for (int j = 0; j < node->n_taken; j++) {
            const ms_frame *f = frame_of(t, node, frames, node->rows[j]);
            float score;
            memcpy(&score, node->out + (size_t)j * sizeof score, sizeof score);
            on_score(ctx, node->app, f->index, f->seconds, score);
        }
    }
    return MS_OK;
}
