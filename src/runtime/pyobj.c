/* CPython objects read from outside: see runtime/pyobj.h.
 *
 * Every offset comes from the layout; the encodings that differ between
 * versions (PyLong's sign, dict key kinds, the instance-dict schemes)
 * are chosen by layout values, never by a version number. */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>
#include <sys/uio.h>

#include "runtime/pyobj.h"

/* Bounds on what a reader will believe of target memory. */
#define MAX_STR_CHARS (1u << 20)
#define MAX_BYTES_READ (1u << 20)
#define MAX_DICT_ENTRIES (1u << 16)
#define ENTRY_CHUNK 128

void gs_pyobj_init(struct gs_pyobj *o, const struct gs_mem *m,
		   const struct gs_layout *l)
{
	memset(o, 0, sizeof *o);
	o->mem = m;
	o->l = l;
}

int gs_pyobj_read(struct gs_pyobj *o, uint64_t addr, void *buf, size_t len)
{
	o->reads++;
	if (addr == 0) {
		errno = EFAULT;
		return -1;
	}
	return gs_mem_read(o->mem, addr, buf, len);
}

size_t gs_pyobj_readv(struct gs_pyobj *o, const struct iovec *local,
		      const struct iovec *remote, size_t n, unsigned char *ok)
{
	return gs_mem_gather(o->mem, local, remote, n, n, 0, ok, &o->reads);
}

size_t gs_pyobj_gather(struct gs_pyobj *o, const struct iovec *local,
		       const struct iovec *remote, size_t n, size_t any_order,
		       size_t nlast, unsigned char *ok)
{
	return gs_mem_gather(o->mem, local, remote, n, any_order, nlast, ok, &o->reads);
}

uint64_t gs_pyobj_load(const uint8_t *p, int64_t size)
{
	uint8_t b1;
	uint16_t b2;
	uint32_t b4;
	uint64_t b8;

	switch (size) {
	case 1: memcpy(&b1, p, 1); return b1;
	case 2: memcpy(&b2, p, 2); return b2;
	case 4: memcpy(&b4, p, 4); return b4;
	case 8: memcpy(&b8, p, 8); return b8;
	}
	return 0;
}

static uint64_t field(const uint8_t *base, struct gs_field f)
{
	return gs_pyobj_load(base + f.off, f.size);
}

/* ---- types ------------------------------------------------------------ */

/* Py_TPFLAGS_HEAPTYPE (1 << 9), unchanged since 2.2: the built-in types
 * the readers trust are static. */
#define TPFLAGS_HEAPTYPE (1ull << 9)

static enum gs_pytype kind_of_name(const char *n)
{
	static const struct {
		const char *name;
		enum gs_pytype kind;
	} names[] = {
		{ "code", GS_PYT_CODE }, { "str", GS_PYT_STR },
		{ "bytes", GS_PYT_BYTES }, { "dict", GS_PYT_DICT },
		{ "int", GS_PYT_INT }, { "module", GS_PYT_MODULE },
		{ "NoneType", GS_PYT_NONE },
	};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strcmp(n, names[i].name) == 0)
			return names[i].kind;
	return GS_PYT_OTHER;
}

enum gs_pytype gs_pyobj_type(struct gs_pyobj *o, uint64_t type_addr)
{
	const struct gs_layout *l = o->l;
	uint8_t tb[16];
	char name[16];
	uint64_t name_ptr, flags;
	enum gs_pytype kind;

	if (type_addr == 0 || type_addr % 8)
		return GS_PYT_UNKNOWN;
	for (size_t i = 0; i < o->ntypes; i++)
		if (o->types[i].addr == type_addr)
			return o->types[i].kind;
	if (gs_pyobj_read(o, type_addr + (uint64_t)l->type_name.off, tb, 8) != 0 ||
	    gs_pyobj_read(o, type_addr + (uint64_t)l->type_flags.off, tb + 8,
			  (size_t)l->type_flags.size) != 0)
		return GS_PYT_UNKNOWN;
	name_ptr = gs_pyobj_load(tb, 8);
	flags = gs_pyobj_load(tb + 8, l->type_flags.size);
	memset(name, 0, sizeof name);
	/* tp_name may sit near the end of a mapping: shrink and retry. */
	size_t want = sizeof name - 1;
	while (want && gs_pyobj_read(o, name_ptr, name, want) != 0)
		want /= 2;
	if (!want)
		return GS_PYT_UNKNOWN;
	name[want] = 0;
	kind = flags & TPFLAGS_HEAPTYPE ? GS_PYT_OTHER : kind_of_name(name);
	if (o->ntypes < GS_PYOBJ_TYPES) {
		o->types[o->ntypes].addr = type_addr;
		o->types[o->ntypes].kind = kind;
		o->ntypes++;
	}
	return kind;
}

