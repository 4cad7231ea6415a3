/* The on-disk spool (see spool.h). */
#include "serve/spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/file.h"

#define DEFAULT_COMPACT_BYTES (1u << 20)

struct ms_spool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char *dir;
    int fd;              /* queue.<gen>, O_RDWR */
    uint64_t gen;
    uint64_t size;       /* bytes in the queue file */
    uint64_t cursor;     /* bytes delivered */
    uint64_t compact_bytes;
    ms_spool_stats st;
    bool woken;
};

static char *path_of(const ms_spool *s, const char *name, uint64_t gen)
{
    size_t n = strlen(s->dir) + 64;
    char *p = malloc(n);
    if (!p) return NULL;
    if (name) snprintf(p, n, "%s/%s", s->dir, name);
    else snprintf(p, n, "%s/queue.%" PRIu64, s->dir, gen);
    return p;
}

static ms_status write_cursor(ms_spool *s, uint64_t gen, uint64_t offset, ms_error *err)
{
    char *p = path_of(s, "cursor", 0), line[64];
    if (!p) return ms_errorf(err, MS_ERR_NOMEM, "%s: out of memory", s->dir);
    int n = snprintf(line, sizeof line, "%" PRIu64 " %" PRIu64 "\n", gen, offset);
    ms_status st = ms_write_file_atomic(p, line, (size_t)n, err);
    free(p);
    return st;
}

static ms_status read_cursor(ms_spool *s, ms_error *err)
{
    char *p = path_of(s, "cursor", 0);
    if (!p) return ms_errorf(err, MS_ERR_NOMEM, "%s: out of memory", s->dir);
    unsigned char *data;
    size_t size;
    s->gen = s->cursor = 0;
    ms_status st = MS_OK;
    if (access(p, F_OK) == 0) {
        if (!(st = ms_read_file(p, 64, &data, &size, err))) {
            if (sscanf((char *)data, "%" SCNu64 " %" SCNu64, &s->gen, &s->cursor) != 2)
                st = ms_errorf(err, MS_ERR_FORMAT, "%s: not a spool cursor", p);
            free(data);
        }
    }
    free(p);
    return st;
}

/* Removes queue files of other generations (left by a crash during compaction). */
static void remove_stale(ms_spool *s)
{
    DIR *d = opendir(s->dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        uint64_t g;
        char tail;
        if (sscanf(e->d_name, "queue.%" SCNu64 "%c", &g, &tail) == 1 && g != s->gen) {
            char *p = path_of(s, NULL, g);
            if (p) unlink(p);
            free(p);
        }
    }
    closedir(d);
}

/* Counts the complete records after the cursor and cuts a torn last line off. */
static ms_status scan(ms_spool *s, ms_error *err)
{
    struct stat sb;
    if (fstat(s->fd, &sb) != 0) return ms_errorf(err, MS_ERR_IO, "%s: stat failed: %s", s->dir, strerror(errno));
    s->size = (uint64_t)sb.st_size;
    if (s->cursor > s->size) s->cursor = s->size;
    uint64_t end = s->cursor, pos = s->cursor;
    char buf[65536];
    while (pos < s->size) {
        ssize_t n = pread(s->fd, buf, sizeof buf, (off_t)pos);
        if (n <= 0) return ms_errorf(err, MS_ERR_IO, "%s: read failed: %s", s->dir, strerror(errno));
        for (ssize_t i = 0; i < n; i++)
            if (buf[i] == '\n') {
                s->st.pending++;
                end = pos + (uint64_t)i + 1;
            }
        pos += (uint64_t)n;
    }
    if (end < s->size) {
        if (ftruncate(s->fd, (off_t)end) != 0)
            return ms_errorf(err, MS_ERR_IO, "%s: truncate failed: %s", s->dir, strerror(errno));
        s->size = end;
    }
    s->st.pending_bytes = s->size - s->cursor;
    return MS_OK;
}

