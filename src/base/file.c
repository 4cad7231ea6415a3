/* Whole-file reads with a size limit, atomic writes (temporary file, fsync, rename, fsync of
 * the folder), and folder fsyncs for whoever creates or renames files itself. */
#include "base/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

ms_status ms_read_file(const char *path, size_t max_bytes, unsigned char **data, size_t *size,
                       ms_error *err)
{
    *data = NULL;
    *size = 0;
    FILE *fp = fopen(path, "rb");
    if (!fp) return ms_errorf(err, MS_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(fp);
        return ms_errorf(err, MS_ERR_IO, "%s: not a regular file", path);
    }
    if ((unsigned long long)st.st_size > max_bytes) {
        fclose(fp);
        return ms_errorf(err, MS_ERR_FORMAT, "%s: file is %lld bytes, larger than the limit of %zu",
                         path, (long long)st.st_size, max_bytes);
    }
    size_t n = (size_t)st.st_size;
    unsigned char *buf = malloc(n + 1);
    if (!buf) {
        fclose(fp);
        return ms_errorf(err, MS_ERR_NOMEM, "%s: cannot allocate %zu bytes", path, n + 1);
    }
    size_t got = fread(buf, 1, n, fp);
    int read_failed = ferror(fp);
    fclose(fp);
    if (got != n || read_failed) {
        free(buf);
        return ms_errorf(err, MS_ERR_IO, "%s: short read (%zu of %zu bytes)", path, got, n);
    }
    buf[n] = '\0';
    *data = buf;
    *size = n;
    return MS_OK;
}

ms_status ms_atomic_open(ms_atomic_file *f, const char *path, ms_error *err)
{
    memset(f, 0, sizeof *f);
    if (!strcmp(path, "-")) {
        f->fp = stdout;
        return MS_OK;
    }
    size_t n = strlen(path);
    f->path = strdup(path);
    f->tmp_path = malloc(n + 32);
    if (!f->path || !f->tmp_path) {
        ms_atomic_abort(f);
        return ms_errorf(err, MS_ERR_NOMEM, "%s: out of memory", path);
    }
    snprintf(f->tmp_path, n + 32, "%s.tmp.%ld", path, (long)getpid());
    f->fp = fopen(f->tmp_path, "wb");
    if (!f->fp) {
        ms_status s = ms_errorf(err, MS_ERR_IO, "%s: cannot create: %s", f->tmp_path, strerror(errno));
        ms_atomic_abort(f);
        return s;
    }
    return MS_OK;
}

ms_status ms_atomic_commit(ms_atomic_file *f, ms_error *err)
{
    if (f->fp == stdout) {
        int bad = fflush(stdout) != 0;
        memset(f, 0, sizeof *f);
        return bad ? ms_errorf(err, MS_ERR_IO, "stdout: write failed") : MS_OK;
    }
    int bad = ferror(f->fp) || fflush(f->fp) != 0 || fsync(fileno(f->fp)) != 0;
    bad |= fclose(f->fp) != 0;
    f->fp = NULL;
    if (bad || rename(f->tmp_path, f->path) != 0) {
        ms_status s = ms_errorf(err, MS_ERR_IO, "%s: write failed: %s", f->path, strerror(errno));
        ms_atomic_abort(f);
        return s;
    }
    ms_status s = ms_fsync_parent(f->path, err);
    free(f->path);
    free(f->tmp_path);
    memset(f, 0, sizeof *f);
    return s;
}

ms_status ms_fsync_dir(const char *dir, ms_error *err)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return ms_errorf(err, MS_ERR_IO, "%s: cannot open the folder: %s", dir, strerror(errno));
    int bad = fsync(fd) != 0;
    int saved = errno;
    close(fd);
    if (bad) return ms_errorf(err, MS_ERR_IO, "%s: fsync of the folder failed: %s", dir, strerror(saved));
    return MS_OK;
}

ms_status ms_fsync_parent(const char *path, ms_error *err)
{
    const char *slash = strrchr(path, '/');
    if (!slash) return ms_fsync_dir(".", err);
    if (slash == path) return ms_fsync_dir("/", err);
    size_t n = (size_t)(slash - path);
    char *dir = malloc(n + 1);
    if (!dir) return ms_errorf(err, MS_ERR_NOMEM, "%s: out of memory", path);
    memcpy(dir, path, n);
    dir[n] = '\0';
    ms_status s = ms_fsync_dir(dir, err);
    free(dir);
    return s;
}

void ms_atomic_abort(ms_atomic_file *f)
{
    if (f->fp && f->fp != stdout) fclose(f->fp);
    if (f->tmp_path) unlink(f->tmp_path);
    free(f->path);
    free(f->tmp_path);
    memset(f, 0, sizeof *f);
}

ms_status ms_write_file_atomic(const char *path, const void *data, size_t len, ms_error *err)
{
    ms_atomic_file f;
    ms_status s = ms_atomic_open(&f, path, err);
    if (s) return s;
    if (fwrite(data, 1, len, f.fp) != len) {
        ms_atomic_abort(&f);
        return ms_errorf(err, MS_ERR_IO, "%s: write failed", path);
    }
    return ms_atomic_commit(&f, err);
}
