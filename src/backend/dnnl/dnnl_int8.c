/* Int8 convolutions for quantised models (opts.precision == MS_PREC_INT8).
 *
 * The TFLite models quantise activations as u8 with a per-tensor scale and zero point
 * (real = s * (q - z)) and weights as u8 with their own zero point. oneDNN 2.6 runs u8
 * sources against s8 weights, with a runtime zero point on the source and destination
 * and per-output-channel scales, but has no weight zero point for convolutions. So the
 * weights become s8 here, per output channel o, keeping the model's own integers
 * w8 = q - z_w (recovered as round(w / s_w) from the dequantised values, independent of
 * how the importer laid the raw bytes out) whenever they are safe, and otherwise
 * re-quantising that channel symmetrically with the finest scale that is safe.
 *
 * Safe depends on the CPU. With VNNI (vpdpbusd), |w8| <= 127 is enough. Without it
 * (AVX2, AVX-512 before Cascade Lake; the development machine is AVX2) oneDNN multiplies
 * with vpmaddubsw, which adds the products of two neighbouring input channels in 16 bits
 * with saturation: 255 * (|w8[2j]| + |w8[2j+1]|) must stay <= 32767, so every such pair
 * must satisfy |w8[2j]| + |w8[2j+1]| <= 128. Measured: ignoring this made a few outputs in
 * every hundred wrong by up to a third on random weights; limiting every weight to 7 bits
 * instead (oneDNN's guide, fbgemm's reduce_range) cost 2.3 points of top-1 on
 * MobileNetV1 0.25_128; the pair rule keeps most channels exact (a depthwise channel,
 * one input channel per group, always is) and loses less than a bit on the others.
 * The accumulator sum (x_q - z_x) * w8 is scaled per channel by s_x * s_o / s_y, the bias
 * is added before that in accumulator units (f32: bias / (s_x * s_o), no rounding), the
 * fused activation clamps in units of s_y, and z_y is added last, as in TFLite's kernels.
 * A convolution whose input or output is not u8-quantised per tensor stays fp32. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "backend/dnnl/dnnl_internal.h"

static bool u8_per_tensor(const ms_tensor *t)
{
    return t->quant.n == 1 && t->quant.zero_point[0] >= 0 && t->quant.zero_point[0] <= 255 && t->quant.scale[0] > 0;
}

/* The model's weight scale for output channel o, or 0 when there is none. */
static float model_scale(const ms_tensor *w, int64_t o)
{
    if (w->quant.n == 1) return w->quant.scale[0];
    if (w->quant.n == w->shape[0] && w->quant.axis == 0) return w->quant.scale[o];
    return 0.0f;
}

/* The bound for one output channel of k weights laid out [KH, KW, IG]: max |w| with
 * VNNI, else the largest |w[2j]| + |w[2j+1]| over the input-channel pairs that
 * vpmaddubsw adds together. */
static float pair_bound(const float *w, int64_t k, int64_t ig, bool vnni)
{
    float m = 0.0f;
    for (int64_t i = 0; i < k; i++) {
        float v = fabsf(w[i]);
        if (!vnni && i % ig % 2 == 0 && i % ig + 1 < ig) v += fabsf(w[i + 1]);
        m = fmaxf(m, v);
    }
    return m;
}

/* Fills w8 (O x per values, the IR layout [O, KH, KW, IG]) and scales[O]. */
static void weights_s8(const ms_tensor *w, int64_t O, int64_t per, int64_t ig, int8_t *w8, float *scales)
{
    bool vnni = dnnl_get_effective_cpu_isa() & 0x440; /* the VNNI bits of the ISA enum */
    float limit = vnni ? 127.0f : 128.0f;
    for (int64_t o = 0; o < O; o++) {
        const float *src = w->data + o * per;
        float bound = pair_bound(src, per, ig, vnni);
        float s = model_scale(w, o);
        bool exact = s > 0 && bound / s <= limit + 1e-3f;
        for (int64_t k = 0; exact && k < per; k++) {
            float q = src[k] / s;
            exact = fabsf(q) <= 127.0f + 1e-3f && fabsf(q - rintf(q)) < 1e-3f;
        }
        /* Rounding adds at most one to a pair's sum, so the bound maps to 127. */
        if (!exact) s = bound > 0 ? bound / 127.0f : 1.0f;
        for (int64_t k = 0; k < per; k++) w8[o * per + k] = (int8_t)rintf(src[k] / s);
        scales[o] = s;
    }
}

