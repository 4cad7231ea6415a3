/* The "cpu" backend: compiles a graph into a oneDNN plan and runs it.
 *
 * Compiling fuses what oneDNN can fuse (a clip after a convolution, fully connected or
 * add becomes its eltwise post-op; a zero pad before a convolution becomes its padding),
 * lowers every node to primitives whose layouts oneDNN chooses (reorders appear only where
 * two primitives disagree, at the plan's ends, and before ops that need plain NHWC), and
 * creates every primitive, weight reorder and buffer once. Running binds the caller's
 * arrays and executes the primitives in order.
 *
 * Threads: Debian's oneDNN 2.6 is built with the OpenMP runtime (DNNL_CPU_RUNTIME ==
 * DNNL_RUNTIME_OMP), so the thread count is OpenMP's: compile and run set
 * omp_set_num_threads(opts.threads) on the calling thread (primitives size their work
 * split at creation) and restore the caller's setting afterwards.
 *
 * Frames per run: a single-threaded plan builds its primitives for one frame and runs
 * them once per frame of the batch. Measured on MobileNetV1 1.0_224 (AVX2, 1 thread),
 * oneDNN 2.6's convolutions at batch 8 take 20-50% longer per frame than at batch 1: the
 * batch's activations no longer fit the L2 cache, and one thread has no parallelism to
 * gain from the batch. With more threads the batch is split among them, so the
 * primitives take the whole batch. Frames of a batch are contiguous in every layout a
 * plan reads or writes (dn_frames_contiguous), so a run is a pointer offset.
 *
 * Training plans (forward keeping every activation, backward to the parameters' gradients)
 * are in dnnl_train.c. */
#include <math.h>
#include <oneapi/dnnl/dnnl_debug.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "backend/dnnl/dnnl_internal.h"

void dn_plan_free(ms_plan *base)
{
    dn_plan *p = (dn_plan *)base;
    if (!p) return;
    for (int i = 0; i < p->n_steps; i++) {
        dnnl_primitive_destroy(p->steps[i].prim);
        free(p->steps[i].args);
    }
    for (int i = 0; i < p->n_mems; i++) dnnl_memory_destroy(p->mems[i].mem);
    for (int i = 0; i < p->n_bufs; i++) free(p->bufs[i].data);
    free(p->steps);
    free(p->mems);
    free(p->bufs);
    free(p->scratch);
    if (p->stream) dnnl_stream_destroy(p->stream);
    if (p->engine) dnnl_engine_destroy(p->engine);
    free(p);
}

static bool is_graph_output(const ms_graph *g, int t)
{
    for (int i = 0; i < g->n_outputs; i++)
        if (g->outputs[i] == t) return true;
    return false;
}

/* Fuses clips into their producers and spatial zero pads into the convolution that
 * reads them, when nothing else reads the intermediate tensor. */
static void fuse(const ms_graph *g, dn_node *nodes, const int *readers, const int *producer)
{
    for (int j = 0; j < g->n_nodes; j++) {
        dn_node *d = &nodes[j];
        if (d->n.kind != MS_OP_CLIP || d->n.n_inputs != 1) continue;
        int t = d->in0, i = producer[t];
        if (i < 0 || readers[t] != 1 || is_graph_output(g, t)) continue;
        dn_node *src = &nodes[i];
        ms_op_kind k = src->n.kind;
        if (k != MS_OP_CONV2D && k != MS_OP_FULLY_CONNECTED && k != MS_OP_ADD) continue;
        if (d->n.act_min > src->n.act_min) src->n.act_min = d->n.act_min;
        if (d->n.act_max < src->n.act_max) src->n.act_max = d->n.act_max;
        src->n.output = d->n.output;
        d->skip = true;
    }
    for (int k = 0; k < g->n_nodes; k++) {
        dn_node *conv = &nodes[k];
        if (conv->n.kind != MS_OP_CONV2D) continue;
        int t = conv->in0, j = producer[t];
        if (j < 0 || readers[t] != 1 || is_graph_output(g, t)) continue;
        dn_node *pad = &nodes[j];
        if (pad->n.kind != MS_OP_PAD || pad->skip || g->tensors[t].ndim != 4) continue;
        const int(*pp)[2] = pad->n.pads;
        if (pp[0][0] || pp[0][1] || pp[3][0] || pp[3][1]) continue;
        conv->n.pad_top += pp[1][0];
        conv->n.pad_bottom += pp[1][1];
        conv->n.pad_left += pp[2][0];
        conv->n.pad_right += pp[2][1];
        conv->in0 = pad->in0;
        pad->skip = true;
    }
}

