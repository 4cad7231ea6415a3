/* Logging to stderr; the level comes from MS_LOG or ms_log_set_level. */
#include "base/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int log_level = -1;

static ms_log_level level_from_env(void)
{
    const char *v = getenv("MS_LOG");
    if (!v) return MS_LOG_WARN;
    if (!strcmp(v, "debug")) return MS_LOG_DEBUG;
    if (!strcmp(v, "info")) return MS_LOG_INFO;
    if (!strcmp(v, "error")) return MS_LOG_ERROR;
    return MS_LOG_WARN;
}

void ms_log_set_level(ms_log_level level) { log_level = (int)level; }

ms_log_level ms_log_get_level(void)
{
    if (log_level < 0) log_level = (int)level_from_env();
    return (ms_log_level)log_level;
}

void ms_log(ms_log_level level, const char *fmt, ...)
{
    if (level < ms_log_get_level()) return;
    static const char *names[] = {"debug", "info", "warning", "error"};
    fprintf(stderr, "mainstream: %s: ", names[level]);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}
