/* The executor of one stream's stem tree: compiled segments of the shared stem and the
 * apps' branches, each with its sampler, run over chunks of frames.
 *
 * Nodes are kept parents first. A node's input is its parent's output (the stream's
 * converted frames for a root node); it runs only on the frames its sampler takes among
 * those its parent took (sample.h), so a shared segment is computed once per frame for
 * all its descendants. A chunk holds up to `batch` frames; each node runs once per chunk
 * on all its frames (one batched run when it took the full chunk, frame by frame
 * otherwise), so batching never changes which frames a node sees. A branch's output is
 * one probability per frame, handed to the score callback in frame order.
 *
 * Segments keep their output in the backend's native layout (ms_plan_options
 * native_output) and their children read it as such (input_from), so no activation is
 * converted to plain NHWC floats and back between two plans of one stream; rows are
 * gathered by bytes per frame. A segment whose batch-1 and batch-N plans would lay
 * their outputs out differently falls back to plain floats. */
#ifndef MS_RUN_EXEC_H
#define MS_RUN_EXEC_H

#include <stdbool.h>
#include <stdint.h>

#include "backend/backend.h"
#include "graph/graph.h"
#include "run/sample.h"
#include "run/stream.h"

typedef enum { MS_EXEC_SEGMENT, MS_EXEC_BRANCH } ms_exec_kind;

typedef struct {
    ms_exec_kind kind;
    int parent;         /* node index, -1: the stream's frames */
    int from, to;       /* chokepoints: a segment covers [from, to); a branch starts at from (to = -1) */
    int app;            /* branch: the app's index in the deployment; -1 for segments */
    double rate;        /* planned samples per second */
    double planned_ms;  /* planned cost of one frame (profile units) */
    ms_plan *plan1;     /* batch 1 */
    ms_plan *planb;     /* batch `batch` (NULL when batch == 1) */
    bool borrowed;      /* the plans belong to someone else (a plan cache): not freed with the tree */
    int64_t in_numel, out_numel;
    int64_t in_bytes, out_bytes; /* per frame, as the plans read and write them */
    ms_sampler sampler;
    /* the current chunk */
    int n_taken;
    int *rows;          /* row of the parent's output for each frame taken */
    unsigned char *out; /* batch * out_bytes; a branch's is plain floats */
    /* observed */
    int64_t frames;     /* frames run */
    double seconds;     /* wall time spent running */
} ms_exec_node;

typedef struct {
    const ms_backend *backend;
    ms_plan_options opts; /* batch is the chunk size */
    double stream_fps;
    int n_nodes, cap_nodes;
    ms_exec_node *nodes;
    unsigned char *gather; /* batch * largest input (bytes) */
    int64_t frame_numel;  /* the stream frame's size (the base model's input) */
} ms_exec_tree;

void ms_exec_init(ms_exec_tree *t, const ms_backend *b, const ms_plan_options *opts, double stream_fps,
                  int64_t frame_numel);

/* Compiles g (one input, one output; not kept) as a node under `parent` and returns its
 * index in *index. The parent's output must have g's input size. A segment's output
 * stays in the backend's layout; a branch's is one plain float per frame. */
ms_status ms_exec_add(ms_exec_tree *t, ms_exec_kind kind, int parent, int from, int to, int app, double rate,
                      double planned_ms, const ms_graph *g, int *index, ms_error *err);

/* The batch-1 and batch-N plans of a node of `kind` reading from's output (NULL: plain
 * frames), as ms_exec_add compiles them (opts.batch: the chunk size). */
ms_status ms_exec_compile(const ms_backend *b, const ms_plan_options *opts, ms_exec_kind kind, const ms_graph *g,
                          const ms_plan *from, ms_plan **plan1, ms_plan **planb, ms_error *err);

/* Adds a node with plans compiled already (ms_exec_compile against the parent's plan1);
 * borrowed: the tree does not free them. On failure, plans it owns are freed. */
ms_status ms_exec_add_plans(ms_exec_tree *t, ms_exec_kind kind, int parent, int from, int to, int app, double rate,
                            double planned_ms, ms_plan *plan1, ms_plan *planb, bool borrowed, int *index,
                            ms_error *err);

/* The largest rate of the root nodes: the rate the stream must offer frames at. */
double ms_exec_root_rate(const ms_exec_tree *t);

typedef void (*ms_score_fn)(void *ctx, int app, int64_t frame, double seconds, float score);

/* Runs every node over frames[0..n) (n <= batch, increasing indices). */
ms_status ms_exec_run(ms_exec_tree *t, const ms_frame *frames, int n, ms_score_fn on_score, void *ctx,
                      ms_error *err);

void ms_exec_free(ms_exec_tree *t);

#endif