/* SAME padding as TensorFlow resolves it (out = ceil(in / stride), the odd pixel after),
 * for graphs whose importer set shapes without ms_graph_infer_shapes. */
static void same_pads(int64_t in, int k, int stride, int dilation, int *before, int *after)
{
    int64_t eff = (int64_t)(k - 1) * dilation + 1, out = (in + stride - 1) / stride;
    int64_t total = (out - 1) * stride + eff - in;
    if (total < 0) total = 0;
    *before = (int)(total / 2);
    *after = (int)(total - total / 2);
}

static void resolve_padding(const ms_graph *g, ms_node *n)
{
    if (n->kind != MS_OP_CONV2D && n->kind != MS_OP_AVG_POOL && n->kind != MS_OP_MAX_POOL) return;
    const ms_tensor *x = &g->tensors[n->inputs[0]];
    int kh = n->kernel_h, kw = n->kernel_w;
    if (n->kind == MS_OP_CONV2D && n->n_inputs > 1 && g->tensors[n->inputs[1]].ndim == 4) {
        kh = (int)g->tensors[n->inputs[1]].shape[1];
        kw = (int)g->tensors[n->inputs[1]].shape[2];
    }
    if (n->padding == MS_PAD_VALID) n->pad_top = n->pad_bottom = n->pad_left = n->pad_right = 0;
    if (n->padding != MS_PAD_SAME || x->ndim != 4) return;
    same_pads(x->shape[1], kh, n->stride_h, n->dilation_h, &n->pad_top, &n->pad_bottom);
    same_pads(x->shape[2], kw, n->stride_w, n->dilation_w, &n->pad_left, &n->pad_right);
}

/* Builds the fused node list and the last reader of every tensor. */
static ms_status prepare(dn_ctx *c, dn_node **out)
{
    const ms_graph *g = c->g;
    dn_node *nodes = calloc((size_t)g->n_nodes + 1, sizeof *nodes);
    int *readers = calloc((size_t)g->n_tensors + 1, sizeof *readers);
    int *producer = malloc(((size_t)g->n_tensors + 1) * sizeof *producer);
    if (!nodes || !readers || !producer) {
        free(nodes);
        free(readers);
        free(producer);
        return dn_nomem(c);
    }
    for (int t = 0; t < g->n_tensors; t++) producer[t] = -1;
    for (int i = 0; i < g->n_nodes; i++) {
        const ms_node *n = &g->nodes[i];
        bool ids_ok = n->n_inputs >= 1 && n->output >= 0 && n->output < g->n_tensors;
        for (int k = 0; ids_ok && k < n->n_inputs; k++) ids_ok = n->inputs[k] >= 0 && n->inputs[k] < g->n_tensors;
        if (!ids_ok) {
            free(nodes);
            free(readers);
            free(producer);
            return ms_errorf(c->err, MS_ERR_INVALID, "%s: node '%s' (%s) has no input, or a tensor id out of range",
                             g->source ? g->source : "graph", n->name, ms_op_name(n->kind));
        }
        nodes[i].n = *n;
        nodes[i].in0 = n->inputs[0];
        nodes[i].index = i;
        resolve_padding(g, &nodes[i].n);
        producer[n->output] = i;
        for (int k = 0; k < n->n_inputs; k++) readers[n->inputs[k]]++;
    }
    fuse(g, nodes, readers, producer);
    for (int t = 0; t < g->n_tensors; t++) c->last_use[t] = -1;
    for (int i = 0; i < g->n_nodes; i++) {
        if (nodes[i].skip) continue;
        c->last_use[nodes[i].in0] = i;
        for (int k = 1; k < nodes[i].n.n_inputs; k++) c->last_use[nodes[i].n.inputs[k]] = i;
    }
    for (int i = 0; i < g->n_outputs; i++) c->last_use[g->outputs[i]] = g->n_nodes;
    free(readers);
    free(producer);
    *out = nodes;
    return MS_OK;
}

/* Gives back the buffers of tensors whose last reader was node i, and the node's
 * temporaries. */
static void release_after(dn_ctx *c, const dn_node *d, int i)
{
    for (int k = 0; k < c->n_temps; k++) dn_buf_put(c, c->temps[k]);
    c->n_temps = 0;
    for (int k = 0; k < d->n.n_inputs; k++) {
        int t = k == 0 ? d->in0 : d->n.inputs[k];
        if (t < 0 || c->last_use[t] != i || !c->vals[t].ready) continue;
        dn_buf_put(c, c->vals[t].buf);
        c->last_use[t] = -2; /* released once even when a node reads it twice */
    }
}

