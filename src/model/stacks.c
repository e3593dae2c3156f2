/* Interned stacks: two open-addressed tables (frame strings, stacks of
 * frame ids), strings in fixed chunks so that the pointers handed out
 * never move. */
#include <stdlib.h>
#include <string.h>

#include "model/stacks.h"

#define CHUNK (64u * 1024)

struct chunk {
	struct chunk *next;
	size_t used, cap;
	char data[];
};

struct stack {
	uint32_t off;            /* into pool */
	uint32_t n;
	uint64_t hash;
};

struct gs_stacks {
	struct chunk *chunks;
	const char **frames;     /* frame id - 1 -> string */
	uint64_t *frame_hash;
	uint32_t nframes, frames_cap;
	uint32_t *frame_tab;     /* open addressing: frame ids, 0 empty */
	size_t frame_tab_cap;
	uint32_t *pool;          /* frame ids of every stack */
	size_t pool_n, pool_cap;
	struct stack *stacks;    /* stack id - 1 */
	uint32_t nstacks, stacks_cap;
	uint32_t *stack_tab;
	size_t stack_tab_cap;
	size_t bytes;
	uint64_t dropped;
};

static uint64_t hash_bytes(const void *p, size_t n, uint64_t h)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 1099511628211ull;
	return h;
}

struct gs_stacks *gs_stacks_new(void)
{
	struct gs_stacks *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	s->frame_tab_cap = s->stack_tab_cap = 256;
	s->frame_tab = calloc(s->frame_tab_cap, sizeof *s->frame_tab);
	s->stack_tab = calloc(s->stack_tab_cap, sizeof *s->stack_tab);
	if (!s->frame_tab || !s->stack_tab) {
		gs_stacks_free(s);
		return NULL;
	}
	s->bytes = sizeof *s + 2 * 256 * sizeof(uint32_t);
	return s;
}

void gs_stacks_free(struct gs_stacks *s)
{
	if (!s)
		return;
	for (struct chunk *c = s->chunks, *n; c; c = n) {
		n = c->next;
		free(c);
	}
	free(s->frames);
	free(s->frame_hash);
	free(s->frame_tab);
	free(s->pool);
	free(s->stacks);
	free(s->stack_tab);
	free(s);
}

static int grow(void **v, uint32_t *cap, size_t elem, size_t *bytes)
{
	uint32_t ncap = *cap ? *cap * 2 : 64;
	void *nv = realloc(*v, (size_t)ncap * elem);
	if (!nv)
		return -1;
	*bytes += (size_t)(ncap - *cap) * elem;
	*v = nv;
	*cap = ncap;
	return 0;
}

/* Rehash a table of ids whose hashes hash_of() gives, to twice its size. */
static int rehash(uint32_t **tab, size_t *cap, size_t *bytes,
		  uint64_t (*hash_of)(const struct gs_stacks *, uint32_t),
		  const struct gs_stacks *s)
{
	size_t ncap = *cap * 2;
	uint32_t *nt = calloc(ncap, sizeof *nt);
	if (!nt)
		return -1;
	for (size_t i = 0; i < *cap; i++) {
		uint32_t id = (*tab)[i];
		if (!id)
			continue;
		size_t j = hash_of(s, id) & (ncap - 1);
		while (nt[j])
			j = (j + 1) & (ncap - 1);
		nt[j] = id;
	}
	free(*tab);
	*bytes += (ncap - *cap) * sizeof *nt;
	*tab = nt;
	*cap = ncap;
	return 0;
}

static uint64_t frame_hash_of(const struct gs_stacks *s, uint32_t id)
{
	return s->frame_hash[id - 1];
}

static uint64_t stack_hash_of(const struct gs_stacks *s, uint32_t id)
{
	return s->stacks[id - 1].hash;
}