enum gs_pytype gs_pyobj_type_of(struct gs_pyobj *o, uint64_t obj)
{
	uint64_t t;
	if (obj == 0 || obj % 8 ||
	    gs_pyobj_read(o, obj + (uint64_t)o->l->ob_type.off, &t, 8) != 0)
		return GS_PYT_UNKNOWN;
	return gs_pyobj_type(o, t);
}

/* ---- str ---------------------------------------------------------------- */

static unsigned ctz64(uint64_t v)
{
	return v ? (unsigned)__builtin_ctzll(v) : 0;
}

static size_t put_utf8(uint32_t c, char *p)
{
	if ((c >= 0xd800 && c <= 0xdfff) || c > 0x10ffff)
		c = 0xfffd;
	if (c < 0x80) {
		p[0] = (char)c;
		return 1;
	}
	if (c < 0x800) {
		p[0] = (char)(0xc0 | c >> 6);
		p[1] = (char)(0x80 | (c & 63));
		return 2;
	}
	if (c < 0x10000) {
		p[0] = (char)(0xe0 | c >> 12);
		p[1] = (char)(0x80 | ((c >> 6) & 63));
		p[2] = (char)(0x80 | (c & 63));
		return 3;
	}
	p[0] = (char)(0xf0 | c >> 18);
	p[1] = (char)(0x80 | ((c >> 12) & 63));
	p[2] = (char)(0x80 | ((c >> 6) & 63));
	p[3] = (char)(0x80 | (c & 63));
	return 4;
}

ssize_t gs_pystr_decode(const struct gs_layout *l, const uint8_t *obj,
			size_t have, char *out, size_t n, size_t *need)
{
	uint64_t state, len, kind, chars, data_off;
	size_t pos = 0, want;
	int cut;

	if (n == 0)
		return -1;
	out[0] = 0;
	if ((size_t)l->uni_state.off + 4 > have ||
	    (size_t)l->uni_length.off + 8 > have)
		return -1;
	state = field(obj, l->uni_state);
	len = field(obj, l->uni_length);
	kind = (state & l->uni_kind_mask) >> ctz64(l->uni_kind_mask);
	if (!(state & l->uni_compact_mask) || (kind != 1 && kind != 2 && kind != 4) ||
	    ((state & l->uni_ascii_mask) && kind != 1) || len > MAX_STR_CHARS)
		return -1;
	data_off = (uint64_t)((state & l->uni_ascii_mask) ? l->uni_ascii_size
							   : l->uni_compact_size);
	/* Each character takes at least one output byte: no more than n
	 * of them can be needed. */
	chars = len < n ? len : n;
	want = (size_t)(data_off + chars * kind);
	if (want > have) {
		if (need)
			*need = want;
		return -2;
	}
	cut = chars < len;
	for (uint64_t i = 0; i < chars; i++) {
		const uint8_t *p = obj + data_off + i * kind;
		uint32_t c = kind == 1 ? p[0] : (uint32_t)gs_pyobj_load(p, (int64_t)kind);
		char tmp[4];
		size_t k = put_utf8(c, tmp);
		if (pos + k > n - 1) {
			cut = 1;
			break;
		}
		memcpy(out + pos, tmp, k);
		pos += k;
	}
	if (cut && n >= 4) {
		/* Room for "...", backing up to a character boundary. */
		if (pos > n - 4)
			pos = n - 4;
		while (pos > 0 && ((unsigned char)out[pos] & 0xc0) == 0x80)
			pos--;
		memcpy(out + pos, "...", 3);
		pos += 3;
	}
	out[pos] = 0;
	return (ssize_t)pos;
}

