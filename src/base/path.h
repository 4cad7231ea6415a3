/* Where the shared data lives, and paths that name it. MAINSTREAM_DATA (environment) is
 * the data folder (models/, videos/, reference/, ...); unset or empty, it is the folder
 * the build was configured with (CMake's MS_DATA_DIR, by default ../shared/data beside
 * the source tree, as an absolute path), so no command depends on the current folder.
 * A path in a deployment or scenario may start with $MAINSTREAM_DATA or
 * ${MAINSTREAM_DATA} (followed by '/' or nothing) to name a file in it. */
#ifndef MS_BASE_PATH_H
#define MS_BASE_PATH_H

#define MS_DATA_ENV "MAINSTREAM_DATA"

/* The data folder (never NULL; points into the environment or a constant). */
const char *ms_data_dir(void);

/* A malloc'd copy of p with a leading $MAINSTREAM_DATA or ${MAINSTREAM_DATA} replaced by
 * ms_data_dir(); other paths are copied as they are. NULL when out of memory. */
char *ms_path_expand(const char *p);

#endif
