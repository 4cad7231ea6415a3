/* The file sink: events appended to a JSON-lines file, each line written whole with one
 * write(2) and fdatasync'd before it counts as delivered (see sink.h). */
#include "serve/sink.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/file.h"

typedef struct {
    int fd;
} file_sink;

static ms_status file_connect(ms_sink *s, ms_error *err)
{
    file_sink *f = s->impl;
    if (f->fd >= 0) return MS_OK;
    f->fd = open(s->cfg->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (f->fd < 0) return ms_errorf(err, MS_ERR_IO, "%s: cannot open for appending: %s", s->cfg->path, strerror(errno));
    /* the file's folder entry is durable before a line in it counts as delivered */
    if (ms_fsync_parent(s->cfg->path, err)) {
        close(f->fd);
        f->fd = -1;
        return err->status;
    }
    return MS_OK;
}

static ms_status file_send(ms_sink *s, const ms_sink_event *e, ms_error *err)
{
    file_sink *f = s->impl;
    char *line = malloc(e->len + 1);
    if (!line) return ms_errorf(err, MS_ERR_NOMEM, "%s: out of memory", s->cfg->path);
    memcpy(line, e->json, e->len);
    line[e->len] = '\n';
    ssize_t w;
    do w = write(f->fd, line, e->len + 1);
    while (w < 0 && errno == EINTR);
    free(line);
    if (w != (ssize_t)(e->len + 1) || fdatasync(f->fd) != 0)
        return ms_errorf(err, MS_ERR_IO, "%s: write failed: %s", s->cfg->path, w < 0 ? strerror(errno) : "short write");
    return MS_OK;
}

static void file_disconnect(ms_sink *s)
{
    file_sink *f = s->impl;
    if (f->fd >= 0) close(f->fd);
    f->fd = -1;
}

ms_status ms_sink_file_init(ms_sink *s, const ms_sink_config *cfg, ms_error *err)
{
    memset(s, 0, sizeof *s);
    file_sink *f = calloc(1, sizeof *f);
    if (!f) return ms_errorf(err, MS_ERR_NOMEM, "%s: out of memory", cfg->path);
    f->fd = -1;
    *s = (ms_sink){.cfg = cfg, .impl = f, .connect = file_connect, .send = file_send, .disconnect = file_disconnect};
    return MS_OK;
}
