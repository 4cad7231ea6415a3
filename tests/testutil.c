/* Helpers shared by the tests. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

const char *ms_test_data(const char *relative)
{
    static char path[4096];
    const char *dir = getenv("MAINSTREAM_DATA"); /* as the library's ms_data_dir() */
    snprintf(path, sizeof path, "%s/%s", dir && dir[0] ? dir : MS_SHARED_DATA, relative);
    return path;
}

int ms_test_data_exists(const char *relative) { return access(ms_test_data(relative), R_OK) == 0; }

static char *slurp(FILE *fp)
{
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + len, 1, cap - len - 1, fp)) > 0) {
        len += got;
        if (cap - len < 2) {
            char *bigger = realloc(buf, cap * 2);
            if (!bigger) {
                free(buf);
                return NULL;
            }
            buf = bigger;
            cap *= 2;
        }
    }
    if (buf) buf[len] = '\0';
    return buf;
}

int ms_test_run_cli(const char *const *args, char **out, char **errout)
{
    return ms_test_run_program(MS_CLI_PATH, args, out, errout);
}

int ms_test_run_program(const char *path, const char *const *args, char **out, char **errout)
{
    FILE *fout = tmpfile(), *ferr = tmpfile();
    if (!fout || !ferr) return -1;
    pid_t pid = fork();
    if (pid == 0) {
        int n = 0;
        while (args[n]) n++;
        char **argv = calloc((size_t)n + 2, sizeof *argv);
        argv[0] = (char *)path;
        for (int i = 0; i < n; i++) argv[i + 1] = (char *)args[i];
        dup2(fileno(fout), 1);
        dup2(fileno(ferr), 2);
        execv(path, argv);
        _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    rewind(fout);
    rewind(ferr);
    if (out) *out = slurp(fout);
    if (errout) *errout = slurp(ferr);
    fclose(fout);
    fclose(ferr);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

char *ms_test_tmpdir(void)
{
    char *path = strdup("/tmp/ms-test-XXXXXX");
    if (path && !mkdtemp(path)) {
        free(path);
        return NULL;
    }
    return path;
}

void ms_test_rmdir(char *path)
{
    if (!path) return;
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    if (system(cmd) != 0) fprintf(stderr, "warning: could not remove %s\n", path);
    free(path);
}

double ms_test_rel_l2(const float *a, const float *b, size_t n)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)a[i] - (double)b[i];
        num += d * d;
        den += (double)b[i] * (double)b[i];
    }
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

int ms_test_tensor(ms_graph *g, const char *name, int ndim, const int64_t *shape)
{
    int t = ms_graph_add_tensor(g, name, ndim, shape, MS_DT_F32);
    assert_true(t >= 0);
    return t;
}

int ms_test_constant(ms_graph *g, const char *name, int ndim, const int64_t *shape, const float *values)
{
    int t = ms_test_tensor(g, name, ndim, shape);
    size_t n = (size_t)ms_tensor_numel(&g->tensors[t]);
    g->tensors[t].data = malloc(n * sizeof(float));
    assert_non_null(g->tensors[t].data);
    memcpy(g->tensors[t].data, values, n * sizeof(float));
    return t;
}

ms_node *ms_test_node(ms_graph *g, ms_op_kind kind, const char *name, const int *in, int n_in, int out)
{
    int i = ms_graph_add_node(g, kind, name, in, n_in, out);
    assert_true(i >= 0);
    return &g->nodes[i];
}

void ms_test_set_io(ms_graph *g, int in, int out)
{
    g->inputs = malloc(sizeof(int));
    g->outputs = malloc(sizeof(int));
    assert_non_null(g->inputs);
    assert_non_null(g->outputs);
    g->inputs[0] = in;
    g->outputs[0] = out;
    g->n_inputs = g->n_outputs = 1;
}
