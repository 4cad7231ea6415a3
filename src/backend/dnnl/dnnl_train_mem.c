/* The oneDNN train plan's buffers and conversions: persistent buffers (activations,
 * gradients, kept conversions), temporaries reused from node to node in the backward
 * pass, and the accumulation of a tensor's gradient from all the nodes that read it. */
#include <stdlib.h>

#include "backend/dnnl/dnnl_train.h"
#include "backend/ref/backward.h"

const char *dt_gname(const ms_graph *g) { return g->source ? g->source : "graph"; }

ms_status dt_nomem(dt_ctx *x) { return ms_errorf(x->c.err, MS_ERR_NOMEM, "out of memory compiling a oneDNN train plan"); }

ms_status dt_unsupported(dt_ctx *x, const ms_node *n, const char *why)
{
    return ms_errorf(x->c.err, MS_ERR_UNSUPPORTED, "%s: node '%s' (%s): %s", dt_gname(x->c.g), n->name,
                     ms_op_name(n->kind), why);
}

bool dt_has_params(const ms_node *n) { return n->kind == MS_OP_CONV2D || n->kind == MS_OP_FULLY_CONNECTED; }

/* The ops whose forward clamps (ref's list: the others ignore act_min and act_max). */
bool dt_clamps(const ms_node *n)
{
    switch (n->kind) {
    case MS_OP_CONV2D: case MS_OP_FULLY_CONNECTED: case MS_OP_BATCH_NORM: case MS_OP_AVG_POOL:
    case MS_OP_MAX_POOL: case MS_OP_GLOBAL_AVG_POOL: case MS_OP_MEAN: case MS_OP_ADD:
        return ref_has_act(n);
    default: return false;
    }
}

bool dt_same_md(const dnnl_memory_desc_t *a, const dnnl_memory_desc_t *b) { return dnnl_memory_desc_equal(a, b); }

/* A buffer of its own (never reused, zeroed once) holding md. */
ms_status dt_persistent(dt_ctx *x, const dnnl_memory_desc_t *md, dnnl_memory_t *mem, int *buf)
{
    int b = dn_buf_take(&x->c, dnnl_memory_desc_get_size(md), true);
    if (b < 0) return dt_nomem(x);
    if (buf) *buf = b;
    return dn_mem_new(&x->c, md, b, mem);
}

/* A buffer that lives until the current node's backward is lowered. */
ms_status dt_temp(dt_ctx *x, const dnnl_memory_desc_t *md, dnnl_memory_t *mem, int *buf)
{
    dn_ctx *c = &x->c;
    int b = dn_buf_take(c, dnnl_memory_desc_get_size(md), false);
    int *tp = b < 0 ? NULL : realloc(c->temps, ((size_t)c->n_temps + 1) * sizeof *c->temps);
    if (!tp) return dt_nomem(x);
    c->temps = tp;
    c->temps[c->n_temps++] = b;
    if (buf) *buf = b;
    return dn_mem_new(c, md, b, mem);
}

void dt_release_temps(dt_ctx *x)
{
    for (int k = 0; k < x->c.n_temps; k++) dn_buf_put(&x->c, x->c.temps[k]);
    x->c.n_temps = 0;
}

/* A memory object over a caller-visible array (a parameter's value or gradient). */
ms_status dt_user_mem(dt_ctx *x, const dnnl_memory_desc_t *md, float *data, dnnl_memory_t *mem)
{
    ms_status st = dn_mem_new(&x->c, md, DN_BUF_OWNED, mem);
    if (!st && dnnl_memory_set_data_handle(*mem, data) != dnnl_success) st = dt_nomem(x);
    return st;
}

/* Tensor t's forward value in layout want: its own memory, a conversion made in the
 * forward pass (kept), or, while lowering the backward pass, a temporary one. */
ms_status dt_value_as(dt_ctx *x, int t, const dnnl_memory_desc_t *want, dnnl_memory_t *mem, int *buf)
{
    dn_value *v = &x->c.vals[t];
    int b;
    if (!buf) buf = &b;
    if (!v->ready)
        return ms_errorf(x->c.err, MS_ERR_INVALID, "%s: tensor '%s' is read before any node writes it",
                         dt_gname(x->c.g), x->c.g->tensors[t].name);
    if (dt_same_md(&v->md, want)) {
        *mem = v->mem;
        *buf = v->buf;
        return MS_OK;
    }
    for (int i = 0; i < x->n_copies; i++)
        if (x->copies[i].t == t && dt_same_md(&x->copies[i].md, want)) {
            *mem = x->copies[i].mem;
            *buf = x->copies[i].buf;
            return MS_OK;
        }
    ms_status st;
    if (x->backward) {
        st = dt_temp(x, want, mem, buf);
    } else {
        dt_copy *cp = realloc(x->copies, ((size_t)x->n_copies + 1) * sizeof *cp);
        if (!cp) return dt_nomem(x);
        x->copies = cp;
        st = dt_persistent(x, want, mem, buf);
        if (!st) x->copies[x->n_copies++] = (dt_copy){t, *want, *mem, *buf};
    }
    if (!st) st = dn_reorder(&x->c, t, &v->md, v->mem, want, *mem);
    return st;
}

