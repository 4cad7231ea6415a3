/* ONNX import: reading one node, written once for every op. Attributes by name and type
 * (one that a handler does not know is refused, never ignored), operands that older
 * opsets give as attributes and newer ones as constant inputs, inputs (activation or
 * constant), the single output, and the values a node adds (constants, aliases). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/onnx_internal.h"

/* ---- attributes ----------------------------------------------------------------------- */

const Onnx__AttributeProto *ox_attr(ox_node_t *n, const char *name)
{
    for (size_t k = 0; k < n->n_attribute; k++)
        if (n->attribute[k] && n->attribute[k]->name && !strcmp(n->attribute[k]->name, name)) return n->attribute[k];
    return NULL;
}

ms_status ox_known_attrs(ox_ctx *c, ox_node_t *n, const char *known)
{
    for (size_t k = 0; k < n->n_attribute; k++) {
        const char *nm = n->attribute[k] && n->attribute[k]->name ? n->attribute[k]->name : "";
        size_t len = strlen(nm);
        const char *p = known;
        bool found = false;
        while (!found && p && *p) {
            const char *e = strchr(p, ',');
            size_t l = e ? (size_t)(e - p) : strlen(p);
            found = l == len && !strncmp(p, nm, l);
            p = e ? e + 1 : NULL;
        }
        if (!found) return ox_node_fail(c, MS_ERR_UNSUPPORTED, "attribute '%.100s' is not supported", nm);
    }
    return MS_OK;
}

/* Attribute `name` in *a (NULL when absent); present with another type than `type`, an
 * error saying it is not `what`. */
static ms_status typed_attr(ox_ctx *c, ox_node_t *n, const char *name, Onnx__AttributeProto__AttributeType type,
                            const char *what, const Onnx__AttributeProto **a)
{
    *a = ox_attr(n, name);
    if (*a && (*a)->type != type) return ox_node_fail(c, MS_ERR_FORMAT, "attribute '%s' is not %s", name, what);
    return MS_OK;
}

ms_status ox_attr_int(ox_ctx *c, ox_node_t *n, const char *name, int64_t def, int64_t *v)
{
    const Onnx__AttributeProto *a;
    ms_status s = typed_attr(c, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT, "an int", &a);
    *v = a && !s ? a->i : def;
    return s;
}

ms_status ox_attr_float(ox_ctx *c, ox_node_t *n, const char *name, float def, float *v)
{
    const Onnx__AttributeProto *a;
    ms_status s = typed_attr(c, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT, "a float", &a);
    *v = def;
    if (s || !a) return s;
    if (!isfinite(a->f)) return ox_node_fail(c, MS_ERR_FORMAT, "attribute '%s' is not finite", name);
    *v = a->f;
    return MS_OK;
}

ms_status ox_attr_ints(ox_ctx *c, ox_node_t *n, const char *name, int64_t *vals, int max, int *count)
{
    const Onnx__AttributeProto *a;
    ms_status s = typed_attr(c, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS, "a list of ints", &a);
    *count = -1;
    if (s || !a) return s;
    if (a->n_ints > (size_t)max)
        return ox_node_fail(c, MS_ERR_UNSUPPORTED, "attribute '%s' has %zu values (at most %d)", name, a->n_ints, max);
    for (size_t k = 0; k < a->n_ints; k++) vals[k] = a->ints[k];
    *count = (int)a->n_ints;
    return MS_OK;
}

ms_status ox_attr_pair(ox_ctx *c, ox_node_t *n, const char *name, int64_t *v)
{
    int64_t vals[8];
    int count;
    ms_status s = ox_attr_ints(c, n, name, vals, 8, &count);
    if (s || count < 0) return s;
    if (count != 2) return ox_node_fail(c, MS_ERR_FORMAT, "%s has %d values", name, count);
    v[0] = vals[0];
    v[1] = vals[1];
    return MS_OK;
}

ms_status ox_attr_string(ox_ctx *c, ox_node_t *n, const char *name, const char *def, char *buf, size_t size)
{
    const Onnx__AttributeProto *a;
    ms_status s = typed_attr(c, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING, "a string", &a);
    snprintf(buf, size, "%s", def);
    if (s || !a) return s;
    size_t l = a->s.len < size - 1 ? a->s.len : size - 1;
    memcpy(buf, a->s.data, l);
    buf[l] = '\0';
    return MS_OK;
}

ms_status ox_ints_operand(ox_ctx *c, ox_node_t *n, const char *name, size_t k, int64_t *vals, int max, int *count)
{
    ms_status s = ox_attr_ints(c, n, name, vals, max, count);
    if (!s && *count < 0 && ox_has_input(n, k)) s = ox_const_ints(c, n, k, vals, max, count);
    return s;
}

ms_status ox_float_operand(ox_ctx *c, ox_node_t *n, const char *name, size_t k, float def, float *v)
{
    ms_status s = ox_attr_float(c, n, name, def, v);
    if (!s && !ox_attr(n, name) && ox_has_input(n, k)) s = ox_const_scalar(c, n, k, v);
    return s;
}

/* ---- inputs and outputs ---------------------------------------------------------------- */

bool ox_has_input(ox_node_t *n, size_t k) { return k < n->n_input && n->input[k] && n->input[k][0]; }

ms_status ox_input(ox_ctx *c, ox_node_t *n, size_t k, ox_value **v)
{
    *v = NULL;
    if (!ox_has_input(n, k)) return ox_node_fail(c, MS_ERR_FORMAT, "input %zu is missing", k);
    *v = ox_find(c, n->input[k]);
    if (!*v) return ox_node_fail(c, MS_ERR_FORMAT, "input %zu '%.200s' is computed by no earlier node", k, n->input[k]);
    if ((*v)->shuffle && strcmp(n->op_type, "Reshape") && strcmp(n->op_type, "Transpose") && strcmp(n->op_type, "Shape"))
        return ox_node_fail(c, MS_ERR_UNSUPPORTED, "input %zu '%.200s' is a 5-D tensor: only the Reshape / Transpose / Reshape of a channel shuffle is supported",
                            k, n->input[k]);
    return MS_OK;
}

