/* Pictures of a schedule's stem tree, for people to look at: a text tree (schedule's
 * table) and a Graphviz digraph (`schedule --dot FILE`; `dot -Tsvg FILE` draws it).
 * Units are the scheduler's (docs/design.md, "Units"); costs are per second of video. */
#ifndef MS_SCHED_STEM_DRAW_H
#define MS_SCHED_STEM_DRAW_H

#include <stdio.h>

#include "sched/schedule.h"

void ms_stem_tree_print(FILE *out, const ms_scenario *s, const ms_schedule *sch, const ms_stem_tree *t);
void ms_stem_tree_write_dot(FILE *out, const ms_scenario *s, const ms_schedule *sch, const ms_stem_tree *t);

#endif