/* The gradient of t in layout want (for reading). */
ms_status dt_grad_as(dt_ctx *x, int t, const dnnl_memory_desc_t *have_md, dnnl_memory_t have,
                     const dnnl_memory_desc_t *want, dnnl_memory_t *mem)
{
    if (dt_same_md(have_md, want)) {
        *mem = have;
        return MS_OK;
    }
    ms_status st = dt_temp(x, want, mem, NULL);
    if (!st) st = dn_reorder(&x->c, t, have_md, have, want, *mem);
    return st;
}

/* Adds a contribution (mem in layout md) to the gradient of t: a copy for the first, a
 * reorder with a sum post-op for the others. Nothing when t needs no gradient. */
ms_status dt_grad_add(dt_ctx *x, int t, const dnnl_memory_desc_t *md, dnnl_memory_t mem)
{
    dn_value *gv = &x->grads[t];
    if (!gv->ready) return MS_OK;
    dnnl_primitive_attr_t attr;
    ms_status st = dn_attr(&x->c, &attr);
    if (st) return st;
    dnnl_status_t s = dnnl_success;
    if (x->written[t]) {
        dnnl_post_ops_t po;
        s = dnnl_post_ops_create(&po);
        if (s == dnnl_success) {
            s = dnnl_post_ops_append_sum(po, 1.0f);
            if (s == dnnl_success) s = dnnl_primitive_attr_set_post_ops(attr, po);
            dnnl_post_ops_destroy(po);
        }
    }
    dnnl_primitive_desc_t pd = NULL;
    if (s == dnnl_success)
        s = dnnl_reorder_primitive_desc_create(&pd, md, x->c.p->engine, &gv->md, x->c.p->engine, attr);
    dnnl_primitive_attr_destroy(attr);
    if (s != dnnl_success) return dn_fail(&x->c, s, "gradient accumulation");
    x->written[t] = true;
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, mem}, {DNNL_ARG_TO, gv->mem}};
    return dn_emit(&x->c, pd, args, 2);
}

/* Where a primitive writes its input gradient for t in layout md: straight into t's
 * gradient when it is the first and the layouts agree, else a temporary that
 * grad_commit adds. *mem is NULL when t needs no gradient. */
ms_status dt_grad_target(dt_ctx *x, int t, const dnnl_memory_desc_t *md, dnnl_memory_t *mem, bool *direct)
{
    *direct = false;
    *mem = NULL;
    if (!x->grads[t].ready) return MS_OK;
    if (!x->written[t] && dt_same_md(md, &x->grads[t].md)) {
        *direct = true;
        *mem = x->grads[t].mem;
        return MS_OK;
    }
    return dt_temp(x, md, mem, NULL);
}

ms_status dt_grad_commit(dt_ctx *x, int t, const dnnl_memory_desc_t *md, dnnl_memory_t mem, bool direct)
{
    if (direct) {
        x->written[t] = true;
        return MS_OK;
    }
    return dt_grad_add(x, t, md, mem);
}

/* Makes tensor t's forward value a fresh buffer of its own in layout md. */
ms_status dt_new_value(dt_ctx *x, int t, const dnnl_memory_desc_t *md, dnnl_memory_t *mem)
{
    dn_value *v = &x->c.vals[t];
    ms_status st = dt_persistent(x, md, &v->mem, &v->buf);
    v->ready = !st;
    v->md = *md;
    *mem = v->mem;
    return st;
}

ms_status dt_make_pd(dt_ctx *x, const void *desc, dnnl_primitive_attr_t attr, const_dnnl_primitive_desc_t hint,
                     dnnl_primitive_desc_t *pd)
{
    dnnl_status_t s = dnnl_primitive_desc_create(pd, desc, attr, x->c.p->engine, hint);
    if (attr) dnnl_primitive_attr_destroy(attr);
    if (s != dnnl_success) return dn_fail(&x->c, s, hint ? "backward primitive descriptor" : "primitive descriptor");
    return MS_OK;
}

/* A scratchpad attribute, with the node's clamp as a post-op when it has one. */
ms_status dt_node_attr(dt_ctx *x, const ms_node *n, dnnl_primitive_attr_t *attr)
{
    ms_status st = dn_attr(&x->c, attr);
    if (!st && dt_clamps(n)) st = dn_attr_act(&x->c, *attr, n->act_min, n->act_max, 1.0f);
    if (st && *attr) {
        dnnl_primitive_attr_destroy(*attr);
        *attr = NULL;
    }
    return st;
}

/* Emits pd (destroyed) after keeping a copy as the node's backward hint. */
ms_status dt_emit_keep(dt_ctx *x, int i, dnnl_primitive_desc_t pd, const dnnl_exec_arg_t *args, int n_args)
{
    dnnl_status_t s = dnnl_primitive_desc_clone(&x->recs[i].hint, pd);
    if (s != dnnl_success) {
        dnnl_primitive_desc_destroy(pd);
        return dn_fail(&x->c, s, "primitive descriptor copy");
    }
    return dn_emit(&x->c, pd, args, n_args);
}
