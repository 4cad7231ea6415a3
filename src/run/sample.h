/* Hierarchical frame sampling.
 *
 * A sampler at rate F on a stream of S fps looks at frames in increasing index order and
 * takes frame i when its tick count floor(i * F / S) has advanced past the tick count of
 * the last frame it took (the first frame it sees is always taken). A node of the stem
 * tree applies its sampler only to the frames its parent took, so
 *   - a node's frames are a subset of its parent's, by construction, whatever the rates
 *     and whatever frames were dropped upstream;
 *   - on the full stream (the root) it takes exactly the frames where floor(i*F/S)
 *     advances, F of every S frames on average;
 *   - a child at its parent's rate takes exactly its parent's frames (by induction: each
 *     frame the parent took advanced the common tick count since their common last frame);
 *   - a child at a lower rate takes at most one frame per tick of its own, so it never runs
 *     faster than planned.
 * The rule is a pure function of the frame indices offered, so offline runs are
 * deterministic. */
#ifndef MS_RUN_SAMPLE_H
#define MS_RUN_SAMPLE_H

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    double rate;        /* F, samples per second; >= stream_fps takes every frame offered */
    double stream_fps;  /* S */
    bool started;
    int64_t last_tick;  /* floor(i * F / S) of the last frame taken */
} ms_sampler;

void ms_sampler_init(ms_sampler *s, double rate, double stream_fps);

/* Continues as if frame `index` had been the last frame taken: the next one taken is
 * the first whose tick advances past index's (a rate change keeps the phase). */
void ms_sampler_resume(ms_sampler *s, int64_t index);

/* Whether the sampler takes frame `index` (offered in increasing order). */
bool ms_sampler_take(ms_sampler *s, int64_t index);

#endif
