/* ONNX import: the nodes evaluated at import into constants. Exporters compute a
 * Reshape's target from the input's shape (Shape, Gather, Unsqueeze, Concat, Cast, ...
 * on constants): with the batch fixed by the graph input, every such value is known, so
 * these nodes become constants and never reach the IR. Results are bounded by
 * OX_MAX_FOLDED elements. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/onnx_internal.h"

typedef ox_node_t node_t;

static ms_status fold_alloc(ox_ctx *c, int64_t numel, bool is_int, float **f, int64_t **i)
{
    *f = NULL;
    *i = NULL;
    if (numel > OX_MAX_FOLDED)
        return ox_node_fail(c, MS_ERR_UNSUPPORTED, "a constant computed at import would have %lld elements (at most %lld)",
                            (long long)numel, (long long)OX_MAX_FOLDED);
    if (is_int) *i = malloc(((size_t)numel + 1) * sizeof **i);
    else *f = malloc(((size_t)numel + 1) * sizeof **f);
    if (!*i && !*f) return ox_node_fail(c, MS_ERR_NOMEM, "out of memory");
    return MS_OK;
}

/* Broadcast binary op over two constants. */
ms_status ox_fold_binary(ox_ctx *c, node_t *n, const ox_value *a, const ox_value *b)
{
    const char *op = n->op_type;
    int rank;
    int64_t dims[MS_ONNX_MAX_RANK];
    ms_status s = ox_broadcast(c, a, b, &rank, dims);
    if (s) return s;
    int64_t total = ox_numel(rank, dims);
    bool is_int = a->is_int && b->is_int;
    float *f;
    int64_t *iv;
    if ((s = fold_alloc(c, total, is_int, &f, &iv))) return s;
    for (int64_t k = 0; k < total; k++) {
        int64_t rem = k, ka = 0, kb = 0, sa = 1, sb = 1;
        for (int d = rank - 1; d >= 0; d--) {
            int64_t idx = rem % dims[d];
            rem /= dims[d];
            int da = d - (rank - a->rank), db = d - (rank - b->rank);
            if (da >= 0) {
                if (a->dims[da] != 1) ka += idx * sa;
                sa *= a->dims[da];
            }
            if (db >= 0) {
                if (b->dims[db] != 1) kb += idx * sb;
                sb *= b->dims[db];
            }
        }
        if (is_int) {
            int64_t x = a->i[ka], y = b->i[kb], r;
            if (!strcmp(op, "Add")) r = x + y;
            else if (!strcmp(op, "Sub")) r = x - y;
            else if (!strcmp(op, "Mul")) r = x * y;
            else {
                if (y == 0) {
                    free(iv);
                    return ox_node_fail(c, MS_ERR_FORMAT, "integer division by zero");
                }
                r = x / y;
            }
            iv[k] = r;
        } else {
            double x = ox_cval(a, ka), y = ox_cval(b, kb);
            f[k] = (float)(!strcmp(op, "Add") ? x + y : !strcmp(op, "Sub") ? x - y : !strcmp(op, "Mul") ? x * y : x / y);
        }
    }
    return ox_add_const(c, n->output[0], rank, dims, f, iv);
}

/* Shape of any value (opset 15: start, end). */
ms_status ox_fold_shape(ox_ctx *c, node_t *n)
{
    ox_value *x;
    int64_t start, end;
    ms_status s = ox_known_attrs(c, n, "start,end");
    if (!s) s = ox_one_output(c, n);
    if (!s) s = ox_input(c, n, 0, &x);
    if (!s) s = ox_attr_int(c, n, "start", 0, &start);
    if (!s) s = ox_attr_int(c, n, "end", x->rank, &end);
    if (s) return s;
    if (start < 0) start += x->rank;
    if (end < 0) end += x->rank;
    if (start < 0) start = 0;
    if (end > x->rank) end = x->rank;
    int64_t len = end > start ? end - start : 0;
    int64_t *iv = malloc(((size_t)len + 1) * sizeof *iv);
    if (!iv) return ox_node_fail(c, MS_ERR_NOMEM, "out of memory");
    for (int64_t k = 0; k < len; k++) iv[k] = x->dims[start + k];
    return ox_add_const(c, n->output[0], 1, &len, NULL, iv);
}