ms_status ox_input_act(ox_ctx *c, ox_node_t *n, size_t k, ox_value **v)
{
    ms_status s = ox_input(c, n, k, v);
    if (!s && (*v)->is_const)
        return ox_node_fail(c, MS_ERR_UNSUPPORTED, "input %zu '%.200s' is a constant: this op is computed on activations only",
                            k, n->input[k]);
    return s;
}

ms_status ox_input_const(ox_ctx *c, ox_node_t *n, size_t k, ox_value **v)
{
    ms_status s = ox_input(c, n, k, v);
    if (!s && !(*v)->is_const)
        return ox_node_fail(c, MS_ERR_UNSUPPORTED, "input %zu '%.200s' must be a constant (an initializer)", k, n->input[k]);
    return s;
}

ms_status ox_const_ints(ox_ctx *c, ox_node_t *n, size_t k, int64_t *vals, int max, int *count)
{
    ox_value *v;
    ms_status s = ox_input_const(c, n, k, &v);
    if (s) return s;
    if (v->numel > max) return ox_node_fail(c, MS_ERR_UNSUPPORTED, "input %zu has %lld values (at most %d)", k, (long long)v->numel, max);
    for (int64_t i = 0; i < v->numel; i++) vals[i] = v->is_int ? v->i[i] : (int64_t)v->f[i];
    *count = (int)v->numel;
    return MS_OK;
}

ms_status ox_const_scalar(ox_ctx *c, ox_node_t *n, size_t k, float *val)
{
    ox_value *v;
    ms_status s = ox_input_const(c, n, k, &v);
    if (s) return s;
    if (v->numel != 1) return ox_node_fail(c, MS_ERR_UNSUPPORTED, "input %zu must hold one value", k);
    *val = v->is_int ? (float)v->i[0] : v->f[0];
    return MS_OK;
}

ms_status ox_one_output(ox_ctx *c, ox_node_t *n)
{
    if (n->n_output < 1 || !n->output[0] || !n->output[0][0]) return ox_node_fail(c, MS_ERR_FORMAT, "has no output");
    for (size_t k = 1; k < n->n_output; k++)
        if (n->output[k] && n->output[k][0])
            return ox_node_fail(c, MS_ERR_UNSUPPORTED, "output %zu ('%.200s') is not supported", k, n->output[k]);
    if (ox_find(c, n->output[0])) return ox_node_fail(c, MS_ERR_FORMAT, "output '%.200s' is computed twice", n->output[0]);
    return MS_OK;
}

ms_status ox_norm_axis(ox_ctx *c, int64_t a, int rank, int *out)
{
    if (a < -rank || a >= rank) return ox_node_fail(c, MS_ERR_FORMAT, "axis %lld is out of range for %d dimensions", (long long)a, rank);
    *out = (int)(a < 0 ? a + rank : a);
    return MS_OK;
}

/* ---- values ----------------------------------------------------------------------------- */

int64_t ox_numel(int rank, const int64_t *dims)
{
    int64_t m = 1;
    for (int d = 0; d < rank; d++) m *= dims[d];
    return m;
}

ms_status ox_broadcast(ox_ctx *c, const ox_value *a, const ox_value *b, int *rank, int64_t *dims)
{
    *rank = a->rank > b->rank ? a->rank : b->rank;
    for (int d = 0; d < *rank; d++) {
        int da = d - (*rank - a->rank), db = d - (*rank - b->rank);
        int64_t ea = da >= 0 ? a->dims[da] : 1, eb = db >= 0 ? b->dims[db] : 1;
        if (ea != eb && ea != 1 && eb != 1)
            return ox_node_fail(c, MS_ERR_FORMAT, "shapes do not broadcast (dimension %d: %lld vs %lld)", d, (long long)ea,
                                (long long)eb);
        dims[d] = ea == 1 ? eb : ea;
    }
    return MS_OK;
}

double ox_cval(const ox_value *v, int64_t k) { return v->is_int ? (double)v->i[k] : v->f[k]; }

ms_status ox_alias(ox_ctx *c, const char *name, const ox_value *src)
{
    ox_value v = *src;
    v.name = name;
    v.f = NULL;
    v.i = NULL;
    if (src->is_const) {
        size_t n = (size_t)src->numel + 1;
        if (src->is_int) v.i = malloc(n * sizeof *v.i);
        else v.f = malloc(n * sizeof *v.f);
        if (!v.i && !v.f) return ox_node_fail(c, MS_ERR_NOMEM, "out of memory");
        if (src->is_int) memcpy(v.i, src->i, (size_t)src->numel * sizeof *v.i);
        else memcpy(v.f, src->f, (size_t)src->numel * sizeof *v.f);
    }
    ms_status s = ox_add_value(c, &v);
    if (s) ox_value_free(&v);
    return s;
}

ms_status ox_add_const(ox_ctx *c, const char *name, int rank, const int64_t *dims, float *f, int64_t *i)
{
    ox_value v = {.name = name, .is_const = true, .rank = rank, .numel = ox_numel(rank, dims), .is_int = i != NULL,
                  .f = f, .i = i, .tensor = -1};
    memcpy(v.dims, dims, (size_t)rank * sizeof *dims);
    ms_status s = ox_add_value(c, &v);
    if (s) ox_value_free(&v);
    return s;
}
