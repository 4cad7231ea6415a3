/* The oneDNN plan's machinery: buffers, memory objects, reorders, emitting primitives,
 * and the descriptors every lowering starts from. What each op becomes is in dnnl_ops.c
 * (fp32) and dnnl_int8.c. */
#include <float.h>
#include <math.h>
#include <oneapi/dnnl/dnnl_debug.h>
#include <stdlib.h>
#include <string.h>

#include "backend/dnnl/dnnl_internal.h"

ms_status dn_fail(dn_ctx *c, dnnl_status_t s, const char *what)
{
    const char *src = c->g->source ? c->g->source : "graph";
    if (!c->node)
        return ms_errorf(c->err, MS_ERR_BACKEND, "%s: %s: oneDNN %s failed: %s", src,
                         c->phase ? c->phase : "plan set-up", what, dnnl_status2str(s));
    return ms_errorf(c->err, MS_ERR_BACKEND, "%s: node '%s' (%s): oneDNN %s failed: %s", src,
                     c->node->n.name, ms_op_name(c->node->n.kind), what, dnnl_status2str(s));
}

ms_status dn_nomem(dn_ctx *c)
{
    const char *src = c->g->source ? c->g->source : "graph";
    if (!c->node)
        return ms_errorf(c->err, MS_ERR_NOMEM, "%s: %s: out of memory compiling a oneDNN plan", src,
                         c->phase ? c->phase : "plan set-up");
    return ms_errorf(c->err, MS_ERR_NOMEM, "%s: node '%s' (%s): out of memory compiling a oneDNN plan", src,
                     c->node->n.name, ms_op_name(c->node->n.kind));
}

void dn_plain_md(const dn_ctx *c, int t, dnnl_data_type_t dt, dnnl_memory_desc_t *md)
{
    const ms_tensor *x = &c->g->tensors[t];
    dnnl_dims_t dims;
    int nd = x->ndim;
    if (nd == 0) {
        dims[0] = c->batch;
        nd = 1;
    } else if (nd == 4) {
        dims[0] = c->batch;
        dims[1] = x->shape[3];
        dims[2] = x->shape[1];
        dims[3] = x->shape[2];
    } else {
        dims[0] = c->batch;
        for (int i = 1; i < nd; i++) dims[i] = x->shape[i];
    }
    static const dnnl_format_tag_t tags[] = {dnnl_a, dnnl_a, dnnl_ab, dnnl_abc, dnnl_acdb};
    dnnl_memory_desc_init_by_tag(md, nd, dims, dt, tags[nd]);
}

int dn_dim(int ndim, int d)
{
    static const int nhwc[4] = {0, 2, 3, 1};
    return ndim == 4 ? nhwc[d] : d;
}

/* Constant t's plain descriptor right-aligned to ndim dimensions (1 where it has none,
 * so that it broadcasts), with 4-D in oneDNN's N, C, H, W order and the nhwc tag. */
void dn_const_md(const dn_ctx *c, int t, int ndim, dnnl_memory_desc_t *md)
{
    const ms_tensor *x = &c->g->tensors[t];
    dnnl_dims_t dims;
    for (int d = 0; d < ndim; d++) dims[d] = 1;
    for (int d = 0; d < x->ndim && d < ndim; d++) dims[dn_dim(ndim, ndim - x->ndim + d)] = x->shape[d];
    static const dnnl_format_tag_t tags[] = {dnnl_a, dnnl_a, dnnl_ab, dnnl_abc, dnnl_acdb};
    dnnl_memory_desc_init_by_tag(md, ndim, dims, dnnl_f32, tags[ndim]);
}

void dn_any_md(const dnnl_memory_desc_t *plain, dnnl_data_type_t dt, dnnl_memory_desc_t *md)
{
    dnnl_memory_desc_init_by_tag(md, plain->ndims, plain->dims, dt, dnnl_format_tag_any);
}