static const char *store(struct gs_stacks *s, const char *str, size_t len)
{
	struct chunk *c = s->chunks;
	if (!c || c->cap - c->used < len + 1) {
		size_t cap = len + 1 > CHUNK ? len + 1 : CHUNK;
		if (!(c = malloc(sizeof *c + cap)))
			return NULL;
		c->next = s->chunks;
		c->used = 0;
		c->cap = cap;
		s->chunks = c;
		s->bytes += sizeof *c + cap;
	}
	char *p = c->data + c->used;
	memcpy(p, str, len);
	p[len] = 0;
	c->used += len + 1;
	return p;
}

/* The id of frame string f, added when new; 0 when memory is short. */
static uint32_t frame_id(struct gs_stacks *s, const char *f)
{
	size_t len = strlen(f);
	uint64_t h = hash_bytes(f, len, 14695981039346656037ull);
	size_t mask = s->frame_tab_cap - 1, i = h & mask;
	for (; s->frame_tab[i]; i = (i + 1) & mask) {
		uint32_t id = s->frame_tab[i];
		if (s->frame_hash[id - 1] == h && !strcmp(s->frames[id - 1], f))
			return id;
	}
	if (s->bytes + len + CHUNK > GS_STACKS_MAX_BYTES)
		return 0;
	if (s->nframes == s->frames_cap) {
		uint32_t cap = s->frames_cap, cap2 = cap;
		if (grow((void **)&s->frames, &cap, sizeof *s->frames, &s->bytes) ||
		    grow((void **)&s->frame_hash, &cap2, sizeof *s->frame_hash, &s->bytes))
			return 0;
		s->frames_cap = cap < cap2 ? cap : cap2;
	}
	const char *p = store(s, f, len);
	if (!p)
		return 0;
	s->frames[s->nframes] = p;
	s->frame_hash[s->nframes] = h;
	uint32_t id = ++s->nframes;
	s->frame_tab[i] = id;
	if ((size_t)s->nframes * 2 > s->frame_tab_cap)
		rehash(&s->frame_tab, &s->frame_tab_cap, &s->bytes, frame_hash_of, s);
	return id;
}

uint32_t gs_stacks_intern(struct gs_stacks *s, const char *const *frames,
			  size_t n, int *is_new)
{
	uint32_t ids[GS_STACK_MAX_DEPTH];
	if (is_new)
		*is_new = 0;
	if (!s || !n)
		return GS_STACK_NONE;
	if (n > GS_STACK_MAX_DEPTH)
		n = GS_STACK_MAX_DEPTH;
	for (size_t k = 0; k < n; k++)
		if (!(ids[k] = frame_id(s, frames[k] ? frames[k] : "?"))) {
			s->dropped++;
			return GS_STACK_NONE;
		}
	uint64_t h = hash_bytes(ids, n * sizeof *ids, 14695981039346656037ull ^ n);
	size_t mask = s->stack_tab_cap - 1, i = h & mask;
	for (; s->stack_tab[i]; i = (i + 1) & mask) {
		const struct stack *st = &s->stacks[s->stack_tab[i] - 1];
		if (st->hash == h && st->n == n &&
		    !memcmp(s->pool + st->off, ids, n * sizeof *ids))
			return s->stack_tab[i];
	}
	if (s->bytes + n * sizeof *ids + sizeof(struct stack) > GS_STACKS_MAX_BYTES ||
	    s->pool_n + n > UINT32_MAX) {
		s->dropped++;
		return GS_STACK_NONE;
	}
	if (s->nstacks == s->stacks_cap &&
	    grow((void **)&s->stacks, &s->stacks_cap, sizeof *s->stacks, &s->bytes))
		return s->dropped++, GS_STACK_NONE;
	while (s->pool_n + n > s->pool_cap) {
		uint32_t cap = (uint32_t)s->pool_cap;
		if (grow((void **)&s->pool, &cap, sizeof *s->pool, &s->bytes))
			return s->dropped++, GS_STACK_NONE;
		s->pool_cap = cap;
	}
	memcpy(s->pool + s->pool_n, ids, n * sizeof *ids);
	s->stacks[s->nstacks] = (struct stack){ (uint32_t)s->pool_n, (uint32_t)n, h };
	s->pool_n += n;
	uint32_t id = ++s->nstacks;
	s->stack_tab[i] = id;
	if ((size_t)s->nstacks * 2 > s->stack_tab_cap)
		rehash(&s->stack_tab, &s->stack_tab_cap, &s->bytes, stack_hash_of, s);
	if (is_new)
		*is_new = 1;
	return id;
}