/* Allocates every buffer at its final size and points each memory object at its own. */
ms_status dn_finish(dn_ctx *c)
{
    dn_plan *p = c->p;
    for (int i = 0; i < p->n_bufs; i++) {
        size_t size = (p->bufs[i].size + 63) / 64 * 64;
        p->bufs[i].data = aligned_alloc(64, size ? size : 64);
        if (!p->bufs[i].data) return dn_nomem(c);
        if (p->bufs[i].pinned) memset(p->bufs[i].data, 0, size);
    }
    if (p->scratch_size) {
        p->scratch = aligned_alloc(64, (p->scratch_size + 63) / 64 * 64);
        if (!p->scratch) return dn_nomem(c);
    }
    for (int i = 0; i < p->n_mems; i++) {
        int b = p->mems[i].buf;
        void *h = b >= 0 ? p->bufs[b].data : b == DN_BUF_SCRATCH ? p->scratch : NULL;
        if (h) DN_TRY(c, dnnl_memory_set_data_handle(p->mems[i].mem, h), "binding a buffer");
    }
    return MS_OK;
}

/* The layout of the plan's input: plain f32, or the output layout of the plan it reads
 * (input_from) at this plan's batch, which must have the input's shape. */
static ms_status input_md(dn_ctx *c, const ms_plan *from, dnnl_memory_desc_t *md)
{
    const ms_graph *g = c->g;
    int in = g->inputs[0];
    dnnl_memory_desc_t plain;
    dn_plain_md(c, in, dnnl_f32, &plain);
    *md = plain;
    if (!from) return MS_OK;
    const dn_plan *f = (const dn_plan *)from;
    bool same = f->out_md.ndims == plain.ndims;
    for (int d = 1; same && d < plain.ndims; d++) same = f->out_md.dims[d] == plain.dims[d];
    if (!same)
        return ms_errorf(c->err, MS_ERR_INVALID, "%s: input '%s' does not have the shape of the output it reads",
                         g->source ? g->source : "graph", g->tensors[in].name);
    dn_with_batch(&f->out_md, c->batch, md);
    return MS_OK;
}

/* A u8 input is read with the input tensor's quantisation, which is the producer's when
 * both come from one model. When it is not (an app's float head on an int8 stem), the
 * plan first dequantises it with the producer's parameters, in the same layout. */
static ms_status dequantise_input(dn_ctx *c, const ms_plan *from)
{
    const dn_plan *f = (const dn_plan *)from;
    dn_value *v = &c->vals[c->g->inputs[0]];
    const ms_tensor *x = &c->g->tensors[c->g->inputs[0]];
    if (v->md.data_type != dnnl_u8) return MS_OK;
    if (x->quant.n == 1 && x->quant.scale[0] == f->out_scale && x->quant.zero_point[0] == f->out_zp) return MS_OK;
    dnnl_memory_desc_t md = v->md;
    md.data_type = dnnl_f32;
    int buf = dn_buf_take(c, dnnl_memory_desc_get_size(&md), false);
    if (buf < 0) return dn_nomem(c);
    dnnl_memory_t m;
    ms_status st = dn_mem_new(c, &md, buf, &m);
    if (!st) st = dn_reorder_quant(c, f->out_scale, f->out_zp, &v->md, v->mem, &md, m);
    v->md = md;
    v->mem = m;
    v->buf = buf;
    return st;
}

static ms_status lower_graph(dn_ctx *c, const ms_plan *from)
{
    const ms_graph *g = c->g;
    int in = g->inputs[0];
    dnnl_memory_desc_t md;
    c->phase = "the plan's input";
    ms_status st = input_md(c, from, &md);
    if (st) return st;
    c->p->in_md = md;
    c->p->base.native_in = from != NULL;
    c->p->base.in_bytes = (int64_t)(dnnl_memory_desc_get_size(&md) / (size_t)c->batch);
    dn_value *v = &c->vals[in];
    v->ready = true;
    v->md = md;
    v->buf = DN_BUF_INPUT;
    st = dn_mem_new(c, &md, DN_BUF_INPUT, &v->mem);
    if (!st && from) st = dequantise_input(c, from);
    dn_node *nodes = NULL;
    if (!st) st = prepare(c, &nodes);
    for (int i = 0; !st && i < g->n_nodes; i++) {
        if (nodes[i].skip) continue;
        c->node = &nodes[i];
        st = dn_lower_node(c, &nodes[i]);
        if (!st) release_after(c, &nodes[i], i);
    }
    c->node = NULL;
    free(nodes);
    c->phase = "the plan's output";
    if (!st) st = dn_final_output(c, g->outputs[0]);
    c->phase = "the plan's buffers";
    if (!st) st = dn_finish(c);
    return st;
}

