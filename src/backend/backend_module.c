/* Backends built as modules of their own (today: cuda, libmainstream_cuda.so), loaded
 * when first asked for, so that the core library and its tests link no GPU library.
 *
 * The module is looked for at $MS_CUDA_MODULE when set, beside the running executable,
 * then on the library search path. dlopen counts its own references and gives the
 * loaded module back on later calls, so no handle is kept here; the module stays
 * loaded for the life of the process (plans point into it). */
#include <dlfcn.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend/backend.h"
#include "base/log.h"

static void *open_module(const char *file)
{
    const char *env = getenv("MS_CUDA_MODULE");
    if (env && *env) return dlopen(env, RTLD_NOW | RTLD_LOCAL);
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        size_t len = strlen(file);
        if (slash && (size_t)(slash + 1 - exe) + len < sizeof exe) {
            memcpy(slash + 1, file, len + 1);
            void *h = dlopen(exe, RTLD_NOW | RTLD_LOCAL);
            if (h) return h;
        }
    }
    return dlopen(file, RTLD_NOW | RTLD_LOCAL);
}

const ms_backend *ms_backend_module(const char *name)
{
    if (strcmp(name, "cuda")) return NULL;
    void *h = open_module("libmainstream_cuda.so");
    if (!h) {
        ms_warn("backend 'cuda' is not available: %s", dlerror());
        return NULL;
    }
    return (const ms_backend *)dlsym(h, "ms_backend_cuda");
}
