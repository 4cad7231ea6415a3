/* Status codes and error messages: every fallible function returns an ms_status and,
 * on failure, leaves a message in the caller's ms_error naming the file, field or
 * stream and what was wrong. */
#ifndef MS_BASE_ERROR_H
#define MS_BASE_ERROR_H

#include <stddef.h>

typedef enum {
    MS_OK = 0,
    MS_ERR_IO,          /* a file or stream could not be read or written */
    MS_ERR_FORMAT,      /* input is malformed: bad file, bad JSON, bad field */
    MS_ERR_INVALID,     /* a value is out of range or inconsistent */
    MS_ERR_UNSUPPORTED, /* valid input that this build does not handle */
    MS_ERR_NOMEM,       /* an allocation failed */
    MS_ERR_BACKEND,     /* a compute library (oneDNN, cuDNN) reported a failure */
} ms_status;

typedef struct {
    ms_status status;
    char msg[1024];
} ms_error;

/* Sets err (which may be NULL) to code and a printf-style message; returns code. */
ms_status ms_errorf(ms_error *err, ms_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prepends "context: " to an error already set, for messages that name the outer file. */
ms_status ms_error_prefix(ms_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Clears err to MS_OK with an empty message. */
void ms_error_clear(ms_error *err);

const char *ms_status_name(ms_status s);

#endif
