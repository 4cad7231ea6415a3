/* What the media room needs from FFmpeg in every file: one-time set-up (network, and
 * FFmpeg's log routed through ours so a decoder's complaints do not spill onto stderr),
 * and error text that joins FFmpeg's return code with the last thing it logged. */
#ifndef MS_MEDIA_FFMPEG_H
#define MS_MEDIA_FFMPEG_H

#include "base/error.h"

/* Largest picture, in pixels, that any decoder is allowed to allocate: 8192 x 8192. */
#define MS_MEDIA_MAX_PIXELS (8192LL * 8192LL)

/* Idempotent and thread-safe. */
void ms_ffmpeg_init(void);

/* Forgets what FFmpeg logged so far on this thread (call before an operation whose
 * failure should be explained). */
void ms_ffmpeg_clear_log(void);

/* Sets err to code and "WHAT: DOING: <av_err2str(averr)> (FFmpeg: <last message>)". */
ms_status ms_ffmpeg_error(ms_error *err, ms_status code, int averr, const char *what,
                          const char *doing);

#endif
