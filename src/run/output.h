/* Events and scores as JSON lines, to a file or stdout ("-"). Each line is written whole
 * and flushed as soon as it is known (an event when it closes), so a reader following
 * the file never sees half a line and a crash loses nothing already reported.
 *   events: {"stream","app","start_frame","end_frame","start_s","end_s","score"}
 *   scores: {"stream","app","frame","score"} */
#ifndef MS_RUN_OUTPUT_H
#define MS_RUN_OUTPUT_H

#include <stdint.h>
#include <stdio.h>

#include "base/error.h"
#include "run/detect.h"

typedef struct {
    FILE *fp;
    char *path;
    int failed; /* a write failed (reported at close) */
} ms_jsonl;

/* NULL path: an output nobody asked for (writes are no-ops). */
ms_status ms_jsonl_open(ms_jsonl *o, const char *path, ms_error *err);
void ms_jsonl_event(ms_jsonl *o, const char *stream, const char *app, const ms_event *e);
void ms_jsonl_score(ms_jsonl *o, const char *stream, const char *app, int64_t frame, double score);
/* Closes; fails when any write failed. */
ms_status ms_jsonl_close(ms_jsonl *o, ms_error *err);

#endif
