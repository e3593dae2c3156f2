/* libunwind over a capture.  The accessors are gilsnoop's own rather
 * than libunwind-ptrace's (_UPT_*): those read each word and register
 * with PTRACE_PEEK*, so the thread would stay stopped for the whole
 * unwind, and _UPT_find_proc_info maps each object from a path with a
 * blocking open(2) every time the unwind crosses into another object.
 * Here the thread is already running again; CFI is found from the
 * object's PT_GNU_EH_FRAME in the target's memory. */
#include <gelf.h>
#include <libunwind.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "stack/ehframe.h"
#include "stack/unwind.h"

/* Exported by libunwind-x86_64 but declared only in its private
 * headers; perf's and others' remote unwinders declare it the same way. */
extern int UNW_OBJ(dwarf_search_unwind_table)(unw_addr_space_t as, unw_word_t ip,
					      unw_dyn_info_t *di,
					      unw_proc_info_t *pi,
					      int need_unwind_info, void *arg);

#define PAGE 4096u
#define NPAGES 64
#define MAX_OBJS 512

struct page {
	uint64_t addr; /* page address; 0 empty */
	unsigned char b[PAGE];
};

struct objinfo {
	uint64_t low, high;
	int ok;                 /* has a searchable table */
	unw_dyn_info_t di;
};

struct gs_unwinder {
	pid_t pid;
	struct gs_symbols *sym;
	unw_addr_space_t as;
	const struct gs_capture *cur;
	unsigned *flags;        /* of the unwind in progress */
	int refreshed;          /* the maps were read again in this unwind */
	struct page *pages;
	struct objinfo objs[MAX_OBJS];
	size_t nobjs;
};

static int read_remote(pid_t pid, uint64_t addr, void *buf, size_t len)
{
	struct iovec l = { buf, len }, r = { (void *)(uintptr_t)addr, len };
	return process_vm_readv(pid, &l, 1, &r, 1, 0) == (ssize_t)len ? 0 : -1;
}

/* Code, CFI and data do not change while we look: a page read once
 * serves every later word in it. */
static int read_cached(struct gs_unwinder *u, uint64_t addr, void *out, size_t len)
{
	unsigned char *o = out;
	while (len) {
		uint64_t pa = addr & ~(uint64_t)(PAGE - 1);
		size_t off = (size_t)(addr - pa), n = PAGE - off;
		struct page *p = &u->pages[(pa / PAGE) % NPAGES];
		if (n > len)
			n = len;
		if (p->addr != pa || !pa) {
			if (read_remote(u->pid, pa, p->b, PAGE) != 0) {
				/* The end of a mapping: read just the bytes. */
				p->addr = 0;
				if (read_remote(u->pid, addr, o, n) != 0)
					return -1;
				goto next;
			}
			p->addr = pa;
		}
		memcpy(o, p->b + off, n);
next:
		o += n;
		addr += n;
		len -= n;
	}
	return 0;
}

static int access_mem(unw_addr_space_t as, unw_word_t addr, unw_word_t *val,
		      int write, void *arg)
{
	struct gs_unwinder *u = arg;
	const struct gs_capture *c = u->cur;
	(void)as;

	if (write)
		return -UNW_EINVAL; /* never written: not even asked for */
	if (c && addr >= c->stack_addr && addr - c->stack_addr <= c->stack_len &&
	    c->stack_len - (addr - c->stack_addr) >= sizeof *val) {
		memcpy(val, c->stack + (addr - c->stack_addr), sizeof *val);
		return 0;
	}
	if (c && addr >= c->stack_addr && c->stack_end && addr < c->stack_end) {
		/* Above the copy, in the same stack: the thread has moved
		 * on, so this is not the stack as it was. */
		*u->flags |= GS_UNWIND_LIVE;
		return read_remote(u->pid, addr, val, sizeof *val) ? -UNW_EINVAL : 0;
	}
	return read_cached(u, addr, val, sizeof *val) ? -UNW_EINVAL : 0;
}

