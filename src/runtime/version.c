/* Which Python version a runtime object is. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/errors.h"
#include "layout/sources.h"
#include "runtime/process.h"
#include "runtime/version.h"

/* "X.Y" from a name like libpython3.9.so.1.0, python3.13t, python2.7;
 * also tells whether a 't' (free-threaded ABI) follows. */
static int name_version(const char *path, int *major, int *minor, int *t_abi)
{
	const char *b = strrchr(path, '/');
	const char *p = strstr(b ? b + 1 : path, "python");
	int ma, mi, n = 0;
	if (!p)
		return -1;
	p += 6;
	if (sscanf(p, "%d.%d%n", &ma, &mi, &n) != 2 || ma < 2 || ma > 9 ||
	    mi < 0 || mi > 99 || !isdigit((unsigned char)p[0]))
		return -1;
	*major = ma;
	*minor = mi;
	if (t_abi)
		*t_abi = p[n] == 't';
	return 0;
}

static void version_from_hex(struct gs_version *v, uint32_t hex,
			     const char *how)
{
	int level = (hex >> 4) & 0xf, serial = hex & 0xf;
	const char *lv = level == 0xa ? "a" : level == 0xb ? "b" :
			 level == 0xc ? "rc" : "";
	v->hex = hex;
	v->major = (int)(hex >> 24) & 0xff;
	v->minor = (int)(hex >> 16) & 0xff;
	v->micro = (int)(hex >> 8) & 0xff;
	if (*lv)
		snprintf(v->str, sizeof v->str, "%d.%d.%d%s%d", v->major,
			 v->minor, v->micro, lv, serial);
	else
		snprintf(v->str, sizeof v->str, "%d.%d.%d", v->major, v->minor,
			 v->micro);
	v->how = how;
}

static int plausible_hex(uint32_t hex)
{
	int major = (int)(hex >> 24), level = (hex >> 4) & 0xf;
	return (major == 2 || major == 3) &&
	       (level == 0xa || level == 0xb || level == 0xc || level == 0xf);
}

/* Parse a whole PY_VERSION: [23].N.N, then aN/bN/cN/rcN, then '+'
 * (a development build).  Returns the PY_VERSION_HEX, or 0. */
static uint32_t parse_py_version(const char *s, size_t len)
{
	const char *e = s + len;
	unsigned v[3] = { 0, 0, 0 }, level = 0xf, serial = 0;
	int k;

	for (k = 0; k < 3; k++) {
		int digits = 0;
		if (k > 0) {
			if (s >= e || *s != '.')
				return 0;
			s++;
		}
		while (s < e && isdigit((unsigned char)*s) && digits < 3) {
			v[k] = v[k] * 10 + (unsigned)(*s - '0');
			s++;
			digits++;
		}
		if (digits == 0 || (s < e && isdigit((unsigned char)*s)))
			return 0;
	}
	if (v[0] != 2 && v[0] != 3)
		return 0;
	if (v[1] > 99 || v[2] > 99)
		return 0;
	if (s < e && (*s == 'a' || *s == 'b' || *s == 'c' || *s == 'r')) {
		if (*s == 'r') {
			if (e - s < 2 || s[1] != 'c')
				return 0;
			s++;
		}
		level = *s == 'a' ? 0xa : *s == 'b' ? 0xb : 0xc;
		s++;
		int digits = 0;
		while (s < e && isdigit((unsigned char)*s) && digits < 2) {
			serial = serial * 10 + (unsigned)(*s - '0');
			s++;
			digits++;
		}
		if (digits == 0 || serial > 15)
			return 0;
	}
	if (s < e && *s == '+')
		s++;
	if (s != e)
		return 0;
	return v[0] << 24 | v[1] << 16 | v[2] << 8 | level << 4 | serial;
}

#define MAX_VCANDS 32

struct vsearch {
	int name_major, name_minor;  /* -1 when the name tells nothing */
	int lo_minor, hi_minor;      /* 3.x range the symbols allow */
	int allow_2;                 /* Python 2 cannot be excluded */
	struct { uint32_t hex; int exact, count, score; } c[MAX_VCANDS];
	int n;
};

static int vscore(const struct vsearch *vs, uint32_t hex, int exact)
{
	int major = (int)(hex >> 24), minor = (int)(hex >> 16) & 0xff;
	int s = 0;
	if (major == vs->name_major && minor == vs->name_minor)
		s += 4;
	if ((major == 3 && minor >= vs->lo_minor && minor <= vs->hi_minor) ||
	    (major == 2 && vs->allow_2))
		s += 2;
	if (exact)
		s += 1;
	return s;
}

static void vs_add(struct vsearch *vs, uint32_t hex, int exact)
{
	for (int i = 0; i < vs->n; i++) {
		if (vs->c[i].hex == hex) {
			vs->c[i].count++;
			if (exact && !vs->c[i].exact) {
				vs->c[i].exact = 1;
				vs->c[i].score = vscore(vs, hex, 1);
			}
			return;
		}
	}
	if (vs->n == MAX_VCANDS)
		return;
	vs->c[vs->n].hex = hex;
	vs->c[vs->n].exact = exact;
	vs->c[vs->n].count = 1;
	vs->c[vs->n].score = vscore(vs, hex, exact);
	vs->n++;
}

/* The linker merges string tails, so PY_VERSION ("3.9.18") is often
 * stored only as the end of a longer string such as the install prefix
 * "/opt/python/3.9.18".  Look at every suffix that starts a number. */
