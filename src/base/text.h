/* Text split into lines in place: one definition of a line (LF or CRLF ended, the last
 * one possibly unterminated) for every reader of line-based files (labels CSV, events
 * JSONL, class-name lists). */
#ifndef MS_BASE_TEXT_H
#define MS_BASE_TEXT_H

/* Cuts the next line out of *cursor, NUL-terminating it and dropping a trailing '\r';
 * NULL at the end of the text (the NUL at *cursor). */
char *ms_text_next_line(char **cursor);

#endif