static int access_reg(unw_addr_space_t as, unw_regnum_t reg, unw_word_t *val,
		      int write, void *arg)
{
	struct gs_unwinder *u = arg;
	const struct user_regs_struct *r = &u->cur->regs;
	(void)as;

	if (write)
		return -UNW_EREADONLYREG;
	switch (reg) {
	case UNW_X86_64_RAX: *val = r->rax; break;
	case UNW_X86_64_RDX: *val = r->rdx; break;
	case UNW_X86_64_RCX: *val = r->rcx; break;
	case UNW_X86_64_RBX: *val = r->rbx; break;
	case UNW_X86_64_RSI: *val = r->rsi; break;
	case UNW_X86_64_RDI: *val = r->rdi; break;
	case UNW_X86_64_RBP: *val = r->rbp; break;
	case UNW_X86_64_RSP: *val = r->rsp; break;
	case UNW_X86_64_R8: *val = r->r8; break;
	case UNW_X86_64_R9: *val = r->r9; break;
	case UNW_X86_64_R10: *val = r->r10; break;
	case UNW_X86_64_R11: *val = r->r11; break;
	case UNW_X86_64_R12: *val = r->r12; break;
	case UNW_X86_64_R13: *val = r->r13; break;
	case UNW_X86_64_R14: *val = r->r14; break;
	case UNW_X86_64_R15: *val = r->r15; break;
	case UNW_X86_64_RIP: *val = r->rip; break;
	default: return -UNW_EBADREG;
	}
	return 0;
}

static int access_fpreg(unw_addr_space_t as, unw_regnum_t reg, unw_fpreg_t *val,
			int write, void *arg)
{
	(void)as; (void)reg; (void)val; (void)write; (void)arg;
	return -UNW_EBADREG;
}

static int resume(unw_addr_space_t as, unw_cursor_t *c, void *arg)
{
	(void)as; (void)c; (void)arg;
	return -UNW_EINVAL; /* the target is never resumed by the unwinder */
}

static int get_dyn_info_list_addr(unw_addr_space_t as, unw_word_t *dil, void *arg)
{
	(void)as; (void)dil; (void)arg;
	return -UNW_ENOINFO;
}

/* The unwind info comes from libunwind's own pool and is reused. */
static void put_unwind_info(unw_addr_space_t as, unw_proc_info_t *pi, void *arg)
{
	(void)as; (void)pi; (void)arg;
}

static struct objinfo *object_for(struct gs_unwinder *u, uint64_t ip)
{
	uint64_t low, high, bias;
	Elf *elf;
	size_t nph;

	for (size_t i = 0; i < u->nobjs; i++)
		if (ip >= u->objs[i].low && ip < u->objs[i].high)
			return &u->objs[i];
	if (u->nobjs == MAX_OBJS)
		return NULL;
	if (gs_symbols_object(u->sym, ip, &low, &high, &elf, &bias) != 0) {
		/* A library loaded since the maps were read; JIT code in
		 * anonymous memory would ask again and again, so once per
		 * unwind. */
		if (u->refreshed)
			return NULL;
		u->refreshed = 1;
		if (gs_symbols_refresh(u->sym) != 0 ||
		    gs_symbols_object(u->sym, ip, &low, &high, &elf, &bias) != 0)
			return NULL;
	}
	struct objinfo *o = &u->objs[u->nobjs++];
	memset(o, 0, sizeof *o);
	o->low = low;
	o->high = high;
	if (!elf || elf_getphdrnum(elf, &nph) != 0)
		return o;
	for (size_t i = 0; i < nph; i++) {
		GElf_Phdr ph;
		unsigned char buf[16];
		struct gs_ehhdr h;
		if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_GNU_EH_FRAME)
			continue;
		uint64_t at = bias + ph.p_vaddr;
		if (read_cached(u, at, buf, sizeof buf) != 0 ||
		    gs_ehhdr_parse(buf, sizeof buf, at, &h) != 0 || !h.searchable)
			break;
		/* The table must lie inside the segment the header says. */
		if (h.fde_count > (ph.p_memsz / 8))
			break;
		o->di.format = UNW_INFO_FORMAT_REMOTE_TABLE;
		o->di.start_ip = low;
		o->di.end_ip = high;
		o->di.u.rti.segbase = at;
		o->di.u.rti.table_data = h.table;
		o->di.u.rti.table_len = h.fde_count * 8 / sizeof(unw_word_t);
		o->ok = 1;
		break;
	}
	return o;
}

