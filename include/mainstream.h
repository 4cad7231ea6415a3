/* Mainstream: the public interface of libmainstream.
 *
 * One include gives a program everything the `mainstream` command is built from:
 *   base      ms_status / ms_error (every fallible call returns a status and fills an
 *             ms_error naming the file, field or stream and the problem)
 *   model     ms_model_load (TFLite files, chained), the IR (ms_graph), chokepoints
 *             and stand-alone segments between them
 *   backend   ms_backend_find("ref" | "cpu"), ms_plan_compile / ms_plan_run / ms_plan_free
 *   media     images and video decoded through FFmpeg into a model's input
 *   cost      the cost profile: the scheduler's units of a model, measured
 *             (ms_profile_measure), read and written (ms_profile_load, _save)
 *   sched     scenarios, the event model, ms_schedule_solve and the stem tree
 *
 * Installed, it is <mainstream/mainstream.h> (`pkg-config --cflags --libs mainstream`, or
 * CMake's find_package(mainstream) and the target mainstream::mainstream); in the source
 * tree, the include paths of the `mainstream` CMake target (include/ and src/). The room
 * headers below are the reference for each call. */
#ifndef MAINSTREAM_H
#define MAINSTREAM_H

#include "mainstream_version.h" /* MAINSTREAM_VERSION_MAJOR, _MINOR, _PATCH, _STRING (from CMake) */

#include "base/error.h"
#include "base/log.h"
#include "graph/graph.h"
#include "graph/cut.h"
#include "graph/fold.h"
#include "formats/model.h"
#include "backend/backend.h"
#include "media/image.h"
#include "media/video.h"
#include "cost/profile.h"
#include "sched/scenario.h"
#include "sched/schedule.h"

#endif
