/* Whole-file reads with a size limit, and atomic writes: output goes to a temporary
 * file beside the target and is renamed over it only when complete, so a failed run
 * never leaves a half-written file. */
#ifndef MS_BASE_FILE_H
#define MS_BASE_FILE_H

#include <stdio.h>
#include <stddef.h>

#include "base/error.h"

/* Reads all of path into a malloc'd buffer (NUL-terminated, the NUL not counted).
 * Files larger than max_bytes are rejected. */
ms_status ms_read_file(const char *path, size_t max_bytes, unsigned char **data, size_t *size,
                       ms_error *err);

typedef struct {
    char *path;     /* final name */
    char *tmp_path; /* where the bytes go until ms_atomic_commit */
    FILE *fp;
} ms_atomic_file;

/* Opens a temporary file beside path for writing. "-" means stdout (no atomicity needed). */
ms_status ms_atomic_open(ms_atomic_file *f, const char *path, ms_error *err);
/* Flushes, fsyncs and renames the temporary file over the target, then fsyncs the
 * target's folder so the rename itself is durable. Closes f either way. When only the
 * folder's fsync fails, the error comes after the rename: the target holds the new
 * bytes, but whether they survive a power loss is unknown. */
ms_status ms_atomic_commit(ms_atomic_file *f, ms_error *err);
/* Closes and removes the temporary file; the target is left as it was. */
void ms_atomic_abort(ms_atomic_file *f);

/* Makes a folder's entries durable: fsyncs the folder itself, so a file created, renamed
 * or removed in it survives a power loss (a rename is only durable once its folder is). */
ms_status ms_fsync_dir(const char *dir, ms_error *err);
/* The same for the folder holding path ("." when path has no '/'). */
ms_status ms_fsync_parent(const char *path, ms_error *err);

/* Writes len bytes to path atomically. */
ms_status ms_write_file_atomic(const char *path, const void *data, size_t len, ms_error *err);

#endif
