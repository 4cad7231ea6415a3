/* The shared data folder and paths under it (see path.h). */
#include "base/path.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef MS_DEFAULT_DATA_DIR
#define MS_DEFAULT_DATA_DIR "../shared/data"
#endif

const char *ms_data_dir(void)
{
    const char *env = getenv(MS_DATA_ENV);
    return env && env[0] ? env : MS_DEFAULT_DATA_DIR;
}

/* Length of a leading $MAINSTREAM_DATA / ${MAINSTREAM_DATA} ending the path or before '/'. */
static size_t data_prefix(const char *p)
{
    static const char *const forms[] = {"${" MS_DATA_ENV "}", "$" MS_DATA_ENV};
    for (int i = 0; i < 2; i++) {
        size_t n = strlen(forms[i]);
        if (!strncmp(p, forms[i], n) && (p[n] == '/' || p[n] == '\0')) return n;
    }
    return 0;
}

char *ms_path_expand(const char *p)
{
    size_t skip = data_prefix(p);
    if (!skip) return strdup(p);
    const char *dir = ms_data_dir(), *rest = p + skip;
    size_t n = strlen(dir) + strlen(rest) + 1;
    char *out = malloc(n);
    if (out) snprintf(out, n, "%s%s", dir, rest);
    return out;
}
