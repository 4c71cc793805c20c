/* SPDX-License-Identifier: MIT */
/*
 * ukernel/uaccess_x86_64.S - the copy routines of uk_self_mm_ops, the way
 * Linux's arch/x86/lib/copy_user_64.S works: every instruction that touches
 * user memory is listed in an exception table (uk_extable, pairs of
 * self-relative offsets: faulting instruction, fixup). When one of them
 * faults, uaccess.c's SIGSEGV/SIGBUS handler finds the instruction in the
 * table and resumes at its fixup, which returns the failure. See
 * docs/uaccess.md.
 *
 *   unsigned long uk_copy_user_raw(void *dst, const void *src, size_t n)
 *	copies n bytes; returns 0, or nonzero when an access faulted.
 *   long uk_strncpy_user_raw(char *dst, const char *src, size_t n)
 *	copies a string up to and including its NUL, at most n bytes;
 *	returns its length, n when no NUL was found, or -14 (-EFAULT).
 */
#if defined(__x86_64__)

#define UK_EXTABLE(insn, fixup)					\
	.pushsection .rodata.uk_extable, "a";			\
	.balign 4;						\
	.long (insn) - .;					\
	.long (fixup) - .;					\
	.popsection

/* The table's start; its end is at the bottom of this file. */
	.pushsection .rodata.uk_extable, "a"
	.balign 4
	.globl	uk_extable_start
	.hidden	uk_extable_start
uk_extable_start:
	.popsection

	.text

	.globl	uk_copy_user_raw
	.hidden	uk_copy_user_raw
	.type	uk_copy_user_raw, @function
	.p2align 4
uk_copy_user_raw:
	.cfi_startproc
	/*
	 * One rep movsb: with ERMS/FSRM (every x86-64 CPU of the last
	 * decade has ERMS, recent ones FSRM) it beats an open-coded loop at
	 * every size, as Linux's copy_user_generic chooses when FSRM is set.
	 * A fault leaves rcx = bytes not copied.
	 */
	mov	%rdx, %rcx
10:	rep movsb
	xor	%eax, %eax
	ret
.Lcopy_fault:
	mov	%rcx, %rax		/* bytes not copied (never 0 here) */
	ret
	.cfi_endproc
	.size	uk_copy_user_raw, . - uk_copy_user_raw

	UK_EXTABLE(10b, .Lcopy_fault)

	.globl	uk_strncpy_user_raw
	.hidden	uk_strncpy_user_raw
	.type	uk_strncpy_user_raw, @function
	.p2align 4
uk_strncpy_user_raw:
	.cfi_startproc
	xor	%eax, %eax
	test	%rdx, %rdx
	jz	.Lsdone
.Lsloop:
20:	movzbl	(%rsi,%rax), %ecx
	movb	%cl, (%rdi,%rax)
	test	%cl, %cl
	jz	.Lsdone
	inc	%rax
	cmp	%rdx, %rax
	jb	.Lsloop
.Lsdone:
	ret
.Lstr_fault:
	mov	$-14, %rax
	ret
	.cfi_endproc
	.size	uk_strncpy_user_raw, . - uk_strncpy_user_raw

	UK_EXTABLE(20b, .Lstr_fault)

/* The table's bounds, for the fault handler. */
	.pushsection .rodata.uk_extable, "a"
	.balign 4
	.globl	uk_extable_end
	.hidden	uk_extable_end
uk_extable_end:
	.popsection

#endif /* __x86_64__ */

	.section .note.GNU-stack, "", @progbits