ssize_t gs_pystr_read(struct gs_pyobj *o, uint64_t addr, char *out, size_t n)
{
	const struct gs_layout *l = o->l;
	uint8_t buf[4096 + 128];
	size_t have, need = 0;
	ssize_t r;

	if (n == 0)
		return -1;
	out[0] = 0;
	if (addr == 0 || addr % 8 || l->uni_compact_size <= 0 ||
	    l->uni_compact_size > 128)
		return -1;
	/* The header and a short name in one read; a longer string, or
	 * one that ends near the end of a mapping, in a second. */
	have = (size_t)l->uni_compact_size + 64;
	if (gs_pyobj_read(o, addr, buf, have) != 0) {
		have = (size_t)l->uni_compact_size;
		if (gs_pyobj_read(o, addr, buf, have) != 0)
			return -1;
	}
	r = gs_pystr_decode(l, buf, have, out, n, &need);
	if (r != -2)
		return r;
	if (need > sizeof buf) {
		/* Keep the read bounded: decode what fits. */
		n = n < (sizeof buf - 128) / 4 ? n : (sizeof buf - 128) / 4;
		need = sizeof buf;
	}
	if (gs_pyobj_read(o, addr, buf, need) != 0)
		return -1;
	r = gs_pystr_decode(l, buf, need, out, n, NULL);
	return r < 0 ? -1 : r;
}

/* ---- bytes and int ------------------------------------------------------ */

ssize_t gs_pybytes_read(struct gs_pyobj *o, uint64_t addr, uint8_t *buf,
			size_t cap)
{
	const struct gs_layout *l = o->l;
	uint64_t size;

	if (addr == 0 || addr % 8 ||
	    gs_pyobj_read(o, addr + (uint64_t)l->ob_size.off, &size, 8) != 0)
		return -1;
	if (size > cap || size > MAX_BYTES_READ) {
		errno = E2BIG;
		return -1;
	}
	if (size && gs_pyobj_read(o, addr + (uint64_t)l->bytes_sval.off, buf,
				  (size_t)size) != 0)
		return -1;
	return (ssize_t)size;
}

int gs_pylong_read(struct gs_pyobj *o, uint64_t addr, int64_t *out)
{
	const struct gs_layout *l = o->l;
	int64_t dsize = l->long_digit.size;
	unsigned bits = dsize == 4 ? 30 : dsize == 2 ? 15 : 0;
	uint8_t buf[8 + 8 * 4];
	uint64_t tag, ndigits, v = 0;
	int negative;

	if (!bits || addr == 0 || addr % 8 || l->long_digit.off < l->long_size.off + 8)
		return -1;
	size_t span = (size_t)(l->long_digit.off - l->long_size.off) +
		      (size_t)(5 * dsize);
	if (span > sizeof buf ||
	    gs_pyobj_read(o, addr + (uint64_t)l->long_size.off, buf, span) != 0)
		return -1;
	tag = gs_pyobj_load(buf, 8);
	if (l->long_tagged == 1) {
		/* lv_tag: digit count << 3, sign in the low bits (0 positive,
		 * 1 zero, 2 negative). */
		ndigits = tag >> 3;
		negative = (tag & 3) == 2;
	} else {
		int64_t s = (int64_t)tag;
		negative = s < 0;
		ndigits = (uint64_t)(negative ? -s : s);
	}
	if (ndigits * bits > 64 + bits - 1 || ndigits > 5)
		return -1;
	for (uint64_t i = ndigits; i-- > 0;) {
		uint64_t d = gs_pyobj_load(buf + (l->long_digit.off - l->long_size.off) +
				  (int64_t)i * dsize, dsize);
		if (d >> bits || (v >> (64 - bits)))
			return -1;
		v = v << bits | d;
	}
	if (v > (uint64_t)INT64_MAX)
		return -1;
	*out = negative ? -(int64_t)v : (int64_t)v;
	return 0;
}

/* ---- dicts ---------------------------------------------------------------- */

/* Where a dict's (or a shared-keys table's) entries are. */
struct dictview {
	uint64_t entries;     /* address of entry 0 */
	uint64_t values;      /* split table: address of values[0]; else 0 */
	size_t n;             /* dk_nentries */
	int64_t esize;        /* entry size */
	struct gs_field key, value;
};

