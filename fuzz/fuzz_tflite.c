/* libFuzzer target: the TFLite importer (flatbuffer reader, operators, shape inference)
 * and, on graphs it accepts, the chokepoint search. */
#include <stdint.h>
#include <stdlib.h>

#include "formats/tflite.h"
#include "graph/cut.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ms_graph *g = NULL;
    ms_error err;
    if (ms_tflite_import(data, size, "fuzz.tflite", &g, &err) == MS_OK) {
        ms_chokepoint *cps = NULL;
        int n = 0;
        if (ms_graph_chokepoints(g, &cps, &n, &err) == MS_OK) free(cps);
        ms_graph_free(g);
    }
    return 0;
}