/* A one-value s32 memory for a runtime zero point. */
static ms_status zero_point_mem(dn_ctx *c, int32_t zp, dnnl_memory_t *out)
{
    dnnl_memory_desc_t md;
    dnnl_dims_t one = {1};
    dnnl_memory_desc_init_by_tag(&md, 1, one, dnnl_s32, dnnl_a);
    return dn_const(c, &md, &zp, &md, out);
}

/* Zero points are set only where they are not 0: oneDNN 2.6's depthwise int8 kernel
 * takes none, and without them the generic kernel it falls back to is 5x slower (ReLU6
 * outputs, which most convolutions read, have zero point 0). */
static ms_status conv_attr(dn_ctx *c, const ms_node *n, int64_t O, const float *oscales, bool src_zp, bool dst_zp,
                           float sy, dnnl_primitive_attr_t *attr)
{
    ms_status st = dn_attr(c, attr);
    if (st) return st;
    static const int32_t runtime = DNNL_RUNTIME_S32_VAL;
    dnnl_status_t s = dnnl_primitive_attr_set_output_scales(*attr, O, 1 << 1, oscales);
    if (s == dnnl_success && src_zp) s = dnnl_primitive_attr_set_zero_points(*attr, DNNL_ARG_SRC, 1, 0, &runtime);
    if (s == dnnl_success && dst_zp) s = dnnl_primitive_attr_set_zero_points(*attr, DNNL_ARG_DST, 1, 0, &runtime);
    if (s != dnnl_success) st = dn_fail(c, s, "int8 attributes");
    if (!st) st = dn_attr_act(c, *attr, n->act_min, n->act_max, sy);
    if (st) {
        dnnl_primitive_attr_destroy(*attr);
        *attr = NULL;
    }
    return st;
}