static int keys_view(struct gs_pyobj *o, uint64_t keys, uint64_t values,
		     struct dictview *v)
{
	const struct gs_layout *l = o->l;
	uint8_t kb[64];
	uint64_t size, ixbytes, nent;
	int unicode = 0;

	if (keys == 0 || keys % 8 || l->dk_indices.off > (int64_t)sizeof kb ||
	    gs_pyobj_read(o, keys, kb, (size_t)l->dk_indices.off) != 0)
		return -1;
	nent = field(kb, l->dk_nentries);
	if (l->dk_size.off != GS_NOFF) {
		/* 3.6-3.10: one index is 1, 2, 4 or 8 bytes by the table's
		 * size (DK_IXSIZE). */
		size = field(kb, l->dk_size);
		if (size > (1ull << 30))
			return -1;
		ixbytes = size * (size <= 0xff ? 1 : size <= 0xffff ? 2 :
				  size <= 0xffffffffull ? 4 : 8);
	} else {
		/* 3.11+: both sizes as logarithms, the index array's in
		 * bytes; any kind but DICT_KEYS_GENERAL (0) keeps
		 * PyDictUnicodeEntry. */
		uint64_t lg = field(kb, l->dk_log2_size);
		uint64_t lgi = field(kb, l->dk_log2_index_bytes);
		if (lg > 30 || lgi > 33)
			return -1;
		size = 1ull << lg;
		ixbytes = 1ull << lgi;
		unicode = field(kb, l->dk_kind) != 0;
	}
	v->entries = keys + (uint64_t)l->dk_indices.off + ixbytes;
	if (nent > size || nent > MAX_DICT_ENTRIES)
		return -1;
	v->n = (size_t)nent;
	if (unicode) {
		v->esize = l->dku_size;
		v->key = l->dku_key;
		v->value = l->dku_value;
	} else {
		v->esize = l->dke_size;
		v->key = l->dke_key;
		v->value = l->dke_value;
	}
	v->values = values;
	return v->esize > 0 && v->esize <= 64 ? 0 : -1;
}

static uint64_t values_array(const struct gs_layout *l, uint64_t values)
{
	int64_t off = l->dictvalues_values.off == GS_NOFF ? 0 : l->dictvalues_values.off;
	return values ? values + (uint64_t)off : 0;
}

static int dict_view(struct gs_pyobj *o, uint64_t dict, struct dictview *v)
{
	const struct gs_layout *l = o->l;
	int64_t lo = l->dict_keys.off < l->dict_values.off ? l->dict_keys.off
							   : l->dict_values.off;
	int64_t hi = (l->dict_keys.off > l->dict_values.off ? l->dict_keys.off
							    : l->dict_values.off) + 8;
	uint8_t b[64];

	if (hi - lo > (int64_t)sizeof b || gs_pyobj_type_of(o, dict) != GS_PYT_DICT ||
	    gs_pyobj_read(o, dict + (uint64_t)lo, b, (size_t)(hi - lo)) != 0)
		return -1;
	return keys_view(o, gs_pyobj_load(b + (l->dict_keys.off - lo), 8),
			 values_array(l, gs_pyobj_load(b + (l->dict_values.off - lo), 8)), v);
}

/* Entries [first, first + count) of v: keys and values. */
static int view_chunk(struct gs_pyobj *o, const struct dictview *v, size_t first,
		      size_t count, uint64_t *keys, uint64_t *vals)
{
	uint8_t eb[ENTRY_CHUNK * 64];

	if (count > ENTRY_CHUNK ||
	    gs_pyobj_read(o, v->entries + first * (uint64_t)v->esize, eb,
			  count * (size_t)v->esize) != 0)
		return -1;
	for (size_t i = 0; i < count; i++) {
		const uint8_t *e = eb + i * (size_t)v->esize;
		keys[i] = field(e, v->key);
		vals[i] = field(e, v->value);
	}
	if (v->values &&
	    gs_pyobj_read(o, v->values + first * 8, vals, count * 8) != 0)
		return -1;
	return 0;
}

