/* Label files (CSV): the one reader of the two kinds of label file Mainstream reads, with
 * one set of rules (docs/formats.md, "Label files"):
 *   frame labels  "frame,present"  a video's frames, present 0 or 1 (train --labels,
 *                                  evaluate, score-events --labels)
 *   class labels  "file,class"     images and their class index (classify --labels-csv)
 * Rules for both: text, LF or CRLF line ends, an optional UTF-8 byte-order mark; line 1
 * is exactly the header; every other non-blank line has exactly the header's fields,
 * separated by commas, unquoted and without spaces around them; at least one row.
 * Frames are decimal in [0, 1e9], strictly increasing (gaps are unlabelled frames);
 * files are non-empty and appear once; classes are decimal in [0, 1e6]. Every message
 * names the file and the line. */
#ifndef MS_FORMATS_LABELS_H
#define MS_FORMATS_LABELS_H

#include <stdint.h>

#include "base/error.h"

#define MS_LABELS_MAX_BYTES ((size_t)1 << 30)
#define MS_LABELS_MAX_FRAME 1000000000LL
#define MS_LABELS_MAX_CLASS 1000000

typedef struct {
    int64_t *frames;  /* strictly increasing */
    uint8_t *present; /* 0 or 1, one per frame */
    int64_t n;
} ms_frame_labels;

typedef struct {
    char **files; /* as written in the file (relative to its folder unless absolute) */
    int *classes;
    int n;
} ms_class_labels;

ms_status ms_frame_labels_load(const char *path, ms_frame_labels *out, ms_error *err);
void ms_frame_labels_free(ms_frame_labels *l);

ms_status ms_class_labels_load(const char *path, ms_class_labels *out, ms_error *err);
void ms_class_labels_free(ms_class_labels *l);
/* The class of the row whose file name (its last path component) equals name's last
 * path component; -1 when none. */
int ms_class_labels_find(const ms_class_labels *l, const char *name);

/* The same readers over text already in memory (len bytes, not NUL-terminated); `path`
 * names it in messages. For tests and fuzzing. */
ms_status ms_frame_labels_parse(const char *path, const char *text, size_t len, ms_frame_labels *out,
                                ms_error *err);
ms_status ms_class_labels_parse(const char *path, const char *text, size_t len, ms_class_labels *out,
                                ms_error *err);

#endif