ms_status ox_fold_constant(ox_ctx *c, node_t *n)
{
    ms_status s = ox_known_attrs(c, n, "value,value_float,value_floats,value_int,value_ints");
    if (!s) s = ox_one_output(c, n);
    if (s) return s;
    if (n->n_attribute != 1) return ox_node_fail(c, MS_ERR_FORMAT, "needs exactly one value attribute");
    const Onnx__AttributeProto *a = n->attribute[0];
    if (!strcmp(a->name, "value")) {
        if (!a->t) return ox_node_fail(c, MS_ERR_FORMAT, "attribute 'value' holds no tensor");
        ox_value v;
        if ((s = ox_tensor_value(c, a->t, "constant", &v))) return s;
        v.name = n->output[0];
        if ((s = ox_add_value(c, &v))) ox_value_free(&v);
        return s;
    }
    bool ints = !strcmp(a->name, "value_int") || !strcmp(a->name, "value_ints");
    bool list = !strcmp(a->name, "value_floats") || !strcmp(a->name, "value_ints");
    int64_t len = list ? (int64_t)(ints ? a->n_ints : a->n_floats) : 1;
    float *f;
    int64_t *iv;
    if ((s = fold_alloc(c, len, ints, &f, &iv))) return s;
    for (int64_t k = 0; k < len; k++) {
        if (ints) iv[k] = list ? a->ints[k] : a->i;
        else f[k] = list ? a->floats[k] : a->f;
    }
    return ox_add_const(c, n->output[0], list ? 1 : 0, &len, f, iv);
}

ms_status ox_fold_constant_of_shape(ox_ctx *c, node_t *n)
{
    int64_t dims[MS_ONNX_MAX_RANK];
    int rank;
    ms_status s = ox_known_attrs(c, n, "value");
    if (!s) s = ox_one_output(c, n);
    if (!s) s = ox_const_ints(c, n, 0, dims, MS_ONNX_MAX_RANK, &rank);
    if (s) return s;
    int64_t total_check = 1;
    for (int d = 0; d < rank; d++) {
        if (dims[d] < 0 || dims[d] > OX_MAX_ELEMENTS) return ox_node_fail(c, MS_ERR_FORMAT, "dimension %d is %lld", d, (long long)dims[d]);
        total_check *= dims[d];
        if (total_check > OX_MAX_FOLDED)
            return ox_node_fail(c, MS_ERR_UNSUPPORTED, "the constant would have more than %lld elements", (long long)OX_MAX_FOLDED);
    }
    ox_value fill = {.numel = 1};
    float zero = 0;
    fill.f = &zero;
    const Onnx__AttributeProto *a = ox_attr(n, "value");
    ox_value tv = {0};
    if (a) {
        if (!a->t || (s = ox_tensor_value(c, a->t, "value", &tv))) return s ? s : ox_node_fail(c, MS_ERR_FORMAT, "'value' holds no tensor");
        if (tv.numel != 1) {
            ox_value_free(&tv);
            return ox_node_fail(c, MS_ERR_FORMAT, "'value' must hold one element");
        }
        fill = tv;
    }
    int64_t total = ox_numel(rank, dims);
    float *f;
    int64_t *iv;
    if (!(s = fold_alloc(c, total, fill.is_int, &f, &iv))) {
        for (int64_t k = 0; k < total; k++) {
            if (iv) iv[k] = fill.i[0];
            else f[k] = fill.f[0];
        }
        s = ox_add_const(c, n->output[0], rank, dims, f, iv);
    }
    ox_value_free(&tv);
    return s;
}

/* Gather on constants (a Shape's dimension, usually). */
ms_status ox_fold_gather(ox_ctx *c, node_t *n)
{
    ox_value *x, *idx;
    int64_t axis;
    int ax = 0;
    ms_status s = ox_known_attrs(c, n, "axis");
    if (!s) s = ox_one_output(c, n);
    if (!s) s = ox_input(c, n, 0, &x);
    if (!s && !x->is_const) s = ox_node_fail(c, MS_ERR_UNSUPPORTED, "Gather is supported on constants only (shape computations)");
    if (!s) s = ox_input_const(c, n, 1, &idx);
    if (!s) s = ox_attr_int(c, n, "axis", 0, &axis);
    if (!s && x->rank < 1) s = ox_node_fail(c, MS_ERR_FORMAT, "data is a scalar");
    if (!s) s = ox_norm_axis(c, axis, x->rank, &ax);
    if (s) return s;
    int rank = x->rank - 1 + idx->rank;
    if (rank > MS_ONNX_MAX_RANK) return ox_node_fail(c, MS_ERR_UNSUPPORTED, "result has too many dimensions");
    int64_t dims[MS_ONNX_MAX_RANK], outer = 1, inner = 1;
    int r = 0;
    for (int d = 0; d < ax; d++) outer *= (dims[r++] = x->dims[d]);
    for (int d = 0; d < idx->rank; d++) dims[r++] = idx->dims[d];
    for (int d = ax + 1; d < x->rank; d++) inner *= (dims[r++] = x->dims[d]);
    int64_t total = ox_numel(rank, dims);
    float *f;
    int64_t *iv;
    if ((s = fold_alloc(c, total, x->is_int, &f, &iv))) return s;
    int64_t k = 0;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t j = 0; j < idx->numel; j++) {
            int64_t at = (int64_t)ox_cval(idx, j);
            if (at < 0) at += x->dims[ax];
            if (at < 0 || at >= x->dims[ax]) {
                free(f);
                free(iv);
                return ox_node_fail(c, MS_ERR_FORMAT, "index %lld is out of range", (long long)at);
            }
            for (int64_t in = 0; in < inner; in++, k++) {
                int64_t from = (o * x->dims[ax] + at) * inner + in;
                if (iv) iv[k] = x->i[from];
                else f[k] = x->f[from];
            }
        }
    return ox_add_const(c, n->output[0], rank, dims, f, iv);
}