static ms_status dnnl_compile(const ms_graph *g, const ms_plan_options *opts, ms_plan **out, ms_error *err)
{
    int in = g->inputs[0], out_t = g->outputs[0];
    if (in < 0 || in >= g->n_tensors || out_t < 0 || out_t >= g->n_tensors)
        return ms_errorf(err, MS_ERR_INVALID, "%s: the graph's input or output tensor id is out of range",
                         g->source ? g->source : "graph");
    if (opts->input_from && opts->input_from->backend != &ms_backend_dnnl)
        return ms_errorf(err, MS_ERR_INVALID, "%s: a oneDNN plan cannot read the output of a '%s' plan",
                         g->source ? g->source : "graph", opts->input_from->backend->name);
    if (opts->precision != MS_PREC_FP32 && opts->precision != MS_PREC_INT8)
        return ms_errorf(err, MS_ERR_UNSUPPORTED, "%s: the cpu backend runs fp32 and int8 only",
                         g->source ? g->source : "graph");
    dn_plan *p = calloc(1, sizeof *p);
    int frames = opts->threads == 1 ? 1 : opts->batch;
    dn_ctx c = {.p = p, .g = g, .batch = frames, .precision = opts->precision,
                .native_output = opts->native_output, .err = err};
    c.vals = calloc((size_t)g->n_tensors + 1, sizeof *c.vals);
    c.last_use = calloc((size_t)g->n_tensors + 1, sizeof *c.last_use);
    if (!p || !c.vals || !c.last_use) {
        free(p);
        free(c.vals);
        free(c.last_use);
        return ms_errorf(err, MS_ERR_NOMEM, "%s: the plan's set-up: out of memory compiling a oneDNN plan",
                         g->source ? g->source : "graph");
    }
    p->base.backend = &ms_backend_dnnl;
    p->base.opts = *opts;
    p->frames = frames;
    p->base.in_numel = ms_tensor_numel(&g->tensors[in]);
    p->base.out_numel = ms_tensor_numel(&g->tensors[out_t]);
    int saved = omp_get_max_threads();
    omp_set_num_threads(opts->threads);
    ms_status st = MS_OK;
    dnnl_status_t s = dnnl_engine_create(&p->engine, dnnl_cpu, 0);
    if (s == dnnl_success) s = dnnl_stream_create(&p->stream, p->engine, dnnl_stream_default_flags);
    c.phase = "the plan's engine";
    if (s != dnnl_success) st = dn_fail(&c, s, "engine creation");
    if (!st) st = lower_graph(&c, opts->input_from);
    omp_set_num_threads(saved);
    free(c.vals);
    free(c.last_use);
    free(c.temps);
    if (st) {
        dn_plan_free(&p->base);
        return st;
    }
    *out = &p->base;
    return MS_OK;
}

/* A failed primitive of a run, named by its step and the node it was made for. */
static ms_status run_failed(const dn_plan *p, int step, dnnl_status_t s, ms_error *err)
{
    if (step >= p->n_steps)
        return ms_errorf(err, MS_ERR_BACKEND, "oneDNN plan: waiting for its stream failed: %s", dnnl_status2str(s));
    const dn_step *st = &p->steps[step];
    if (st->node < 0)
        return ms_errorf(err, MS_ERR_BACKEND, "oneDNN plan: step %d of %d (its input or output conversion) failed: %s",
                         step, p->n_steps, dnnl_status2str(s));
    return ms_errorf(err, MS_ERR_BACKEND, "oneDNN plan: step %d of %d (node %d, %s) failed: %s", step, p->n_steps,
                     st->node, ms_op_name(st->kind), dnnl_status2str(s));
}