ms_status dn_attr(dn_ctx *c, dnnl_primitive_attr_t *attr)
{
    *attr = NULL; /* callers destroy it on their own failures: never an unset handle */
    dnnl_primitive_attr_t a = NULL;
    DN_TRY(c, dnnl_primitive_attr_create(&a), "attribute creation");
    *attr = a;
    dnnl_status_t s = dnnl_primitive_attr_set_scratchpad_mode(*attr, dnnl_scratchpad_mode_user);
    if (s != dnnl_success) {
        dnnl_primitive_attr_destroy(*attr);
        *attr = NULL;
        return dn_fail(c, s, "scratchpad mode");
    }
    return MS_OK;
}

ms_status dn_attr_act(dn_ctx *c, dnnl_primitive_attr_t attr, float lo, float hi, float scale)
{
    if (lo == -INFINITY && hi == INFINITY) return MS_OK;
    dnnl_post_ops_t po;
    DN_TRY(c, dnnl_post_ops_create(&po), "post-op creation");
    dnnl_status_t s;
    if (lo == 0.0f && hi == INFINITY) {
        s = dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_relu, 0.0f, 0.0f);
    } else {
        float a = lo == -INFINITY ? -FLT_MAX : lo / scale;
        float b = hi == INFINITY ? FLT_MAX : hi / scale;
        s = dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_clip, a, b);
    }
    if (s == dnnl_success) s = dnnl_primitive_attr_set_post_ops(attr, po);
    dnnl_post_ops_destroy(po);
    if (s != dnnl_success) return dn_fail(c, s, "activation post-op");
    return MS_OK;
}

static int grow(void **arr, int n, size_t elem)
{
    void *p = realloc(*arr, ((size_t)n + 1) * elem);
    if (!p) return -1;
    *arr = p;
    return 0;
}

ms_status dn_mem_new(dn_ctx *c, const dnnl_memory_desc_t *md, int buf, dnnl_memory_t *out)
{
    dn_plan *p = c->p;
    if (grow((void **)&p->mems, p->n_mems, sizeof *p->mems))
        return dn_nomem(c);
    DN_TRY(c, dnnl_memory_create(out, md, p->engine, DNNL_MEMORY_NONE), "memory creation");
    p->mems[p->n_mems].mem = *out;
    p->mems[p->n_mems].buf = buf;
    p->n_mems++;
    return MS_OK;
}

ms_status dn_const(dn_ctx *c, const dnnl_memory_desc_t *src_md, const void *src,
                   const dnnl_memory_desc_t *md, dnnl_memory_t *out)
{
    dnnl_memory_t from = NULL, to = NULL;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_t prim = NULL;
    dnnl_status_t s = dnnl_memory_create(&from, src_md, c->p->engine, (void *)src);
    if (s == dnnl_success) s = dnnl_memory_create(&to, md, c->p->engine, DNNL_MEMORY_ALLOCATE);
    if (s == dnnl_success)
        s = dnnl_reorder_primitive_desc_create(&pd, src_md, c->p->engine, md, c->p->engine, NULL);
    if (s == dnnl_success) s = dnnl_primitive_create(&prim, pd);
    if (s == dnnl_success) {
        dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}};
        s = dnnl_primitive_execute(prim, c->p->stream, 2, args);
    }
    if (s == dnnl_success) s = dnnl_stream_wait(c->p->stream);
    if (prim) dnnl_primitive_destroy(prim);
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (from) dnnl_memory_destroy(from);
    if (s != dnnl_success) {
        if (to) dnnl_memory_destroy(to);
        return dn_fail(c, s, "constant reorder");
    }
    dn_plan *p = c->p;
    if (grow((void **)&p->mems, p->n_mems, sizeof *p->mems)) {
        dnnl_memory_destroy(to);
        return dn_nomem(c);
    }
    p->mems[p->n_mems].mem = to;
    p->mems[p->n_mems].buf = DN_BUF_OWNED;
    p->n_mems++;
    *out = to;
    return MS_OK;
}

