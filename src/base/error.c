/* Status codes and error messages. */
#include "base/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

ms_status ms_errorf(ms_error *err, ms_status code, const char *fmt, ...)
{
    if (!err) return code;
    err->status = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return code;
}

ms_status ms_error_prefix(ms_error *err, const char *fmt, ...)
{
    if (!err) return MS_ERR_INVALID;
    char prefix[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    char old[sizeof err->msg];
    memcpy(old, err->msg, sizeof old);
    size_t n = strlen(prefix);
    if (n > sizeof err->msg - 3) n = sizeof err->msg - 3;
    memcpy(err->msg, prefix, n);
    memcpy(err->msg + n, ": ", 2);
    size_t room = sizeof err->msg - n - 3;
    size_t m = strnlen(old, room);
    memcpy(err->msg + n + 2, old, m);
    err->msg[n + 2 + m] = '\0';
    return err->status;
}

void ms_error_clear(ms_error *err)
{
    if (!err) return;
    err->status = MS_OK;
    err->msg[0] = '\0';
}

const char *ms_status_name(ms_status s)
{
    switch (s) {
    case MS_OK: return "ok";
    case MS_ERR_IO: return "i/o error";
    case MS_ERR_FORMAT: return "format error";
    case MS_ERR_INVALID: return "invalid value";
    case MS_ERR_UNSUPPORTED: return "unsupported";
    case MS_ERR_NOMEM: return "out of memory";
    case MS_ERR_BACKEND: return "backend error";
    }
    return "unknown status";
}