static ms_status dnnl_run(ms_plan *base, const void *in, void *out, ms_error *err)
{
    dn_plan *p = (dn_plan *)base;
    int saved = omp_get_max_threads();
    omp_set_num_threads(base->opts.threads);
    dnnl_status_t s = dnnl_success;
    int step = 0;
    size_t in_step = (size_t)base->in_bytes * (size_t)p->frames, out_step = (size_t)base->out_bytes * (size_t)p->frames;
    for (int r = 0; s == dnnl_success && r < base->opts.batch / p->frames; r++) {
        /* The input memory is only ever read (it is the source of reorders and
         * convolutions), so handing oneDNN a non-const pointer to it is safe. */
        for (int i = 0; i < p->n_mems; i++) {
            int b = p->mems[i].buf;
            if (b == DN_BUF_INPUT) dnnl_memory_set_data_handle(p->mems[i].mem, (char *)in + r * in_step);
            if (b == DN_BUF_OUTPUT) dnnl_memory_set_data_handle(p->mems[i].mem, (char *)out + r * out_step);
        }
        for (step = 0; s == dnnl_success && step < p->n_steps; step++)
            s = dnnl_primitive_execute(p->steps[step].prim, p->stream, p->steps[step].n_args, p->steps[step].args);
        if (s != dnnl_success) step--; /* the one that failed */
        else s = dnnl_stream_wait(p->stream);
    }
    omp_set_num_threads(saved);
    if (s != dnnl_success) return run_failed(p, step, s, err);
    return MS_OK;
}

/* Converts `frames` frames of a native output to plain f32 with a reorder made for the
 * call (oneDNN's primitive cache keeps repeated ones cheap), dequantising u8. */
static ms_status dnnl_output_to_plain(ms_plan *base, const void *native, int frames, float *plain, ms_error *err)
{
    dn_plan *p = (dn_plan *)base;
    if (frames == 0) return MS_OK;
    dnnl_memory_desc_t src, dst;
    dn_with_batch(&p->out_md, frames, &src);
    static const dnnl_format_tag_t tags[] = {dnnl_a, dnnl_a, dnnl_ab, dnnl_abc, dnnl_acdb};
    if (src.ndims > 4) return ms_errorf(err, MS_ERR_UNSUPPORTED, "oneDNN plan: output of rank %d", src.ndims);
    dnnl_memory_desc_init_by_tag(&dst, src.ndims, src.dims, dnnl_f32, tags[src.ndims]);
    dnnl_primitive_attr_t attr = NULL;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_t prim = NULL;
    dnnl_memory_t from = NULL, to = NULL;
    int saved = omp_get_max_threads();
    omp_set_num_threads(base->opts.threads);
    dnnl_status_t s = dnnl_primitive_attr_create(&attr);
    if (s == dnnl_success && src.data_type == dnnl_u8) {
        s = dnnl_primitive_attr_set_output_scales(attr, 1, 0, &p->out_scale);
        if (s == dnnl_success && p->out_zp) s = dnnl_primitive_attr_set_zero_points(attr, DNNL_ARG_SRC, 1, 0, &p->out_zp);
    }
    if (s == dnnl_success) s = dnnl_reorder_primitive_desc_create(&pd, &src, p->engine, &dst, p->engine, attr);
    if (s == dnnl_success) s = dnnl_primitive_create(&prim, pd);
    if (s == dnnl_success) s = dnnl_memory_create(&from, &src, p->engine, (void *)native);
    if (s == dnnl_success) s = dnnl_memory_create(&to, &dst, p->engine, plain);
    if (s == dnnl_success) {
        dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}};
        s = dnnl_primitive_execute(prim, p->stream, 2, args);
    }
    if (s == dnnl_success) s = dnnl_stream_wait(p->stream);
    omp_set_num_threads(saved);
    if (to) dnnl_memory_destroy(to);
    if (from) dnnl_memory_destroy(from);
    if (prim) dnnl_primitive_destroy(prim);
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (attr) dnnl_primitive_attr_destroy(attr);
    if (s != dnnl_success)
        return ms_errorf(err, MS_ERR_BACKEND, "oneDNN plan: converting its output to plain floats failed: %s",
                         dnnl_status2str(s));
    return MS_OK;
}

static bool dnnl_same_output(const ms_plan *a, const ms_plan *b)
{
    dnnl_memory_desc_t x, y;
    dn_with_batch(&((const dn_plan *)a)->out_md, 1, &x);
    dn_with_batch(&((const dn_plan *)b)->out_md, 1, &y);
    return dnnl_memory_desc_equal(&x, &y) && ((const dn_plan *)a)->out_scale == ((const dn_plan *)b)->out_scale &&
           ((const dn_plan *)a)->out_zp == ((const dn_plan *)b)->out_zp;
}

const ms_backend ms_backend_dnnl = {.name = "cpu",
                                    .compile = dnnl_compile,
                                    .run = dnnl_run,
                                    .free = dn_plan_free,
                                    .output_to_plain = dnnl_output_to_plain,
                                    .same_output = dnnl_same_output,
                                    .train_compile = dn_train_compile,
                                    .train_forward = dn_train_forward,
                                    .train_backward = dn_train_backward,
                                    .train_free = dn_train_free};
