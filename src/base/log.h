/* Logging: one whole line per message, never interleaved between threads, on stderr or
 * handed to a callback the embedding program sets. The level comes from MS_LOG
 * (debug|info|warn|error; default warn) or ms_log_set_level; timestamps (UTC, ms) from
 * ms_log_set_timestamps or MS_LOG_TIME=1|0, which wins. The settings are the process's:
 * set them at start-up, before threads log. */
#ifndef MS_BASE_LOG_H
#define MS_BASE_LOG_H

#include <stdbool.h>

typedef enum { MS_LOG_DEBUG, MS_LOG_INFO, MS_LOG_WARN, MS_LOG_ERROR } ms_log_level;

/* Receives each message at or above the level: `msg` is the message alone (no prefix,
 * no timestamp, no newline), valid during the call. Calls are serialised (one at a
 * time, whatever thread logs); the callback must not log itself. */
typedef void (*ms_log_fn)(void *user, ms_log_level level, const char *msg);

void ms_log_set_level(ms_log_level level);
ms_log_level ms_log_get_level(void);
/* Parses "debug", "info", "warn" (or "warning"), "error"; false for anything else. */
bool ms_log_level_parse(const char *name, ms_log_level *out);
const char *ms_log_level_name(ms_log_level level);

/* Prefix every stderr line with "YYYY-MM-DDTHH:MM:SS.mmmZ " (long runs: `run`, `train`). */
void ms_log_set_timestamps(bool on);
/* fn NULL: back to stderr. */
void ms_log_set_callback(ms_log_fn fn, void *user);

void ms_log(ms_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define ms_debug(...) ms_log(MS_LOG_DEBUG, __VA_ARGS__)
#define ms_info(...) ms_log(MS_LOG_INFO, __VA_ARGS__)
#define ms_warn(...) ms_log(MS_LOG_WARN, __VA_ARGS__)
#define ms_log_error(...) ms_log(MS_LOG_ERROR, __VA_ARGS__)

#endif