int dn_buf_take(dn_ctx *c, size_t size, bool pinned)
{
    dn_plan *p = c->p;
    int best = -1;
    if (!pinned) {
        /* Best fit among free buffers; a free one that is too small is grown instead of
         * opening a new one (buffers are virtual until the plan is finished). */
        for (int i = 0; i < p->n_bufs; i++) {
            dn_buf *b = &p->bufs[i];
            if (b->refs || b->pinned) continue;
            if (best < 0) {
                best = i;
                continue;
            }
            size_t bs = p->bufs[best].size;
            bool fits = b->size >= size, best_fits = bs >= size;
            if ((fits && (!best_fits || b->size < bs)) || (!fits && !best_fits && b->size > bs)) best = i;
        }
    }
    if (best < 0) {
        if (grow((void **)&p->bufs, p->n_bufs, sizeof *p->bufs)) return -1;
        best = p->n_bufs++;
        memset(&p->bufs[best], 0, sizeof p->bufs[best]);
        p->bufs[best].pinned = pinned;
    }
    if (p->bufs[best].size < size) p->bufs[best].size = size;
    p->bufs[best].refs = 1;
    return best;
}

void dn_buf_put(dn_ctx *c, int buf)
{
    if (buf >= 0 && c->p->bufs[buf].refs > 0) c->p->bufs[buf].refs--;
}

ms_status dn_emit(dn_ctx *c, dnnl_primitive_desc_t pd, const dnnl_exec_arg_t *args, int n_args)
{
    dn_plan *p = c->p;
    dnnl_primitive_t prim = NULL;
    dnnl_exec_arg_t *a = malloc(((size_t)n_args + 1) * sizeof *a);
    if (!a || grow((void **)&p->steps, p->n_steps, sizeof *p->steps)) {
        free(a);
        dnnl_primitive_desc_destroy(pd);
        return dn_nomem(c);
    }
    memcpy(a, args, (size_t)n_args * sizeof *a);
    const dnnl_memory_desc_t *smd = dn_pd_md(pd, dnnl_query_scratchpad_md);
    size_t ssize = smd ? dnnl_memory_desc_get_size(smd) : 0;
    if (ssize) {
        dnnl_memory_t sm;
        ms_status st = dn_mem_new(c, smd, DN_BUF_SCRATCH, &sm);
        if (st) {
            free(a);
            dnnl_primitive_desc_destroy(pd);
            return st;
        }
        if (ssize > p->scratch_size) p->scratch_size = ssize;
        a[n_args].arg = DNNL_ARG_SCRATCHPAD;
        a[n_args].memory = sm;
        n_args++;
    }
    dnnl_status_t s = dnnl_primitive_create(&prim, pd);
    dnnl_primitive_desc_destroy(pd);
    if (s != dnnl_success) {
        free(a);
        return dn_fail(c, s, "primitive creation");
    }
    p->steps[p->n_steps].prim = prim;
    p->steps[p->n_steps].args = a;
    p->steps[p->n_steps].n_args = n_args;
    p->steps[p->n_steps].node = c->node ? c->node->index : -1;
    p->steps[p->n_steps].kind = c->node ? c->node->n.kind : MS_OP_COPY;
    p->n_steps++;
    return MS_OK;
}

const dnnl_memory_desc_t *dn_pd_md(dnnl_primitive_desc_t pd, dnnl_query_t what)
{
    return dnnl_primitive_desc_query_md(pd, what, 0);
}

/* Quantisation of tensor t (per tensor only), for converting between u8 and f32. */
static ms_status tensor_quant(dn_ctx *c, int t, float *scale, int32_t *zp)
{
    const ms_tensor *x = &c->g->tensors[t];
    if (x->quant.n != 1)
        return ms_errorf(c->err, MS_ERR_UNSUPPORTED, "%s: tensor '%s': int8 needs per-tensor quantisation, has %d scales",
                         c->g->source ? c->g->source : "graph", x->name, x->quant.n);
    *scale = x->quant.scale[0];
    *zp = x->quant.zero_point[0];
    return MS_OK;
}

