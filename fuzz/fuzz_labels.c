/* libFuzzer target: the labels reader, both kinds (frame,present and file,class) on
 * every input. */
#include <stdint.h>

#include "formats/labels.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ms_frame_labels f;
    ms_class_labels c;
    ms_error err;
    if (ms_frame_labels_parse("fuzz.csv", (const char *)data, size, &f, &err) == MS_OK) ms_frame_labels_free(&f);
    if (ms_class_labels_parse("fuzz.csv", (const char *)data, size, &c, &err) == MS_OK) {
        (void)ms_class_labels_find(&c, "x.jpg");
        ms_class_labels_free(&c);
    }
    return 0;
}