static ssize_t view_each(struct gs_pyobj *o, const struct dictview *v, size_t max,
			 int (*fn)(void *, uint64_t, uint64_t), void *ctx)
{
	uint64_t keys[ENTRY_CHUNK], vals[ENTRY_CHUNK];
	size_t seen = 0;

	for (size_t i = 0; i < v->n && seen < max; i += ENTRY_CHUNK) {
		size_t c = v->n - i < ENTRY_CHUNK ? v->n - i : ENTRY_CHUNK;
		if (view_chunk(o, v, i, c, keys, vals) != 0)
			return -1;
		for (size_t k = 0; k < c && seen < max; k++) {
			/* Deleted entries keep no key (3.11+) or a dummy key
			 * with no value (3.6-3.10). */
			if (!keys[k] || !vals[k])
				continue;
			seen++;
			if (fn(ctx, keys[k], vals[k]))
				return (ssize_t)seen;
		}
	}
	return (ssize_t)seen;
}

ssize_t gs_pydict_each(struct gs_pyobj *o, uint64_t dict, size_t max,
		       int (*fn)(void *ctx, uint64_t key, uint64_t value),
		       void *ctx)
{
	struct dictview v;
	if (dict_view(o, dict, &v) != 0)
		return -1;
	return view_each(o, &v, max, fn, ctx);
}

/* Whether the key object read into buf (its header and len data bytes)
 * is the str `name`.  An ASCII name can only equal an ASCII str, whose
 * data follows the ASCII header: nothing more needs reading. */
static int key_is(struct gs_pyobj *o, const uint8_t *buf, size_t have,
		  const char *name, size_t len)
{
	char dec[128];

	if (len + 4 > sizeof dec ||
	    gs_pyobj_type(o, field(buf, o->l->ob_type)) != GS_PYT_STR ||
	    gs_pystr_decode(o->l, buf, have, dec, sizeof dec, NULL) != (ssize_t)len)
		return 0;
	return memcmp(dec, name, len) == 0;
}

#define KEY_MAX 192 /* bytes of one key read for a comparison */

/* The entry whose key is the str `name`.  With a hint (the address of
 * the key object found last time: attribute names are interned, so
 * every dict holds the same object), a first pass compares pointers
 * only, reading no key; the string comparison runs only when that fails,
 * and updates the hint.  The keys of a chunk of entries are read in one
 * batch. */
static int view_find(struct gs_pyobj *o, const struct dictview *v,
		     const char *name, uint64_t *hint, uint64_t *value,
		     size_t *index)
{
	uint8_t kb[ENTRY_CHUNK][KEY_MAX];
	uint64_t keys[ENTRY_CHUNK], vals[ENTRY_CHUNK];
	struct iovec liov[ENTRY_CHUNK], riov[ENTRY_CHUNK];
	unsigned char ok[ENTRY_CHUNK];
	size_t len = strlen(name), have = (size_t)o->l->uni_ascii_size + len;

	if (have > KEY_MAX)
		return 1;
	for (int pass = hint && *hint ? 0 : 1; pass < 2; pass++) {
		for (size_t i = 0; i < v->n; i += ENTRY_CHUNK) {
			size_t c = v->n - i < ENTRY_CHUNK ? v->n - i : ENTRY_CHUNK, nk = 0;
			size_t slot[ENTRY_CHUNK];
			if (view_chunk(o, v, i, c, keys, vals) != 0)
				return -1;
			if (pass == 1) {
				for (size_t k = 0; k < c; k++) {
					slot[k] = SIZE_MAX;
					if (!keys[k] || !vals[k] || keys[k] % 8)
						continue;
					liov[nk].iov_base = kb[nk];
					liov[nk].iov_len = have;
					riov[nk].iov_base = (void *)(uintptr_t)keys[k];
					riov[nk].iov_len = have;
					slot[k] = nk++;
				}
				gs_pyobj_readv(o, liov, riov, nk, ok);
			}
			for (size_t k = 0; k < c; k++) {
				if (!keys[k] || !vals[k])
					continue;
				if (pass == 0 ? keys[k] != *hint
					      : slot[k] == SIZE_MAX || !ok[slot[k]] ||
						!key_is(o, kb[slot[k]], have, name, len))
					continue;
				*value = vals[k];
				if (index)
					*index = i + k;
				if (hint)
					*hint = keys[k];
				return 0;
			}
		}
	}
	return 1;
}

