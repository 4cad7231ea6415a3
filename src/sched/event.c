/* Event-level recall, precision and F1 of an app sampled at some frame rate.
 *
 * Default (MISSION.md "The event model"): an event lasts d = L/1000*S stream frames and is
 * seen by floor(d/s) or ceil(d/s) samples (s = S/F). Samples form a two-state Markov chain
 * with marginal positive rate p and lag-1 correlation r: P(pos|pos) = p + (1-p)r,
 * P(pos|neg) = p(1-r). The event is missed when no run of x positives occurs (x = 1: no
 * positive at all, which gives the closed form (1-p)*c^(h-1), c = (1-p) + p*r).
 *
 * With the observed event lengths (e->lengths_ms, default model), the miss probabilities of
 * events and of non-event windows are their means over those lengths: short events are
 * missed at low rates far more often than the mean length says.
 *
 * Compat (ORIGINAL_MODEL.md §2): d = L/1000*F, the closed form for plain detection, and for
 * x-voting the original's chain in which a sample after a negative is positive w.p. p. */
#include "sched/event.h"

#include <math.h>

/* Probability that h samples contain no run of x positives, where the first sample is
 * positive w.p. p_first, a sample after a positive w.p. p_after_pos and after a negative
 * w.p. p_after_neg. DP over the length of the current run of positives. */
static double no_run_probability(int h, int x, double p_first, double p_after_pos,
                                 double p_after_neg)
{
    if (x <= 0) return 0.0;
    if (h < x) return 1.0;
    double run[MS_EVENT_MAX_X_VOTE] = {0}, next[MS_EVENT_MAX_X_VOTE];
    /* run[k]: probability of the prefix ending with exactly k positives in a row, k < x. */
    run[0] = 1.0;
    for (int i = 0; i < h; i++) {
        for (int k = 0; k < x; k++) next[k] = 0.0;
        for (int k = 0; k < x; k++) {
            if (run[k] == 0.0) continue;
            double pos = i == 0 ? p_first : (k > 0 ? p_after_pos : p_after_neg);
            next[0] += run[k] * (1.0 - pos);
            if (k + 1 < x) next[k + 1] += run[k] * pos;
        }
        for (int k = 0; k < x; k++) run[k] = next[k];
    }
    double miss = 0.0;
    for (int k = 0; k < x; k++) miss += run[k];
    return miss;
}

/* The original's plain miss rate, literally (§2.2). */
static double plain_miss(double p, double d, double r, double stride)
{
    double cpm = (1 - p) + p * r;
    if (d < stride) return 1 - (d / stride) * p;
    double mod = fmod(d, stride);
    double p1 = (stride - mod) / stride, r1 = floor(d / stride);
    double p2 = mod / stride, r2 = ceil(d / stride);
    double pn = 1 - p;
    return p1 * (pow(cpm, r1 - 1) * pn) + p2 * (pow(cpm, r2 - 1) * pn);
}

static double xvote_miss(double p, double d, double r, double stride, int x, bool compat)
{
    double p_after_pos = p + (1 - p) * r;
    double p_after_neg = compat ? p : p * (1 - r);
    int r1 = (int)floor(d / stride), r2 = (int)ceil(d / stride);
    double mod = fmod(d, stride);
    double miss = (stride - mod) / stride * no_run_probability(r1, x, p, p_after_pos, p_after_neg);
    if (r1 != r2) miss += mod / stride * no_run_probability(r2, x, p, p_after_pos, p_after_neg);
    return miss;
}

double ms_event_miss(double p, double d, double r, double stride, int x_vote, bool compat)
{
    /* Default mode with x = 1 is exactly the plain model, so the closed form serves both. */
    if (x_vote == 0 || (!compat && x_vote == 1)) return plain_miss(p, d, r, stride);
    return xvote_miss(p, d, r, stride, x_vote, compat);
}

void ms_event_eval(const ms_event_params *e, double tpr, double fpr, double stream_fps, double fps,
                   bool compat, ms_event_metrics *out)
{
    double stride = stream_fps / fps;
    double fnr, negative_miss;
    if (!compat && e->n_lengths > 0) {
        fnr = negative_miss = 0;
        for (int i = 0; i < e->n_lengths; i++) {
            double d = e->lengths_ms[i] / 1000.0 * stream_fps;
            fnr += ms_event_miss(tpr, d, e->correlation, stride, e->x_vote, compat);
            negative_miss += ms_event_miss(fpr, d, e->correlation, stride, e->x_vote, compat);
        }
        fnr /= e->n_lengths;
        negative_miss /= e->n_lengths;
    } else {
        double d = e->event_length_ms / 1000.0 * (compat ? fps : stream_fps);
        fnr = ms_event_miss(tpr, d, e->correlation, stride, e->x_vote, compat);
        negative_miss = ms_event_miss(fpr, d, e->correlation, stride, e->x_vote, compat);
    }
    double recall = 1 - fnr;
    double negative_recall = 1 - negative_miss;
    double tp = e->event_frequency * recall;
    double fp = (1 - e->event_frequency) * negative_recall;
    double precision = tp + fp == 0 ? 1.0 : tp / (tp + fp);
    double fdr = 1 - precision;
    double f1;
    if (compat)
        f1 = (fabs(1 - fnr) <= 1e-8 || fabs(1 - fdr) <= 1e-8) ? 0.0
                                                              : 2. / (1. / (1. - fnr) + 1. / (1. - fdr));
    else
        f1 = precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0.0;
    out->recall = recall;
    out->precision = precision;
    out->f1 = f1;
    out->fnr = fnr;
    out->fpr = fdr;
}
