/* A bounded, ordered, durable queue of records on disk: what an output has been given
 * and not yet delivered. Every event is pushed here before it is sent, so a broker that
 * is down, or serve killed with kill -9, loses nothing: the delivery thread sends the
 * oldest record, pops it only when the broker took it, and a restart resumes from the
 * last pop (at-least-once: a record sent but not yet popped is sent again; its id lets
 * a consumer drop the duplicate).
 *
 * On disk, under its folder: `queue.<gen>` (records as lines, appended and fsynced) and
 * `cursor` ("<gen> <offset>\n", replaced atomically at each pop: the bytes before offset
 * are delivered). When everything is delivered, or the delivered prefix grows past
 * compact_bytes, the rest is copied to queue.<gen+1> and the cursor switched to it, so a
 * crash at any step leaves one consistent queue. A torn last line (power loss in a
 * write) is cut off at open. A push that would make the undelivered bytes exceed
 * max_bytes is refused (counted in `dropped`; the caller logs it): the spool never
 * grows without bound and never drops silently. Safe from any thread. */
#ifndef MS_SERVE_SPOOL_H
#define MS_SERVE_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

#define MS_SPOOL_MAX_RECORD (1u << 20)

typedef struct ms_spool ms_spool;

typedef struct {
    uint64_t pending;        /* records pushed and not yet popped */
    uint64_t pending_bytes;
    uint64_t pushed, popped; /* since open */
    uint64_t dropped;        /* pushes refused because the spool was full */
    uint64_t max_bytes;
} ms_spool_stats;

/* Opens (creating) the spool in dir; records left from an earlier run stay pending. */
ms_status ms_spool_open(const char *dir, uint64_t max_bytes, ms_spool **out, ms_error *err);
/* Sets how large the delivered prefix may grow before it is compacted (tests). */
void ms_spool_set_compact_bytes(ms_spool *s, uint64_t bytes);

/* Appends one record (no newline inside) and fsyncs it. A full spool refuses it with
 * MS_ERR_INVALID ("spool full"); a failed write is MS_ERR_IO. */
ms_status ms_spool_push(ms_spool *s, const char *rec, size_t len, ms_error *err);

/* Waits up to timeout_s for a pending record; copies the oldest into a malloc'd,
 * NUL-terminated *rec. Returns false when none arrived (or on a read error, which is
 * then in err). */
bool ms_spool_peek(ms_spool *s, double timeout_s, char **rec, size_t *len, ms_error *err);

/* Marks the oldest record delivered (persists the cursor). */
ms_status ms_spool_pop(ms_spool *s, ms_error *err);

/* Wakes every waiting peek (used at shutdown). */
void ms_spool_wake(ms_spool *s);

ms_spool_stats ms_spool_get_stats(ms_spool *s);
void ms_spool_close(ms_spool *s);

#endif