ms_status dn_reorder_quant(dn_ctx *c, float scale, int32_t zp, const dnnl_memory_desc_t *src_md, dnnl_memory_t src,
                           const dnnl_memory_desc_t *dst_md, dnnl_memory_t dst)
{
    dnnl_primitive_attr_t attr;
    ms_status st = dn_attr(c, &attr);
    if (st) return st;
    dnnl_status_t s = dnnl_success;
    if (src_md->data_type != dst_md->data_type) {
        bool to_int = dst_md->data_type == dnnl_u8;
        float os = to_int ? 1.0f / scale : scale;
        s = dnnl_primitive_attr_set_output_scales(attr, 1, 0, &os);
        if (s == dnnl_success && zp)
            s = dnnl_primitive_attr_set_zero_points(attr, to_int ? DNNL_ARG_DST : DNNL_ARG_SRC, 1, 0, &zp);
    }
    dnnl_primitive_desc_t pd = NULL;
    if (s == dnnl_success)
        s = dnnl_reorder_primitive_desc_create(&pd, src_md, c->p->engine, dst_md, c->p->engine, attr);
    dnnl_primitive_attr_destroy(attr);
    if (s != dnnl_success) return dn_fail(c, s, "reorder");
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, src}, {DNNL_ARG_TO, dst}};
    return dn_emit(c, pd, args, 2);
}

/* Appends a reorder from src (tensor t's data, layout src_md) into dst (layout dst_md),
 * dequantising u8 -> f32 or quantising f32 -> u8 with t's parameters. */
ms_status dn_reorder(dn_ctx *c, int t, const dnnl_memory_desc_t *src_md, dnnl_memory_t src,
                     const dnnl_memory_desc_t *dst_md, dnnl_memory_t dst)
{
    float scale = 1.0f;
    int32_t zp = 0;
    if (src_md->data_type != dst_md->data_type) {
        ms_status st = tensor_quant(c, t, &scale, &zp);
        if (st) return st;
    }
    return dn_reorder_quant(c, scale, zp, src_md, src, dst_md, dst);
}

ms_status dn_input(dn_ctx *c, int t, const dnnl_memory_desc_t *want, dnnl_memory_t *out)
{
    int buf;
    return dn_input_buf(c, t, want, out, &buf);
}

void dn_f32_md(const dn_ctx *c, int t, dnnl_memory_desc_t *md)
{
    if (c->vals[t].ready && c->vals[t].md.data_type == dnnl_f32)
        *md = c->vals[t].md;
    else
        dn_plain_md(c, t, dnnl_f32, md);
}

ms_status dn_input_buf(dn_ctx *c, int t, const dnnl_memory_desc_t *want, dnnl_memory_t *out,
                       int *bufp)
{
    dn_value *v = &c->vals[t];
    if (!v->ready)
        return ms_errorf(c->err, MS_ERR_INVALID, "%s: node '%s' reads tensor '%s' before any node writes it",
                         c->g->source ? c->g->source : "graph", c->node ? c->node->n.name : "?",
                         c->g->tensors[t].name);
    if (dnnl_memory_desc_equal(&v->md, want)) {
        *out = v->mem;
        *bufp = v->buf;
        return MS_OK;
    }
    int buf = dn_buf_take(c, dnnl_memory_desc_get_size(want), false);
    *bufp = buf;
    int *tp = buf < 0 ? NULL : realloc(c->temps, ((size_t)c->n_temps + 1) * sizeof *c->temps);
    if (!tp) return dn_nomem(c);
    c->temps = tp;
    c->temps[c->n_temps++] = buf;
    ms_status st = dn_mem_new(c, want, buf, out);
    if (st) return st;
    return dn_reorder(c, t, &v->md, v->mem, want, *out);
}

