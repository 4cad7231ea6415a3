/* Logging: whole lines under one lock, to stderr or a callback (see log.h). The state is
 * the process's (a logger is), kept in one struct behind a mutex. */
#include "base/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LINE_MAX_BYTES 4096

static struct {
    pthread_mutex_t lock;
    int level;      /* -1: not read from MS_LOG yet */
    int timestamps; /* -1: not set; MS_LOG_TIME wins over ms_log_set_timestamps */
    ms_log_fn fn;
    void *user;
} logger = {PTHREAD_MUTEX_INITIALIZER, -1, 0, NULL, NULL};

static const char *const names[] = {"debug", "info", "warning", "error"};

const char *ms_log_level_name(ms_log_level level)
{
    return level >= MS_LOG_DEBUG && level <= MS_LOG_ERROR ? names[level] : "?";
}

bool ms_log_level_parse(const char *name, ms_log_level *out)
{
    static const struct {
        const char *name;
        ms_log_level level;
    } table[] = {{"debug", MS_LOG_DEBUG}, {"info", MS_LOG_INFO}, {"warn", MS_LOG_WARN},
                 {"warning", MS_LOG_WARN}, {"error", MS_LOG_ERROR}};
    for (size_t i = 0; i < sizeof table / sizeof *table; i++)
        if (name && !strcmp(name, table[i].name)) {
            *out = table[i].level;
            return true;
        }
    return false;
}

void ms_log_set_level(ms_log_level level)
{
    pthread_mutex_lock(&logger.lock);
    logger.level = (int)level;
    pthread_mutex_unlock(&logger.lock);
}

ms_log_level ms_log_get_level(void)
{
    pthread_mutex_lock(&logger.lock);
    if (logger.level < 0) {
        ms_log_level l = MS_LOG_WARN;
        const char *v = getenv("MS_LOG");
        if (v && !ms_log_level_parse(v, &l))
            fprintf(stderr, "mainstream: warning: MS_LOG='%s' is not debug, info, warn or error; using warn\n", v);
        logger.level = (int)l;
    }
    ms_log_level level = (ms_log_level)logger.level;
    pthread_mutex_unlock(&logger.lock);
    return level;
}

void ms_log_set_timestamps(bool on)
{
    pthread_mutex_lock(&logger.lock);
    logger.timestamps = on;
    pthread_mutex_unlock(&logger.lock);
}

void ms_log_set_callback(ms_log_fn fn, void *user)
{
    pthread_mutex_lock(&logger.lock);
    logger.fn = fn;
    logger.user = user;
    pthread_mutex_unlock(&logger.lock);
}

/* "2026-12-03T10:33:12.345Z " into buf. */
static void timestamp(char *buf, size_t size)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, size - n, ".%03ldZ ", ts.tv_nsec / 1000000);
}

static bool timestamps_on(int set)
{
    const char *env = getenv("MS_LOG_TIME");
    if (env && (!strcmp(env, "1") || !strcmp(env, "0"))) return env[0] == '1';
    return set > 0;
}

void ms_log(ms_log_level level, const char *fmt, ...)
{
    if (level < ms_log_get_level()) return;
    char msg[LINE_MAX_BYTES];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (n >= (int)sizeof msg) memcpy(msg + sizeof msg - 5, "...", 4); /* cut, and says so */
    for (char *p = msg; (p = strchr(p, '\n'));) *p = ' '; /* one message, one line */
    pthread_mutex_lock(&logger.lock);
    if (logger.fn) {
        logger.fn(logger.user, level, msg);
    } else {
        char line[LINE_MAX_BYTES + 128], ts[40] = "";
        if (timestamps_on(logger.timestamps)) timestamp(ts, sizeof ts);
        int len = snprintf(line, sizeof line, "%smainstream: %s: %s\n", ts, ms_log_level_name(level), msg);
        if (len >= (int)sizeof line) len = (int)sizeof line - 1;
        fwrite(line, 1, (size_t)len, stderr); /* one write of the whole line */
        fflush(stderr);
    }
    pthread_mutex_unlock(&logger.lock);
}