ms_status ms_spool_open(const char *dir, uint64_t max_bytes, ms_spool **out, ms_error *err)
{
    *out = NULL;
    if (mkdir(dir, 0700) == 0) {
        if (ms_fsync_parent(dir, err)) return err->status;
    } else if (errno != EEXIST) {
        return ms_errorf(err, MS_ERR_IO, "%s: cannot create spool folder: %s", dir, strerror(errno));
    }
    ms_spool *s = calloc(1, sizeof *s);
    if (!s || !(s->dir = strdup(dir))) {
        free(s);
        return ms_errorf(err, MS_ERR_NOMEM, "%s: out of memory", dir);
    }
    s->fd = -1;
    s->compact_bytes = DEFAULT_COMPACT_BYTES;
    s->st.max_bytes = max_bytes;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    ms_status st = read_cursor(s, err);
    char *q = st ? NULL : path_of(s, NULL, s->gen);
    if (!st && !q) st = ms_errorf(err, MS_ERR_NOMEM, "%s: out of memory", dir);
    if (!st && (s->fd = open(q, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0)
        st = ms_errorf(err, MS_ERR_IO, "%s: cannot open: %s", q, strerror(errno));
    free(q);
    if (!st) st = ms_fsync_dir(s->dir, err); /* the queue file's entry, when it was just created */
    if (!st) st = scan(s, err);
    if (!st) remove_stale(s);
    if (st) {
        ms_spool_close(s);
        return st;
    }
    *out = s;
    return MS_OK;
}

void ms_spool_set_compact_bytes(ms_spool *s, uint64_t bytes)
{
    pthread_mutex_lock(&s->mu);
    s->compact_bytes = bytes;
    pthread_mutex_unlock(&s->mu);
}

static ms_status write_all(int fd, const char *p, size_t n, uint64_t at)
{
    while (n > 0) {
        ssize_t w = pwrite(fd, p, n, (off_t)at);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return MS_ERR_IO;
        p += w;
        n -= (size_t)w;
        at += (uint64_t)w;
    }
    return MS_OK;
}

ms_status ms_spool_push(ms_spool *s, const char *rec, size_t len, ms_error *err)
{
    if (len == 0 || len > MS_SPOOL_MAX_RECORD || memchr(rec, '\n', len))
        return ms_errorf(err, MS_ERR_INVALID, "%s: a record must be one non-empty line of at most %u bytes", s->dir,
                         MS_SPOOL_MAX_RECORD);
    pthread_mutex_lock(&s->mu);
    ms_status st = MS_OK;
    if (s->st.pending_bytes + len + 1 > s->st.max_bytes) {
        s->st.dropped++;
        st = ms_errorf(err, MS_ERR_INVALID, "%s: spool full (%" PRIu64 " records, %" PRIu64 " of %" PRIu64 " bytes)",
                       s->dir, s->st.pending, s->st.pending_bytes, s->st.max_bytes);
    } else {
        char *line = malloc(len + 1);
        if (!line) st = ms_errorf(err, MS_ERR_NOMEM, "%s: out of memory", s->dir);
        else {
            memcpy(line, rec, len);
            line[len] = '\n';
            if (write_all(s->fd, line, len + 1, s->size) || fdatasync(s->fd) != 0) {
                st = ms_errorf(err, MS_ERR_IO, "%s: write failed: %s", s->dir, strerror(errno));
                if (ftruncate(s->fd, (off_t)s->size) != 0) { /* the queue keeps its old end */
                }
            } else {
                s->size += len + 1;
                s->st.pending++;
                s->st.pending_bytes += len + 1;
                s->st.pushed++;
                pthread_cond_broadcast(&s->cv);
            }
            free(line);
        }
    }
    pthread_mutex_unlock(&s->mu);
    return st;
}

/* Reads the record at the cursor (lock held). */
static ms_status read_head(ms_spool *s, char **rec, size_t *len, ms_error *err)
{
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap + 1);
    if (!buf) return ms_errorf(err, MS_ERR_NOMEM, "%s: out of memory", s->dir);
    for (;;) {
        uint64_t at = s->cursor + n;
        if (at >= s->size) break;
        ssize_t r = pread(s->fd, buf + n, cap - n, (off_t)at);
        if (r <= 0) {
            free(buf);
            return ms_errorf(err, MS_ERR_IO, "%s: read failed: %s", s->dir, strerror(errno));
        }
        char *nl = memchr(buf + n, '\n', (size_t)r);
        if (nl) {
            *len = (size_t)(nl - buf);
            buf[*len] = '\0';
            *rec = buf;
            return MS_OK;
        }
        n += (size_t)r;
        if (n == cap) {
            if (cap > MS_SPOOL_MAX_RECORD) break;
            char *bigger = realloc(buf, cap * 2 + 1);
            if (!bigger) {
                free(buf);
                return ms_errorf(err, MS_ERR_NOMEM, "%s: out of memory", s->dir);
            }
            buf = bigger;
            cap *= 2;
        }
    }
    free(buf);
    return ms_errorf(err, MS_ERR_FORMAT, "%s: queue.%" PRIu64 ": record at byte %" PRIu64 " has no end", s->dir,
                     s->gen, s->cursor);
}

bool ms_spool_peek(ms_spool *s, double timeout_s, char **rec, size_t *len, ms_error *err)
{
    *rec = NULL;
    pthread_mutex_lock(&s->mu);
    if (s->st.pending == 0 && timeout_s > 0 && !s->woken) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        double t = (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9 + timeout_s;
        ts.tv_sec = (time_t)t;
        ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
        while (s->st.pending == 0 && !s->woken)
            if (pthread_cond_timedwait(&s->cv, &s->mu, &ts) == ETIMEDOUT) break;
    }
    s->woken = false;
    bool got = s->st.pending > 0 && read_head(s, rec, len, err) == MS_OK;
    pthread_mutex_unlock(&s->mu);
    return got;
}

/* Moves the undelivered tail to a new generation (lock held). */
static ms_status compact(ms_spool *s, ms_error *err)
{
    uint64_t gen = s->gen + 1;
    char *q = path_of(s, NULL, gen), *old = path_of(s, NULL, s->gen);
    ms_status st = MS_OK;
    int fd = -1;
    if (!q || !old) st = ms_errorf(err, MS_ERR_NOMEM, "%s: out of memory", s->dir);
    if (!st && (fd = open(q, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0)
        st = ms_errorf(err, MS_ERR_IO, "%s: cannot create: %s", q, strerror(errno));
    uint64_t tail = s->size - s->cursor, done = 0;
    char buf[65536];
    while (!st && done < tail) {
        size_t want = tail - done < sizeof buf ? (size_t)(tail - done) : sizeof buf;
        ssize_t r = pread(s->fd, buf, want, (off_t)(s->cursor + done));
        if (r <= 0 || write_all(fd, buf, (size_t)r, done)) st = ms_errorf(err, MS_ERR_IO, "%s: compaction failed", q);
        else done += (uint64_t)r;
    }
    if (!st && fsync(fd) != 0) st = ms_errorf(err, MS_ERR_IO, "%s: fsync failed: %s", q, strerror(errno));
    if (!st) st = write_cursor(s, gen, 0, err);
    if (!st) {
        close(s->fd);
        s->fd = fd;
        fd = -1;
        unlink(old);
        s->gen = gen;
        s->size = tail;
        s->cursor = 0;
    }
    if (fd >= 0) {
        close(fd);
        unlink(q);
    }
    free(q);
    free(old);
    return st;
}

ms_status ms_spool_pop(ms_spool *s, ms_error *err)
{
    pthread_mutex_lock(&s->mu);
    char *rec;
    size_t len;
    ms_status st = s->st.pending ? read_head(s, &rec, &len, err)
                                 : ms_errorf(err, MS_ERR_INVALID, "%s: pop from an empty spool", s->dir);
    if (!st) {
        free(rec);
        uint64_t cursor = s->cursor + len + 1;
        if (cursor == s->size || cursor >= s->compact_bytes) {
            s->cursor = cursor;
            st = compact(s, err);
            if (st) s->cursor -= len + 1;
        } else {
            st = write_cursor(s, s->gen, cursor, err);
            if (!st) s->cursor = cursor;
        }
        if (!st) {
            s->st.pending--;
            s->st.pending_bytes -= len + 1;
            s->st.popped++;
        }
    }
    pthread_mutex_unlock(&s->mu);
    return st;
}

void ms_spool_wake(ms_spool *s)
{
    pthread_mutex_lock(&s->mu);
    s->woken = true;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

ms_spool_stats ms_spool_get_stats(ms_spool *s)
{
    pthread_mutex_lock(&s->mu);
    ms_spool_stats st = s->st;
    pthread_mutex_unlock(&s->mu);
    return st;
}

void ms_spool_close(ms_spool *s)
{
    if (!s) return;
    if (s->fd >= 0) close(s->fd);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s->dir);
    free(s);
}
