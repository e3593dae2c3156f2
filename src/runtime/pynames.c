/* Python thread names from threading._active (runtime/pynames.h).
 *
 * Per interpreter the path is sys.modules -> "threading" -> its dict ->
 * "_active" -> each Thread -> "_name".  Where the module and _active
 * were found is remembered (dict entry indexes) and re-checked with one
 * entry read each time, so that only the first read scans sys.modules.
 * Attribute names are interned, so once "_name" has been found in one
 * Thread the others are matched by the key's address. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/errors.h"
#include "runtime/pynames.h"
#include "runtime/pyobj.h"

#define MAX_NAMED 8192
#define CACHED_INTERPS 8

struct interp_cache {
	uint64_t interp, modules;
	uint64_t mod_key, module;  /* sys.modules entry: key and value */
	size_t mod_index;
	uint64_t mdict;            /* the module's dict */
	uint64_t act_key, active;  /* its "_active" entry */
	size_t act_index;
};

struct gs_pynames_reader {
	const struct gs_target *t;
	struct gs_pyobj obj;
	struct interp_cache cache[CACHED_INTERPS];
	size_t next_slot;
	uint64_t hint_threading, hint_active, hint_name;
};

int gs_pynames_open(const struct gs_target *t, struct gs_pynames_reader **out)
{
	const char *miss = gs_layout_missing_objects(&t->layout);
	struct gs_pynames_reader *r;

	*out = NULL;
	if (miss)
		return gs_fail(GS_EUNSUPPORTED,
			       "cannot read Python thread names of Python %s: its "
			       "layout (from %s) has no %s", t->ver.str,
			       gs_layout_source_name(t->source), miss);
	if (!(r = calloc(1, sizeof *r)))
		return gs_fail(GS_EFAIL, "out of memory");
	r->t = t;
	gs_pyobj_init(&r->obj, &t->mem, &t->layout);
	*out = r;
	return 0;
}

void gs_pynames_close(struct gs_pynames_reader *r)
{
	free(r);
}

void gs_pynames_free(struct gs_pynames *n)
{
	free(n->v);
	n->v = NULL;
	n->n = n->cap = 0;
}

static struct interp_cache *cache_for(struct gs_pynames_reader *r, uint64_t interp)
{
	struct interp_cache *c;
	for (size_t i = 0; i < CACHED_INTERPS; i++)
		if (r->cache[i].interp == interp)
			return &r->cache[i];
	c = &r->cache[r->next_slot++ % CACHED_INTERPS];
	memset(c, 0, sizeof *c);
	c->interp = interp;
	return c;
}

/* The entry at index still holds (key, value). */
static int still(struct gs_pyobj *o, uint64_t dict, size_t index, uint64_t key,
		 uint64_t value)
{
	uint64_t k, v;
	return dict && gs_pydict_entry(o, dict, index, &k, &v) == 0 && k == key &&
	       v == value;
}

/* threading._active of one interpreter: 0, 1 (threading not imported),
 * -1. */
static int find_active(struct gs_pynames_reader *r, uint64_t interp,
		       uint64_t *active)
{
	struct gs_pyobj *o = &r->obj;
	struct interp_cache *c = cache_for(r, interp);
	uint64_t modules;
	int rc;

	if (gs_pyobj_read(o, interp + (uint64_t)r->t->layout.interp_modules.off,
			  &modules, 8) != 0)
		return -1;
	if (c->modules == modules && c->active &&
	    still(o, modules, c->mod_index, c->mod_key, c->module) &&
	    still(o, c->mdict, c->act_index, c->act_key, c->active)) {
		*active = c->active;
		return 0;
	}
	memset(c, 0, sizeof *c);
	c->interp = interp;
	c->modules = modules;
	rc = gs_pydict_get_str(o, modules, "threading", &r->hint_threading,
			       &c->module, &c->mod_index);
	if (rc != 0)
		return rc;
	c->mod_key = r->hint_threading;
	if ((rc = gs_pyobj_dict_of(o, c->module, &c->mdict)) != 0)
		return rc < 0 ? -1 : 1;
	rc = gs_pydict_get_str(o, c->mdict, "_active", &r->hint_active, &c->active,
			       &c->act_index);
	if (rc != 0) {
		c->active = 0;
		return rc;
	}
	c->act_key = r->hint_active;
	*active = c->active;
	return 0;
}

struct collect {
	struct gs_pynames_reader *r;
	struct gs_pynames *out;
	uint64_t interp;
	int oom;
};

static int add_one(void *ctx, uint64_t key, uint64_t thread)
{
	struct collect *c = ctx;
	struct gs_pyobj *o = &c->r->obj;
	struct gs_pyname *p;
	uint64_t name;
	int64_t ident;

	if (gs_pylong_read(o, key, &ident) != 0 ||
	    gs_pyobj_attr(o, thread, "_name", &c->r->hint_name, &name) != 0)
		return 0;
	if (c->out->n == c->out->cap) {
		size_t cap = c->out->cap ? 2 * c->out->cap : 16;
		void *v = realloc(c->out->v, cap * sizeof *c->out->v);
		if (!v) {
			c->oom = 1;
			return 1;
		}
		c->out->v = v;
		c->out->cap = cap;
	}
	p = &c->out->v[c->out->n];
	if (gs_pystr_read(o, name, p->name, sizeof p->name) < 0)
		return 0;
	p->interp = c->interp;
	p->ident = (uint64_t)ident;
	c->out->n++;
	return 0;
}

int gs_pynames_read(struct gs_pynames_reader *r, const struct gs_snapshot *snap,
		    struct gs_pynames *out)
{
	int any_read = snap->ninterps == 0;
	unsigned long reads0 = r->obj.reads;

	out->n = 0;
	for (size_t i = 0; i < snap->ninterps; i++) {
		struct collect c = { r, out, snap->interps[i].addr, 0 };
		uint64_t active;
		int rc = find_active(r, c.interp, &active);

		if (rc < 0)
			continue;
		any_read = 1;
		if (rc > 0)
			continue;
		if (gs_pydict_each(&r->obj, active, MAX_NAMED, add_one, &c) < 0) {
			/* _active changed under us (a thread came or went):
			 * look it up afresh next time. */
			cache_for(r, c.interp)->active = 0;
			continue;
		}
		if (c.oom) {
			errno = ENOMEM;
			return -1;
		}
	}
	out->reads = r->obj.reads - reads0;
	if (!any_read) {
		if (!errno)
			errno = EFAULT;
		return -1;
	}
	return 0;
}

const char *gs_pynames_find(const struct gs_pynames *n, uint64_t interp,
			    uint64_t ident)
{
	const char *any = NULL;
	for (size_t i = 0; i < n->n; i++) {
		if (n->v[i].ident != ident)
			continue;
		if (n->v[i].interp == interp)
			return n->v[i].name;
		if (!any)
			any = n->v[i].name;
	}
	return interp ? NULL : any;
}