uint32_t gs_stacks_count(const struct gs_stacks *s)
{
	return s ? s->nstacks : 0;
}

size_t gs_stacks_depth(const struct gs_stacks *s, uint32_t id)
{
	return s && id && id <= s->nstacks ? s->stacks[id - 1].n : 0;
}

const char *gs_stacks_frame(const struct gs_stacks *s, uint32_t id, size_t i)
{
	if (i >= gs_stacks_depth(s, id))
		return NULL;
	return s->frames[s->pool[s->stacks[id - 1].off + i] - 1];
}

size_t gs_stacks_frame_ids(const struct gs_stacks *s, uint32_t id, const uint32_t **ids)
{
	size_t n = gs_stacks_depth(s, id);
	*ids = n ? s->pool + s->stacks[id - 1].off : NULL;
	return n;
}

uint32_t gs_stacks_nframes(const struct gs_stacks *s)
{
	return s ? s->nframes : 0;
}

const char *gs_stacks_frame_name(const struct gs_stacks *s, uint32_t frame_id)
{
	return s && frame_id && frame_id <= s->nframes ? s->frames[frame_id - 1] : NULL;
}

uint64_t gs_stacks_dropped(const struct gs_stacks *s)
{
	return s ? s->dropped : 0;
}

size_t gs_stacks_bytes(const struct gs_stacks *s)
{
	return s ? s->bytes : 0;
}

static size_t count_hash(pid_t pid, pid_t tid, enum gs_role role, uint32_t stack)
{
	uint64_t k[3] = { ((uint64_t)(uint32_t)pid << 32) | (uint32_t)tid,
			  (uint64_t)role, stack };
	return (size_t)hash_bytes(k, sizeof k, 14695981039346656037ull);
}

static int counts_rehash(struct gs_stack_counts *c)
{
	size_t ncap = c->tab_cap ? c->tab_cap * 2 : 256;
	uint32_t *nt = calloc(ncap, sizeof *nt);
	if (!nt)
		return -1;
	for (size_t i = 0; i < c->n; i++) {
		const struct gs_stack_count *e = &c->v[i];
		size_t j = count_hash(e->pid, e->tid, e->role, e->stack) & (ncap - 1);
		while (nt[j])
			j = (j + 1) & (ncap - 1);
		nt[j] = (uint32_t)i + 1;
	}
	free(c->tab);
	c->tab = nt;
	c->tab_cap = ncap;
	return 0;
}

int gs_stack_counts_add(struct gs_stack_counts *c, const struct gs_stack_sample *s)
{
	if ((c->n + 1) * 2 > c->tab_cap && counts_rehash(c))
		return -1;
	size_t mask = c->tab_cap - 1;
	size_t i = count_hash(s->pid, s->tid, s->role, s->stack) & mask;
	for (; c->tab[i]; i = (i + 1) & mask) {
		struct gs_stack_count *e = &c->v[c->tab[i] - 1];
		if (e->pid == s->pid && e->tid == s->tid && e->role == s->role &&
		    e->stack == s->stack) {
			e->count++;
			return 0;
		}
	}
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 64;
		struct gs_stack_count *v = realloc(c->v, cap * sizeof *v);
		if (!v)
			return -1;
		c->v = v;
		c->cap = cap;
	}
	c->v[c->n] = (struct gs_stack_count){ s->pid, s->tid, s->role, s->stack, 1 };
	c->tab[i] = (uint32_t)++c->n;
	return 0;
}

void gs_stack_counts_free(struct gs_stack_counts *c)
{
	free(c->v);
	free(c->tab);
	memset(c, 0, sizeof *c);
}
