/* The live event feed behind GET /v1/events (Server-Sent Events): a ring of the most
 * recent event lines with sequence numbers. The event callback appends; each SSE
 * connection keeps its own position and waits for the next line. A reader that falls
 * more than the ring behind skips ahead (it is told how many it missed); the feed is
 * best-effort live view, the durable outputs are outputs.h. Safe from any thread. */
#ifndef MS_SERVE_FEED_H
#define MS_SERVE_FEED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MS_FEED_RING 1024

typedef struct ms_feed ms_feed;

ms_feed *ms_feed_new(void);
void ms_feed_push(ms_feed *f, const char *id, const char *json);
/* The sequence number the next pushed line will get (a new reader starts here). */
uint64_t ms_feed_head(ms_feed *f);
/* Waits up to timeout_s for line *pos; on success copies "id: ..\ndata: ..\n\n" (malloc'd)
 * into *out and advances *pos. *missed gets lines skipped because the reader fell behind.
 * Returns false on timeout or when the feed is closed (then *closed is set). */
bool ms_feed_next(ms_feed *f, uint64_t *pos, double timeout_s, char **out, uint64_t *missed, bool *closed);
/* Wakes every reader with closed = true; pushes after this are ignored. */
void ms_feed_close(ms_feed *f);
void ms_feed_free(ms_feed *f);

#endif
