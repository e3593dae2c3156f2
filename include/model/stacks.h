/* Interned stacks: each distinct stack is kept once and named by a small
 * number, so that intervals, stack samples and the files written from
 * them refer to a stack by id rather than repeating its frames.
 *
 * A frame is one string, "function (file:line)" (gs_pyframe_format) for
 * Python frames, "function+0xOFF (object)" or "function (file:line)"
 * for native ones; a stack lists its frames innermost first.  Frame
 * strings are interned too, so a frame shared by many stacks is stored
 * once.  Id 0 (GS_STACK_NONE) is "no stack"; ids are dense from 1 in
 * the order stacks were first seen, so a writer can emit the
 * definition of id N the first time it uses N (gs_stacks_intern's
 * is_new) and a reader that interns the frames it reads back in file
 * order gets the same ids.
 *
 * Memory is bounded: past GS_STACKS_MAX_BYTES (frames, strings and
 * tables together) a new stack is not kept and gs_stacks_intern returns
 * GS_STACK_NONE (gs_stacks_dropped counts them); the stacks already
 * kept stay valid. */
#ifndef GS_STACKS_H
#define GS_STACKS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sample/classify.h"

#define GS_STACK_NONE 0u
#ifndef GS_STACKS_MAX_BYTES
#define GS_STACKS_MAX_BYTES (8u << 20)
#endif
/* Frames kept per stack; deeper stacks lose their outermost frames. */
#define GS_STACK_MAX_DEPTH 256

struct gs_stacks;

/* One stack sample (record --stacks): thread tid was in role at t_ns
 * and ran stack (never GS_STACK_NONE: a thread running no Python code
 * yields no sample). */
struct gs_stack_sample {
	pid_t pid, tid;
	uint64_t t_ns;
	enum gs_role role;
	uint32_t stack;
};

struct gs_stacks *gs_stacks_new(void);
void gs_stacks_free(struct gs_stacks *s);

/* The id of the stack of n frames (innermost first), added when new
 * (*is_new set to 1 then, when is_new is not NULL).  n == 0 is
 * GS_STACK_NONE; so is a stack that does not fit the memory bound. */
uint32_t gs_stacks_intern(struct gs_stacks *s, const char *const *frames,
			  size_t n, int *is_new);
/* Stacks kept (the largest valid id). */
uint32_t gs_stacks_count(const struct gs_stacks *s);
/* Frames of stack id (0 for GS_STACK_NONE or an unknown id), and its
 * frame i, innermost first (NULL out of range).  The strings stay valid
 * until gs_stacks_free. */
size_t gs_stacks_depth(const struct gs_stacks *s, uint32_t id);
const char *gs_stacks_frame(const struct gs_stacks *s, uint32_t id, size_t i);
/* The interned frame ids of stack id (innermost first) into *ids, and
 * their count; a frame id names one frame string, from 1 to
 * gs_stacks_nframes (for writers that list frames once, as speedscope
 * files do). */
size_t gs_stacks_frame_ids(const struct gs_stacks *s, uint32_t id, const uint32_t **ids);
uint32_t gs_stacks_nframes(const struct gs_stacks *s);
const char *gs_stacks_frame_name(const struct gs_stacks *s, uint32_t frame_id);
/* Stacks not kept because of the memory bound. */
uint64_t gs_stacks_dropped(const struct gs_stacks *s);
/* Bytes in use. */
size_t gs_stacks_bytes(const struct gs_stacks *s);

/* Stack samples counted by (pid, tid, role, stack): what a folded file
 * or a flame graph shows.  Grows with the distinct keys only. */
struct gs_stack_count {
	pid_t pid, tid;
	enum gs_role role;
	uint32_t stack;
	uint64_t count;
};

struct gs_stack_counts {
	struct gs_stack_count *v;
	size_t n, cap;
	uint32_t *tab;           /* open addressing: index + 1, 0 empty */
	size_t tab_cap;
};

/* Add one sample; returns 0, or -1 when out of memory.  A zeroed
 * struct is an empty table. */
int gs_stack_counts_add(struct gs_stack_counts *c, const struct gs_stack_sample *s);
void gs_stack_counts_free(struct gs_stack_counts *c);

#endif