ms_status dn_lower_conv_int8(dn_ctx *c, const dn_node *d, bool *done)
{
    const ms_node *n = &d->n;
    const ms_graph *g = c->g;
    const ms_tensor *x = &g->tensors[d->in0], *y = &g->tensors[n->output], *w = &g->tensors[n->inputs[1]];
    int b = n->n_inputs > 2 ? n->inputs[2] : -1;
    *done = false;
    if (!u8_per_tensor(x) || !w->data || w->ndim != 4 || (b >= 0 && !g->tensors[b].data)) return MS_OK;
    bool dst_q = u8_per_tensor(y);
    int64_t O = w->shape[0], KH = w->shape[1], KW = w->shape[2], IG = w->shape[3], G = n->groups;
    if (G < 1 || O % G) return MS_OK;
    float sx = x->quant.scale[0], sy = dst_q ? y->quant.scale[0] : 1.0f;
    int64_t per = KH * KW * IG;

    int8_t *w8 = malloc((size_t)(O * per));
    float *ws = malloc((size_t)O * sizeof *ws), *os = malloc((size_t)O * sizeof *os);
    float *bias = malloc((size_t)O * sizeof *bias);
    if (!w8 || !ws || !os || !bias) {
        free(w8);
        free(ws);
        free(os);
        free(bias);
        return dn_nomem(c);
    }
    weights_s8(w, O, per, IG, w8, ws);
    for (int64_t o = 0; o < O; o++) {
        os[o] = sx * ws[o] / sy;
        bias[o] = b >= 0 ? g->tensors[b].data[o] / (sx * ws[o]) : 0.0f;
    }

    dnnl_memory_desc_t src_p, dst_p, src_any, dst_any, w_user, w_any, b_md;
    dn_plain_md(c, d->in0, dnnl_u8, &src_p);
    dn_plain_md(c, n->output, dst_q ? dnnl_u8 : dnnl_f32, &dst_p);
    dn_any_md(&src_p, dnnl_u8, &src_any);
    dn_any_md(&dst_p, dst_p.data_type, &dst_any);
    if (G == 1) {
        dnnl_dims_t wd = {O, IG, KH, KW};
        dnnl_memory_desc_init_by_tag(&w_user, 4, wd, dnnl_s8, dnnl_ohwi);
        dnnl_memory_desc_init_by_tag(&w_any, 4, wd, dnnl_s8, dnnl_format_tag_any);
    } else {
        dnnl_dims_t wd = {G, O / G, IG, KH, KW};
        dnnl_memory_desc_init_by_tag(&w_user, 5, wd, dnnl_s8, dnnl_gohwi);
        dnnl_memory_desc_init_by_tag(&w_any, 5, wd, dnnl_s8, dnnl_format_tag_any);
    }
    dnnl_dims_t bd = {O};
    dnnl_memory_desc_init_by_tag(&b_md, 1, bd, dnnl_f32, dnnl_a);
    dnnl_dims_t strides = {n->stride_h, n->stride_w}, dil = {n->dilation_h - 1, n->dilation_w - 1};
    dnnl_dims_t pl = {n->pad_top, n->pad_left}, pr = {n->pad_bottom, n->pad_right};
    dnnl_convolution_desc_t cd;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_primitive_desc_t pd = NULL;
    ms_status st = MS_OK;
    dnnl_status_t s = dnnl_dilated_convolution_forward_desc_init(&cd, dnnl_forward_inference, dnnl_convolution_direct,
                                                                 &src_any, &w_any, &b_md, &dst_any, strides, dil,
                                                                 pl, pr);
    if (s != dnnl_success) st = dn_fail(c, s, "int8 convolution descriptor");
    int32_t zpx = x->quant.zero_point[0], zpy = dst_q ? y->quant.zero_point[0] : 0;
    if (!st) st = conv_attr(c, n, O, os, zpx != 0, zpy != 0, sy, &attr);
    if (!st) {
        s = dnnl_primitive_desc_create(&pd, &cd, attr, c->p->engine, NULL);
        dnnl_primitive_attr_destroy(attr);
        if (s != dnnl_success) st = dn_fail(c, s, "int8 convolution primitive descriptor");
    }
    dnnl_memory_t wm = NULL, bm = NULL, sm = NULL, dm = NULL, zx = NULL, zy = NULL;
    if (!st) st = dn_const(c, &w_user, w8, dn_pd_md(pd, dnnl_query_weights_md), &wm);
    if (!st) st = dn_const(c, &b_md, bias, &b_md, &bm);
    free(w8);
    free(ws);
    free(os);
    free(bias);
    if (!st && zpx) st = zero_point_mem(c, zpx, &zx);
    if (!st && zpy) st = zero_point_mem(c, zpy, &zy);
    if (!st) st = dn_input(c, d->in0, dn_pd_md(pd, dnnl_query_src_md), &sm);
    if (!st) st = dn_output(c, n->output, dn_pd_md(pd, dnnl_query_dst_md), &dm);
    if (st) {
        if (pd) dnnl_primitive_desc_destroy(pd);
        return st;
    }
    dnnl_exec_arg_t args[6] = {{DNNL_ARG_SRC, sm}, {DNNL_ARG_WEIGHTS, wm}, {DNNL_ARG_BIAS, bm}, {DNNL_ARG_DST, dm}};
    int n_args = 4;
    if (zx) args[n_args++] = (dnnl_exec_arg_t){DNNL_ARG_ATTR_ZERO_POINTS | DNNL_ARG_SRC, zx};
    if (zy) args[n_args++] = (dnnl_exec_arg_t){DNNL_ARG_ATTR_ZERO_POINTS | DNNL_ARG_DST, zy};
    *done = true;
    return dn_emit(c, pd, args, n_args);
}
