/* NumPy .npy files (format 1.0 to 3.0): the one owner of reading and writing them.
 * Read: little-endian float32 or float64 ('<f4', '<f8'), C order, 1 to 8 dimensions,
 * at most MS_NPY_MAX_BYTES of data; every field of the header and the data's length are
 * checked. Written: format 1.0, '<f4', C order, atomically. */
#ifndef MS_FORMATS_NPY_H
#define MS_FORMATS_NPY_H

#include <stdint.h>

#include "base/error.h"

#define MS_NPY_MAX_DIMS 8
#define MS_NPY_MAX_BYTES ((size_t)1 << 30)

typedef struct {
    int ndim;
    int64_t shape[MS_NPY_MAX_DIMS];
    int64_t numel;
    float *data; /* numel values, C order */
} ms_npy;

ms_status ms_npy_read(const char *path, ms_npy *out, ms_error *err);
/* Parses a .npy file held in memory; `name` starts every message. */
ms_status ms_npy_parse(const uint8_t *bytes, size_t size, const char *name, ms_npy *out, ms_error *err);
ms_status ms_npy_write(const char *path, const ms_npy *a, ms_error *err);
void ms_npy_free(ms_npy *a);

#endif