ms_status dn_output(dn_ctx *c, int t, const dnnl_memory_desc_t *md, dnnl_memory_t *out)
{
    /* A native graph output is written straight into the caller's array. */
    bool direct = c->native_output && t == c->g->outputs[0] && dn_frames_contiguous(md);
    int buf = direct ? DN_BUF_OUTPUT : dn_buf_take(c, dnnl_memory_desc_get_size(md), false);
    if (!direct && buf < 0) return dn_nomem(c);
    dn_value *v = &c->vals[t];
    v->ready = true;
    v->md = *md;
    v->buf = buf;
    ms_status st = dn_mem_new(c, md, buf, &v->mem);
    *out = v->mem;
    return st;
}

ms_status dn_alias(dn_ctx *c, int t, int buf, const dnnl_memory_desc_t *md)
{
    dn_value *v = &c->vals[t];
    v->ready = true;
    v->md = *md;
    v->buf = buf;
    if (buf >= 0) c->p->bufs[buf].refs++;
    return dn_mem_new(c, md, buf, &v->mem);
}

bool dn_frames_contiguous(const dnnl_memory_desc_t *md)
{
    if (md->format_kind != dnnl_blocked || md->offset0 != 0 || md->ndims < 1) return false;
    if (md->padded_dims[0] != md->dims[0] || md->padded_offsets[0] != 0) return false;
    const dnnl_blocking_desc_t *b = &md->format_desc.blocking;
    int64_t blk[DNNL_MAX_NDIMS], inner = 1;
    for (int d = 0; d < md->ndims; d++) blk[d] = 1;
    for (int k = 0; k < b->inner_nblks; k++) {
        if (b->inner_idxs[k] == 0) return false;
        blk[b->inner_idxs[k]] *= b->inner_blks[k];
        inner *= b->inner_blks[k];
    }
    /* The last element of a frame, relative to its first, must come before the next
     * frame's first; and the frames together must fill the whole memory. */
    int64_t last = inner - 1;
    for (int d = 1; d < md->ndims; d++) last += b->strides[d] * (md->padded_dims[d] / blk[d] - 1);
    size_t frame = (size_t)b->strides[0] * dnnl_data_type_size(md->data_type);
    return last < b->strides[0] && frame * (size_t)md->dims[0] == dnnl_memory_desc_get_size(md);
}

void dn_with_batch(const dnnl_memory_desc_t *md, int64_t batch, dnnl_memory_desc_t *out)
{
    *out = *md;
    out->dims[0] = batch;
    out->padded_dims[0] = batch;
}

/* The graph's output in the caller's array: plain f32, or the value's own layout for a
 * native output (plain in its data type when that layout splits frames). */
ms_status dn_final_output(dn_ctx *c, int t)
{
    dn_value *v = &c->vals[t];
    if (!v->ready)
        return ms_errorf(c->err, MS_ERR_INVALID, "%s: no node computes the output tensor '%s'",
                         c->g->source ? c->g->source : "graph", c->g->tensors[t].name);
    dn_plan *p = c->p;
    if (c->native_output && v->buf == DN_BUF_OUTPUT) {
        p->out_md = v->md;
    } else if (c->native_output && dn_frames_contiguous(&v->md)) {
        p->out_md = v->md;
    } else {
        dn_plain_md(c, t, c->native_output ? v->md.data_type : dnnl_f32, &p->out_md);
    }
    if (p->out_md.data_type == dnnl_u8) {
        ms_status st = tensor_quant(c, t, &p->out_scale, &p->out_zp);
        if (st) return st;
    }
    p->base.native_out = c->native_output;
    p->base.out_bytes = (int64_t)(dnnl_memory_desc_get_size(&p->out_md) / (size_t)c->batch);
    if (v->buf == DN_BUF_OUTPUT) return MS_OK;
    dnnl_memory_t out;
    ms_status st = dn_mem_new(c, &p->out_md, DN_BUF_OUTPUT, &out);
    if (st) return st;
    return dn_reorder(c, t, &v->md, v->mem, &p->out_md, out);
}
