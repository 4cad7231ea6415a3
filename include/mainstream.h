/* Mainstream: the public interface of libmainstream.
 *
 * One include gives a program everything the `mainstream` command is built from:
 *   base      ms_status / ms_error (every fallible call returns a status and fills an
 *             ms_error naming the file, field or stream and the problem)
 *   model     ms_model_load (TFLite files, chained), the IR (ms_graph), chokepoints
 *             and stand-alone segments between them
 *   backend   ms_backend_find("ref" | "cpu"), ms_plan_compile / ms_plan_run / ms_plan_free
 *   media     images and video decoded through FFmpeg into a model's input
 *   sched     scenarios, the event model, ms_schedule_solve and the stem tree
 *
 * Build against it with the include paths of the `mainstream` CMake target (include/
 * and src/): the room headers below are the reference for each call. */
#ifndef MAINSTREAM_H
#define MAINSTREAM_H

#define MAINSTREAM_VERSION_MAJOR 0
#define MAINSTREAM_VERSION_MINOR 1

#include "base/error.h"
#include "base/log.h"
#include "graph/graph.h"
#include "graph/cut.h"
#include "graph/fold.h"
#include "formats/model.h"
#include "backend/backend.h"
#include "media/image.h"
#include "media/video.h"
#include "sched/scenario.h"
#include "sched/schedule.h"

#endif
