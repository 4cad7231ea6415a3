/* Hierarchical sampling: the root rule against hand-listed frames, the subset property
 * down chains of rates (with frames dropped upstream too), equal rates taking equal sets,
 * and the counts a rate gives. */
#include "testutil.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "run/sample.h"

#define N_FRAMES 600

/* Applies sampler s to the offered frames; returns how many it took into taken[]. */
static int apply(ms_sampler *s, const int64_t *offered, int n, int64_t *taken)
{
    int k = 0;
    for (int i = 0; i < n; i++)
        if (ms_sampler_take(s, offered[i])) taken[k++] = offered[i];
    return k;
}

static bool is_subset(const int64_t *a, int na, const int64_t *b, int nb)
{
    int j = 0;
    for (int i = 0; i < na; i++) {
        while (j < nb && b[j] < a[i]) j++;
        if (j == nb || b[j] != a[i]) return false;
    }
    return true;
}

/* S = 10, F = 4: floor(i*0.4) advances at 0 (first), 3, 5, 8, 10, 13, ... */
static void test_root_rule(void **state)
{
    (void)state;
    ms_sampler s;
    ms_sampler_init(&s, 4, 10);
    int64_t all[11], taken[11];
    for (int i = 0; i < 11; i++) all[i] = i;
    int n = apply(&s, all, 11, taken);
    int64_t expect[] = {0, 3, 5, 8, 10};
    assert_int_equal(n, 5);
    for (int i = 0; i < n; i++) assert_int_equal(taken[i], expect[i]);
    /* at the stream's rate every frame is taken */
    ms_sampler_init(&s, 10, 10);
    assert_int_equal(apply(&s, all, 11, taken), 11);
}

/* The plain floor rule on the stream is not nested (S = 10: F = 3 takes 4, F = 4 does
 * not); applied to the parent's frames it is. */
static void test_subset_chains(void **state)
{
    (void)state;
    const double stream = 30;
    const double rates[] = {30, 29, 24, 17.5, 15, 12.5, 10, 7, 5, 3, 2.5, 1, 0.5, 0.1};
    const int n_rates = (int)(sizeof rates / sizeof rates[0]);
    int64_t *offered = malloc(sizeof(int64_t) * N_FRAMES), *parent = malloc(sizeof(int64_t) * N_FRAMES),
            *child = malloc(sizeof(int64_t) * N_FRAMES);
    assert_non_null(offered);
    assert_non_null(parent);
    assert_non_null(child);
    srand(7);
    for (int trial = 0; trial < 200; trial++) {
        /* frames reaching the root: all of them, or some dropped at random (live) */
        int n_off = 0;
        for (int i = 0; i < N_FRAMES; i++)
            if (trial % 2 == 0 || rand() % 4 != 0) offered[n_off++] = i;
        /* a chain of three to five decreasing rates */
        int depth = 3 + trial % 3, n_parent = n_off;
        memcpy(parent, offered, sizeof(int64_t) * (size_t)n_off);
        int r = rand() % 3;
        for (int level = 0; level < depth; level++) {
            ms_sampler s;
            ms_sampler_init(&s, rates[r], stream);
            int n_child = apply(&s, parent, n_parent, child);
            assert_true(is_subset(child, n_child, parent, n_parent));
            assert_true(n_child <= n_parent);
            /* never faster than planned: at most one frame per tick of the node's own rate */
            assert_true(n_child <= (int)((double)(N_FRAMES - 1) * rates[r] / stream) + 1);
            memcpy(parent, child, sizeof(int64_t) * (size_t)n_child);
            n_parent = n_child;
            r += 1 + rand() % 3;
            if (r >= n_rates) r = n_rates - 1;
        }
    }
    free(offered);
    free(parent);
    free(child);
}

/* A child at its parent's rate takes exactly the parent's frames; on the full stream a
 * node at F takes F * T frames (T seconds) up to one. */
static void test_equal_rates_and_counts(void **state)
{
    (void)state;
    int64_t all[N_FRAMES], p[N_FRAMES], c[N_FRAMES];
    for (int i = 0; i < N_FRAMES; i++) all[i] = i;
    const double rates[] = {7, 5, 3.3, 1, 0.7};
    for (int k = 0; k < 5; k++) {
        ms_sampler a, b;
        ms_sampler_init(&a, rates[k], 30);
        ms_sampler_init(&b, rates[k], 30);
        int np = apply(&a, all, N_FRAMES, p);
        int nc = apply(&b, p, np, c);
        assert_int_equal(nc, np);
        assert_memory_equal(c, p, sizeof(int64_t) * (size_t)np);
        /* 600 frames at 30 fps = 20 s */
        double expect = rates[k] * 20;
        assert_true(np >= (int)expect && np <= (int)expect + 1);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_root_rule),
        cmocka_unit_test(test_subset_chains),
        cmocka_unit_test(test_equal_rates_and_counts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
