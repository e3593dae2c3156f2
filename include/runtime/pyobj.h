/* Reading CPython objects out of the target's memory: str (to UTF-8),
 * bytes, int, dict lookups and instance attributes, for the stack reader
 * (runtime/pystack.h) and the thread-name reader (runtime/pynames.h).
 *
 * Every read is bounded and every value read is treated as untrusted: a
 * torn or garbage object gives an error (-1), never a crash or an
 * unbounded read.  Types are recognised by address, learned once per
 * target from their tp_name (only static, non-heap types count, so a
 * user class named "str" is not taken for str). */
#ifndef GS_PYOBJ_H
#define GS_PYOBJ_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "layout/layout.h"
#include "proc/mem.h"

enum gs_pytype {
	GS_PYT_UNKNOWN = 0, /* unreadable type */
	GS_PYT_OTHER,
	GS_PYT_CODE,
	GS_PYT_STR,
	GS_PYT_BYTES,
	GS_PYT_DICT,
	GS_PYT_INT,
	GS_PYT_MODULE,
	GS_PYT_NONE,
};

#define GS_PYOBJ_TYPES 32

struct gs_pyobj {
	const struct gs_mem *mem;
	const struct gs_layout *l;
	/* Learned type addresses; a full table stops learning (lookups of
	 * unlearned types then read tp_name each time). */
	struct {
		uint64_t addr;
		enum gs_pytype kind;
	} types[GS_PYOBJ_TYPES];
	size_t ntypes;
	unsigned long reads;  /* process_vm_readv calls (or fake reads) */
};

void gs_pyobj_init(struct gs_pyobj *o, const struct gs_mem *m,
		   const struct gs_layout *l);

/* A 1, 2, 4 or 8-byte field of bytes read from the target (any other
 * size reads 0), zero-extended. */
uint64_t gs_pyobj_load(const uint8_t *p, int64_t size);

/* Read exactly len bytes (counted in o->reads); 0 or -1 with errno. */
int gs_pyobj_read(struct gs_pyobj *o, uint64_t addr, void *buf, size_t len);
/* Read n ranges in as few calls as possible, in order, ranges close
 * together as one (gs_mem_gather()).  ok[i] says whether range i was
 * read whole.  Returns the number of ranges read whole. */
size_t gs_pyobj_readv(struct gs_pyobj *o, const struct iovec *local,
		      const struct iovec *remote, size_t n, unsigned char *ok);
/* The same, the ranges from any_order on read in any order but for the
 * last nlast, read after all the others, in order. */
size_t gs_pyobj_gather(struct gs_pyobj *o, const struct iovec *local,
		       const struct iovec *remote, size_t n, size_t any_order,
		       size_t nlast, unsigned char *ok);

/* The kind of the type object at type_addr, and of the object at obj. */
enum gs_pytype gs_pyobj_type(struct gs_pyobj *o, uint64_t type_addr);
enum gs_pytype gs_pyobj_type_of(struct gs_pyobj *o, uint64_t obj);

/* Decode a str object already read into obj[0..have) (its header and as
 * much of its inline data as was read) to UTF-8 in out (NUL-terminated,
 * at most n - 1 bytes; cut at a character boundary and ended with "..."
 * when longer).  Returns the bytes written, -1 when obj is no compact
 * str, or -2 when more than `have` bytes are needed: *need says how
 * many.  Lone surrogates and out-of-range code points become U+FFFD. */
ssize_t gs_pystr_decode(const struct gs_layout *l, const uint8_t *obj,
			size_t have, char *out, size_t n, size_t *need);
/* Read and decode the str at addr; same returns, -1 for any failure. */
ssize_t gs_pystr_read(struct gs_pyobj *o, uint64_t addr, char *out, size_t n);

/* The bytes of the bytes object at addr, at most cap; returns the size,
 * or -1 (unreadable, not bytes, or larger than cap). */
ssize_t gs_pybytes_read(struct gs_pyobj *o, uint64_t addr, uint8_t *buf,
			size_t cap);

/* An int that fits 64 bits; 0 or -1. */
int gs_pylong_read(struct gs_pyobj *o, uint64_t addr, int64_t *out);

/* dict[key] for a str key; 0 with *value, 1 when absent, -1 on a
 * failed or implausible read.  *index (may be NULL) gets the entry's
 * index, for gs_pydict_entry().  hint (may be NULL) carries the address
 * of the key object from one lookup to the next: keys are interned, so
 * a match by address reads no key at all. */
int gs_pydict_get_str(struct gs_pyobj *o, uint64_t dict, const char *key,
		      uint64_t *hint, uint64_t *value, size_t *index);
/* The key and value of entry index of a dict: 0, 1 (empty or out of
 * range), -1. */
int gs_pydict_entry(struct gs_pyobj *o, uint64_t dict, size_t index,
		    uint64_t *key, uint64_t *value);
/* Call fn for each (key, value) of a dict, at most max entries; stops
 * when fn returns nonzero.  Returns the number of entries seen or -1. */
ssize_t gs_pydict_each(struct gs_pyobj *o, uint64_t dict, size_t max,
		       int (*fn)(void *ctx, uint64_t key, uint64_t value),
		       void *ctx);

/* obj.__dict__[name] for an instance (or a module), wherever the
 * version keeps it (tp_dictoffset, managed dict, 3.12's tagged values,
 * 3.13's inline values): 0, 1 absent, -1.  hint as for
 * gs_pydict_get_str(). */
int gs_pyobj_attr(struct gs_pyobj *o, uint64_t obj, const char *name,
		  uint64_t *hint, uint64_t *value);
/* The dict object holding obj's attributes, when there is one (not for
 * values kept without a dict): 0, 1 none, -1. */
int gs_pyobj_dict_of(struct gs_pyobj *o, uint64_t obj, uint64_t *dict);

#endif
