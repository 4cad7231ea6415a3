/* Chokepoints and segments.
 *
 * A chokepoint is a cut of the graph's node list where one tensor carries all state from
 * the nodes before it to the nodes after it, at a block boundary of the network (never
 * inside a depthwise-separable pair or an inverted-residual block). Index 0 is the input;
 * the last one is the tensor entering the classifier. Cutting at any two chokepoints
 * gives a segment that runs on its own. */
#ifndef MS_GRAPH_CUT_H
#define MS_GRAPH_CUT_H

#include "graph/graph.h"

typedef struct {
    int tensor;          /* the tensor crossing the cut */
    int node_end;        /* nodes [0, node_end) lie before the cut */
    int64_t macs_before; /* multiply-adds of those nodes */
    int64_t macs_after;
} ms_chokepoint;

/* Finds the graph's chokepoints in order; *out is malloc'd. */
ms_status ms_graph_chokepoints(const ms_graph *g, ms_chokepoint **out, int *n, ms_error *err);

/* Builds a stand-alone graph of nodes [node_begin, node_end) of g: its input is the one
 * tensor entering the range, its output the one leaving it (both must be single
 * tensors, as at chokepoints). node_end == g->n_nodes means up to the graph's output.
 * Constant tensors are copied, so the segment outlives g. */
ms_status ms_graph_segment(const ms_graph *g, int node_begin, int node_end, ms_graph **out,
                           ms_error *err);

#endif
