/* FFmpeg set-up and error text for the media room. FFmpeg reports details (a picture
 * size it refuses, a missing JPEG marker) only through its log, so the last message at
 * warning level or worse is kept per thread and quoted in our errors; everything it logs
 * also goes to our log at debug level. */
#include "media/ffmpeg.h"

#include <libavformat/avformat.h>
#include <libavutil/log.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "base/log.h"

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static _Thread_local char last_msg[256];

static void log_callback(void *avcl, int level, const char *fmt, va_list ap)
{
    (void)avcl;
    if (level > AV_LOG_VERBOSE) return;
    char line[256];
    vsnprintf(line, sizeof line, fmt, ap);
    size_t n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = '\0';
    if (n == 0) return;
    if (level <= AV_LOG_WARNING) memcpy(last_msg, line, n + 1);
    ms_debug("ffmpeg: %s", line);
}

static void init(void)
{
    av_log_set_callback(log_callback);
    avformat_network_init();
}

void ms_ffmpeg_init(void) { pthread_once(&init_once, init); }

void ms_ffmpeg_clear_log(void) { last_msg[0] = '\0'; }

ms_status ms_ffmpeg_error(ms_error *err, ms_status code, int averr, const char *what,
                          const char *doing)
{
    char reason[AV_ERROR_MAX_STRING_SIZE] = "";
    av_strerror(averr, reason, sizeof reason);
    if (last_msg[0])
        return ms_errorf(err, code, "%s: %s: %s (FFmpeg: %s)", what, doing, reason, last_msg);
    return ms_errorf(err, code, "%s: %s: %s", what, doing, reason);
}
