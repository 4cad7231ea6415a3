/* Logging to stderr with a level set once at start-up (MS_LOG=debug|info|warn|error). */
#ifndef MS_BASE_LOG_H
#define MS_BASE_LOG_H

typedef enum { MS_LOG_DEBUG, MS_LOG_INFO, MS_LOG_WARN, MS_LOG_ERROR } ms_log_level;

void ms_log_set_level(ms_log_level level);
ms_log_level ms_log_get_level(void);
void ms_log(ms_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define ms_debug(...) ms_log(MS_LOG_DEBUG, __VA_ARGS__)
#define ms_info(...) ms_log(MS_LOG_INFO, __VA_ARGS__)
#define ms_warn(...) ms_log(MS_LOG_WARN, __VA_ARGS__)

#endif
