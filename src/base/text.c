/* Text split into lines in place (see text.h). */
#include "base/text.h"

#include <assert.h>
#include <string.h>

char *ms_text_next_line(char **cursor)
{
    assert(cursor && *cursor);
    char *line = *cursor;
    if (!*line) return NULL;
    char *nl = strchr(line, '\n');
    if (nl) {
        *nl = '\0';
        *cursor = nl + 1;
    } else {
        *cursor = line + strlen(line);
    }
    size_t len = strlen(line);
    if (len && line[len - 1] == '\r') line[len - 1] = '\0';
    return line;
}
