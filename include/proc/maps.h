/* /proc/PID/maps parsing. */
#ifndef GS_PROCMAPS_H
#define GS_PROCMAPS_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct gs_map {
	uint64_t start, end, offset;
	char perms[5];
	uint64_t inode;
	char path[PATH_MAX]; /* empty for anonymous mappings */
	/* path ends in " (deleted)": the file was unlinked or replaced
	 * since it was mapped; its bytes are still reachable through
	 * /proc/PID/map_files/START-END. */
	int deleted;
};

struct gs_maps {
	struct gs_map *v;
	size_t n;
};

/* Returns 0, or an exit code via gs_fail() (no such process, permission). */
int gs_maps_read(pid_t pid, struct gs_maps *out);
void gs_maps_free(struct gs_maps *m);
/* Parse maps text (for tests and fuzzing). */
int gs_maps_parse(const char *text, size_t len, struct gs_maps *out);

#endif
