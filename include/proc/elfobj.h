/* Thin helpers over libelf for the questions gilsnoop asks of an ELF
 * object: symbols, sections, build-id, debuglink, load segments, and
 * bytes at a virtual address read from the file. */
#ifndef GS_ELFOBJ_H
#define GS_ELFOBJ_H

#include <stddef.h>
#include <stdint.h>

struct gs_elf;

/* Open path read-only.  Returns 0, or -1 with a reason in gs_fail()
 * (code GS_EFAIL) when the file is missing or not a usable ELF; errno is
 * then the open(2)/stat(2) error, or ENOEXEC for a file that is not a
 * regular ELF file. */
int gs_elf_open(const char *path, struct gs_elf **out);
void gs_elf_close(struct gs_elf *e);

/* ET_EXEC or ET_DYN. */
int gs_elf_type(const struct gs_elf *e);
int gs_elf_has_symtab(const struct gs_elf *e);
/* ELFCLASS64 and EM_X86_64: the only objects whose layout gilsnoop
 * knows. */
int gs_elf_is_x86_64(const struct gs_elf *e);
/* Has a PT_INTERP program header: a program (ET_EXEC or PIE), not a
 * plain shared library. */
int gs_elf_has_interp(struct gs_elf *e);

/* Look a symbol up in .dynsym, then .symtab.  Returns 0 when found. */
int gs_elf_symbol(struct gs_elf *e, const char *name, uint64_t *value,
		  uint64_t *size);
/* Returns 0 when the section exists. */
int gs_elf_section(struct gs_elf *e, const char *name, uint64_t *addr,
		   uint64_t *size);
/* Hex build-id into buf (at least 2*20+1 bytes); 0 when present. */
int gs_elf_build_id(struct gs_elf *e, char *buf, size_t n);
/* .gnu_debuglink file name; 0 when present. */
int gs_elf_debuglink(struct gs_elf *e, char *buf, size_t n, uint32_t *crc);

/* The PT_LOAD segment containing file offset off: its p_vaddr and
 * p_offset.  Used to turn a /proc/PID/maps line into a load bias. */
int gs_elf_load_for_offset(struct gs_elf *e, uint64_t off, uint64_t *vaddr,
			   uint64_t *offset);
/* Read len bytes stored at virtual address vaddr (file-backed data only:
 * .rodata, .data, not .bss).  Returns 0 on success. */
int gs_elf_read_vaddr(struct gs_elf *e, uint64_t vaddr, void *buf,
		      size_t len);
/* Call fn on every NUL-terminated string found in read-only sections
 * (.rodata); stop when fn returns nonzero, and return that value. */
int gs_elf_foreach_rodata_string(struct gs_elf *e,
				 int (*fn)(const char *s, size_t len, void *arg),
				 void *arg);

#endif
