/* libFuzzer target: the ONNX importer (wire-format walk, protobuf-c unpacking,
 * initializers, every node handler, constant folding, shape inference) and, on graphs
 * it accepts, the chokepoint search. Seeds: libonnx-testdata's model.onnx files. */
#include <stdint.h>
#include <stdlib.h>

#include "formats/onnx.h"
#include "graph/cut.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ms_graph *g = NULL;
    ms_error err;
    if (ms_onnx_import(data, size, "fuzz.onnx", NULL, &g, &err) == MS_OK) {
        ms_chokepoint *cps = NULL;
        int n = 0;
        if (ms_graph_chokepoints(g, &cps, &n, &err) == MS_OK) free(cps);
        ms_graph_free(g);
    }
    ms_onnx_tensor t;
    if (ms_onnx_read_tensor(data, size, "fuzz.pb", &t, &err) == MS_OK) ms_onnx_tensor_free(&t);
    return 0;
}