int gs_pydict_get_str(struct gs_pyobj *o, uint64_t dict, const char *key,
		      uint64_t *hint, uint64_t *value, size_t *index)
{
	struct dictview v;
	if (dict_view(o, dict, &v) != 0)
		return -1;
	return view_find(o, &v, key, hint, value, index);
}

int gs_pydict_entry(struct gs_pyobj *o, uint64_t dict, size_t index,
		    uint64_t *key, uint64_t *value)
{
	struct dictview v;
	if (dict_view(o, dict, &v) != 0)
		return -1;
	if (index >= v.n)
		return 1;
	if (view_chunk(o, &v, index, 1, key, value) != 0)
		return -1;
	return *key && *value ? 0 : 1;
}

/* ---- instance attributes ------------------------------------------------ */

/* Where obj keeps its attributes: a dict (*dict), or values without one
 * that share the type's cached keys (*keys, *values).  0, 1 none, -1. */
static int attrs_of(struct gs_pyobj *o, uint64_t obj, uint64_t *dict,
		    uint64_t *keys, uint64_t *values)
{
	const struct gs_layout *l = o->l;
	const struct gs_objdict_scheme_info *s;
	uint64_t type, flags, basicsize, slot;
	int64_t dictoffset;

	*dict = *keys = *values = 0;
	if (obj == 0 || obj % 8 || l->objdict_scheme < 0 ||
	    l->objdict_scheme >= GS_OBJDICT_N ||
	    gs_pyobj_read(o, obj + (uint64_t)l->ob_type.off, &type, 8) != 0 ||
	    type == 0 || type % 8 ||
	    gs_pyobj_read(o, type + (uint64_t)l->type_dictoffset.off, &dictoffset, 8) ||
	    gs_pyobj_read(o, type + (uint64_t)l->type_basicsize.off, &basicsize, 8) ||
	    gs_pyobj_read(o, type + (uint64_t)l->type_flags.off, &flags, 8))
		return -1;
	s = &gs_objdict_schemes[l->objdict_scheme];
	if (dictoffset > 0 && dictoffset < (1 << 20)) {
		if (gs_pyobj_read(o, obj + (uint64_t)dictoffset, dict, 8) != 0)
			return -1;
		return *dict ? 0 : 1;
	}
	if (!s->managed_flag || !(flags & s->managed_flag))
		return -1;
	if (gs_pyobj_read(o, obj + (uint64_t)s->dict_slot, &slot, 8) != 0)
		return -1;
	/* 3.12 stores values - 1 in the slot (_PyDictOrValues_SetValues),
	 * odd since values are 8-byte aligned. */
	if (s->values_tagged && (slot & 1))
		*values = slot + 1;
	else
		*dict = slot;
	if (!*dict && !*values && s->values_slot &&
	    gs_pyobj_read(o, obj + (uint64_t)s->values_slot, values, 8) != 0)
		return -1;
	if (!*dict && !*values && s->inline_flag && (flags & s->inline_flag) &&
	    basicsize > 0 && basicsize < (1 << 20))
		*values = obj + basicsize;
	if (*dict)
		return 0;
	if (!*values)
		return 1;
	if (gs_pyobj_read(o, type + (uint64_t)l->ht_cached_keys.off, keys, 8) != 0)
		return -1;
	return 0;
}

int gs_pyobj_dict_of(struct gs_pyobj *o, uint64_t obj, uint64_t *dict)
{
	uint64_t keys, values;
	int rc = attrs_of(o, obj, dict, &keys, &values);
	return rc == 0 && !*dict ? 1 : rc;
}

int gs_pyobj_attr(struct gs_pyobj *o, uint64_t obj, const char *name,
		  uint64_t *hint, uint64_t *value)
{
	uint64_t dict, keys, values;
	struct dictview v;
	int rc = attrs_of(o, obj, &dict, &keys, &values);

	if (rc != 0)
		return rc;
	if (dict ? dict_view(o, dict, &v) != 0
		 : keys_view(o, keys, values_array(o->l, values), &v) != 0)
		return -1;
	return view_find(o, &v, name, hint, value, NULL);
}
