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
	mov	%rdx, %rcx
	cmp	$256, %rdx
	jae	.Lrep
	shr	$3, %rcx		/* quadwords */
	jz	.Ltail
.Lqloop:
10:	mov	(%rsi), %rax
11:	mov	%rax, (%rdi)
	add	$8, %rsi
	add	$8, %rdi
	dec	%rcx
	jnz	.Lqloop
.Ltail:
	mov	%edx, %ecx
	and	$7, %ecx		/* bytes left */
	jz	.Ldone
.Lbloop:
12:	movb	(%rsi), %al
13:	movb	%al, (%rdi)
	inc	%rsi
	inc	%rdi
	dec	%ecx
	jnz	.Lbloop
.Ldone:
	xor	%eax, %eax
	ret
.Lrep:
14:	rep movsb			/* ERMS: fast for large copies */
	xor	%eax, %eax
	ret
.Lcopy_fault:
	mov	$1, %eax
	ret
	.cfi_endproc
	.size	uk_copy_user_raw, . - uk_copy_user_raw

	UK_EXTABLE(10b, .Lcopy_fault)
	UK_EXTABLE(11b, .Lcopy_fault)
	UK_EXTABLE(12b, .Lcopy_fault)
	UK_EXTABLE(13b, .Lcopy_fault)
	UK_EXTABLE(14b, .Lcopy_fault)

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