static int find_proc_info(unw_addr_space_t as, unw_word_t ip, unw_proc_info_t *pi,
			  int need_unwind_info, void *arg)
{
	struct gs_unwinder *u = arg;
	struct objinfo *o = object_for(u, ip);
	if (!o || !o->ok)
		return -UNW_ENOINFO;
	return UNW_OBJ(dwarf_search_unwind_table)(as, ip, &o->di, pi,
						  need_unwind_info, arg);
}

static unw_accessors_t accessors = {
	.find_proc_info = find_proc_info,
	.put_unwind_info = put_unwind_info,
	.get_dyn_info_list_addr = get_dyn_info_list_addr,
	.access_mem = access_mem,
	.access_reg = access_reg,
	.access_fpreg = access_fpreg,
	.resume = resume,
	.get_proc_name = NULL,
};

int gs_unwinder_open(pid_t pid, struct gs_symbols *sym, struct gs_unwinder **out)
{
	struct gs_unwinder *u = calloc(1, sizeof *u);
	*out = NULL;
	if (!u)
		return -1;
	u->pages = calloc(NPAGES, sizeof *u->pages);
	u->as = unw_create_addr_space(&accessors, 0);
	if (!u->pages || !u->as) {
		gs_unwinder_close(u);
		return -1;
	}
	unw_set_caching_policy(u->as, UNW_CACHE_GLOBAL);
	u->pid = pid;
	u->sym = sym;
	*out = u;
	return 0;
}

void gs_unwinder_close(struct gs_unwinder *u)
{
	if (!u)
		return;
	if (u->as)
		unw_destroy_addr_space(u->as);
	free(u->pages);
	free(u);
}

void gs_unwind_capture(struct gs_unwinder *u, const struct gs_capture *c,
		       struct gs_uframe *out, size_t cap, struct gs_unwind *res)
{
	unw_cursor_t cur;
	int r, exact = 1;

	memset(res, 0, sizeof *res);
	if (!cap)
		return;
	u->cur = c;
	u->flags = &res->flags;
	u->refreshed = 0;
	out[0].pc = c->regs.rip;
	out[0].sp = c->regs.rsp;
	out[0].exact = 1;
	out[0].signal = 0;
	res->n = 1;
	r = unw_init_remote(&cur, u->as, u);
	if (r < 0) {
		res->flags |= GS_UNWIND_STOPPED;
		snprintf(res->why, sizeof res->why, "libunwind: %s", unw_strerror(r));
		goto out;
	}
	for (;;) {
		struct gs_uframe *f = &out[res->n - 1];
		f->signal = unw_is_signal_frame(&cur) > 0;
		exact = f->signal;
		r = unw_step(&cur);
		if (r == 0)
			break;
		if (r < 0) {
			res->flags |= GS_UNWIND_STOPPED;
			snprintf(res->why, sizeof res->why, "%s", unw_strerror(r));
			break;
		}
		if (res->n == cap) {
			res->flags |= GS_UNWIND_TRUNCATED;
			break;
		}
		unw_word_t pc, sp;
		unw_get_reg(&cur, UNW_REG_IP, &pc);
		unw_get_reg(&cur, UNW_REG_SP, &sp);
		if (pc == 0)
			break;
		/* Callers live higher up the stack; a step that goes down
		 * (outside a signal's alternate stack) is torn data. */
		if (sp < f->sp && !f->signal) {
			res->flags |= GS_UNWIND_STOPPED;
			snprintf(res->why, sizeof res->why, "the stack went backwards");
			break;
		}
		if (sp == f->sp && pc == f->pc) {
			res->flags |= GS_UNWIND_STOPPED;
			snprintf(res->why, sizeof res->why, "the unwind went round in a loop");
			break;
		}
		struct gs_uframe *g = &out[res->n++];
		g->pc = pc;
		g->sp = sp;
		g->exact = exact;
		g->signal = 0;
	}
out:
	u->cur = NULL;
	u->flags = NULL;
}