ms_status ox_fold_cast(ox_ctx *c, node_t *n)
{
    ox_value *x;
    int64_t to;
    ms_status s = ox_known_attrs(c, n, "to,saturate");
    if (!s) s = ox_one_output(c, n);
    if (!s) s = ox_input(c, n, 0, &x);
    if (!s) s = ox_attr_int(c, n, "to", 0, &to);
    if (s) return s;
    bool to_float = to == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT || to == ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE;
    bool to_int = to == ONNX__TENSOR_PROTO__DATA_TYPE__INT64 || to == ONNX__TENSOR_PROTO__DATA_TYPE__INT32;
    if (!x->is_const) {
        if (to != ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT)
            return ox_node_fail(c, MS_ERR_UNSUPPORTED, "casting an activation to type %lld (activations are float)", (long long)to);
        return ox_alias(c, n->output[0], x);
    }
    if (!to_float && !to_int) return ox_node_fail(c, MS_ERR_UNSUPPORTED, "cast to type %lld", (long long)to);
    float *f;
    int64_t *iv;
    if ((s = fold_alloc(c, x->numel, to_int, &f, &iv))) return s;
    for (int64_t k = 0; k < x->numel; k++) {
        double v = ox_cval(x, k);
        if (iv) iv[k] = (int64_t)v;
        else f[k] = (float)v;
    }
    return ox_add_const(c, n->output[0], x->rank, x->dims, f, iv);
}

ms_status ox_fold_transpose(ox_ctx *c, node_t *n, const ox_value *x, const int64_t *p, const int64_t *dims)
{
    float *f;
    int64_t *iv;
    ms_status s = fold_alloc(c, x->numel, x->is_int, &f, &iv);
    if (s) return s;
    int64_t xst[MS_ONNX_MAX_RANK], st = 1;
    for (int d = x->rank - 1; d >= 0; d--) {
        xst[d] = st;
        st *= x->dims[d];
    }
    for (int64_t k = 0; k < x->numel; k++) {
        int64_t rem = k, from = 0;
        for (int d = x->rank - 1; d >= 0; d--) {
            from += (rem % dims[d]) * xst[p[d]];
            rem /= dims[d];
        }
        if (iv) iv[k] = x->i[from];
        else f[k] = x->f[from];
    }
    return ox_add_const(c, n->output[0], x->rank, dims, f, iv);
}

/* The inputs' blocks along axis ax, one after another for each index before it. */
ms_status ox_fold_concat(ox_ctx *c, node_t *n, int rank, int ax, const int64_t *dims)
{
    const ox_value *first = ox_find(c, n->input[0]);
    bool is_int = first->is_int;
    int64_t total = ox_numel(rank, dims), outer = 1;
    for (int d = 0; d < ax; d++) outer *= dims[d];
    float *f;
    int64_t *iv;
    ms_status s = fold_alloc(c, total, is_int, &f, &iv);
    if (s) return s;
    int64_t at = 0;
    for (int64_t o = 0; o < outer; o++)
        for (size_t k = 0; k < n->n_input; k++) {
            const ox_value *v = ox_find(c, n->input[k]);
            int64_t block = v->numel / (outer ? outer : 1);
            for (int64_t j = 0; j < block; j++, at++) {
                if (iv) iv[at] = (int64_t)ox_cval(v, o * block + j);
                else f[at] = (float)ox_cval(v, o * block + j);
            }
        }
    return ox_add_const(c, n->output[0], rank, dims, f, iv);
}
