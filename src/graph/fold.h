/* Graph rewrites that keep a graph's outputs while making it cheaper to run. */
#ifndef MS_GRAPH_FOLD_H
#define MS_GRAPH_FOLD_H

#include "graph/graph.h"

/* Folds every batch-norm node that directly follows a convolution into that
 * convolution's weights and bias (a bias is created when there is none) and removes
 * it. A pair is left alone when the conv's output has another reader or is a graph
 * output, when the conv has a fused activation, or when weights or batch-norm
 * parameters are not constants. Folded weights lose their quantised bytes (they no
 * longer match). The conv's old output tensor is left in the tensor list, read by no
 * node, so tensor ids stay valid. Needs shapes inferred. */
ms_status ms_graph_fold_batch_norm(ms_graph *g, ms_error *err);

#endif
