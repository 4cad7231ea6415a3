/* The SSE event feed (see feed.h). */
#include "serve/feed.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct ms_feed {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char *lines[MS_FEED_RING]; /* line seq lives at seq % MS_FEED_RING */
    uint64_t next;             /* sequence number of the next line */
    bool closed;
};

ms_feed *ms_feed_new(void)
{
    ms_feed *f = calloc(1, sizeof *f);
    if (!f) return NULL;
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cv, NULL);
    return f;
}

void ms_feed_push(ms_feed *f, const char *id, const char *json)
{
    size_t n = strlen(id) + strlen(json) + 32;
    char *line = malloc(n);
    if (!line) return;
    snprintf(line, n, "id: %s\nevent: event\ndata: %s\n\n", id, json);
    pthread_mutex_lock(&f->mu);
    if (f->closed) {
        free(line);
    } else {
        char **slot = &f->lines[f->next % MS_FEED_RING];
        free(*slot);
        *slot = line;
        f->next++;
        pthread_cond_broadcast(&f->cv);
    }
    pthread_mutex_unlock(&f->mu);
}

uint64_t ms_feed_head(ms_feed *f)
{
    pthread_mutex_lock(&f->mu);
    uint64_t h = f->next;
    pthread_mutex_unlock(&f->mu);
    return h;
}

bool ms_feed_next(ms_feed *f, uint64_t *pos, double timeout_s, char **out, uint64_t *missed, bool *closed)
{
    *out = NULL;
    *missed = 0;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    double t = (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9 + timeout_s;
    ts.tv_sec = (time_t)t;
    ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
    pthread_mutex_lock(&f->mu);
    while (!f->closed && *pos >= f->next)
        if (pthread_cond_timedwait(&f->cv, &f->mu, &ts) == ETIMEDOUT) break;
    *closed = f->closed;
    if (!f->closed && *pos < f->next) {
        if (f->next - *pos > MS_FEED_RING) {
            *missed = f->next - MS_FEED_RING - *pos;
            *pos = f->next - MS_FEED_RING;
        }
        *out = strdup(f->lines[*pos % MS_FEED_RING]);
        if (*out) (*pos)++;
    }
    pthread_mutex_unlock(&f->mu);
    return *out != NULL;
}

void ms_feed_close(ms_feed *f)
{
    pthread_mutex_lock(&f->mu);
    f->closed = true;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
}

void ms_feed_free(ms_feed *f)
{
    if (!f) return;
    for (int i = 0; i < MS_FEED_RING; i++) free(f->lines[i]);
    pthread_mutex_destroy(&f->mu);
    pthread_cond_destroy(&f->cv);
    free(f);
}