static int version_string_cb(const char *s, size_t len, void *arg)
{
	struct vsearch *vs = arg;
	size_t from = len > 24 ? len - 24 : 0;
	for (size_t i = from; i + 5 <= len; i++) {
		if (s[i] != '2' && s[i] != '3')
			continue;
		if (i > 0 && (isdigit((unsigned char)s[i - 1]) || s[i - 1] == '.'))
			continue;
		uint32_t hex = parse_py_version(s + i, len - i);
		if (hex) {
			vs_add(vs, hex, i == 0);
			break;
		}
	}
	return 0;
}

int gs_find_version(struct gs_target *t, struct gs_elf *e,
			enum gs_rt_kind kind, int no_symbols, int *ft_hint)
{
	uint64_t val, size;
	struct gs_version *v = &t->ver;
	int nmaj = -1, nmin = -1, t_abi = 0;

	memset(v, 0, sizeof *v);
	if (name_version(t->obj.path, &nmaj, &nmin, &t_abi) != 0)
		nmaj = nmin = -1;
	*ft_hint = t_abi;

	/* 3.11+: the exported constant Py_Version (an unsigned long holding
	 * PY_VERSION_HEX), in .rodata. */
	if (gs_elf_symbol(e, "Py_Version", &val, &size) == 0) {
		unsigned char b[8] = { 0 };
		size_t n = size == 4 ? 4 : 8;
		uint32_t hex;
		if (gs_elf_read_vaddr(e, val, b, n) != 0 &&
		    gs_mem_read(&t->mem, t->obj.load_bias + val, b, n) != 0)
			return gs_target_mem_fail(t, "Py_Version", t->obj.load_bias + val);
		hex = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
		      (uint32_t)b[3] << 24;
		if (plausible_hex(hex)) {
			version_from_hex(v, hex, "Py_Version");
			gs_debug("version %s from Py_Version (0x%08x)", v->str, hex);
		} else {
			gs_debug("Py_Version reads 0x%08x: ignored", hex);
		}
	}

	/* 3.13+: _Py_DebugOffsets heads _PyRuntime and carries the version
	 * and whether the build is free-threaded. */
	if (kind == GS_RT_RUNTIME && (v->hex == 0 || (v->major == 3 && v->minor >= 13))) {
		uint32_t hex = 0;
		int ft = 0;
		if (gs_debug_offsets_probe(&t->mem, t->runtime_addr, &hex, &ft) == 0) {
			gs_debug("_Py_DebugOffsets: version 0x%08x, free_threaded %d",
				 hex, ft);
			if (ft)
				t->build = GS_BUILD_FREETHREADED;
			*ft_hint = -1; /* the probe answered; the name does not count */
			if (v->hex == 0 && plausible_hex(hex))
				version_from_hex(v, hex, "_Py_DebugOffsets");
			else if (v->hex && hex != v->hex)
				gs_debug("_Py_DebugOffsets version 0x%08x differs from "
					 "Py_Version 0x%08x; keeping Py_Version", hex,
					 v->hex);
		} else if (v->hex) {
			gs_debug("no _Py_DebugOffsets cookie at 0x%llx",
				 (unsigned long long)t->runtime_addr);
		}
		gs_clear_error();
	}
	if (v->hex)
		return 0;

	/* Older builds: PY_VERSION among the read-only strings. */
	struct vsearch *vs = calloc(1, sizeof *vs);
	if (!vs)
		return gs_fail(GS_EFAIL, "out of memory");
	vs->name_major = nmaj;
	vs->name_minor = nmin;
	if (kind == GS_RT_RUNTIME) {
		/* _PyRuntime appeared in 3.7, Py_Version in 3.11.  Without
		 * any symbols (found through the .PyRuntime section) the
		 * missing Py_Version says nothing. */
		vs->lo_minor = 7;
		vs->hi_minor = no_symbols ? 15 : 10;
	} else {
		vs->lo_minor = 0;
		vs->hi_minor = 6;
		vs->allow_2 = 1;
	}
	gs_elf_foreach_rodata_string(e, version_string_cb, vs);
	int best = -1;
	for (int i = 0; i < vs->n; i++) {
		gs_debug("version string candidate 0x%08x (score %d, seen %d)",
			 vs->c[i].hex, vs->c[i].score, vs->c[i].count);
		if (vs->c[i].score < 2)
			continue; /* neither the name nor the symbols vouch for it */
		if (best < 0 || vs->c[i].score > vs->c[best].score ||
		    (vs->c[i].score == vs->c[best].score &&
		     vs->c[i].count > vs->c[best].count))
			best = i;
	}
	if (best >= 0) {
		version_from_hex(v, vs->c[best].hex, "version string");
		gs_debug("version %s from a version string in %s", v->str,
			 t->obj.path);
		free(vs);
		return 0;
	}
	free(vs);

	if (nmaj > 0) {
		v->major = nmaj;
		v->minor = nmin;
		v->micro = 0;
		v->hex = 0;
		snprintf(v->str, sizeof v->str, "%d.%d", nmaj, nmin);
		v->how = "object name";
		gs_debug("version %s from the object's name", v->str);
		return 0;
	}
	return gs_fail(GS_EUNSUPPORTED, "cannot tell the Python version of %s "
		       "in process %d", t->obj.path, (int)t->pid);
}

