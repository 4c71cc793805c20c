/* SPDX-License-Identifier: MIT */
/*
 * shim/uaccess_x86_64.S - the client library's fault-safe copies of the
 * caller's memory (the payloads it copies inline into the slot), in the way
 * of the kernel's ukernel/uaccess_x86_64.S: each instruction that touches
 * the caller's buffer is listed in an exception table (uk_cl_extable, pairs
 * of self-relative offsets: instruction, fixup). When one of them faults,
 * client.c's SIGSEGV/SIGBUS handler resumes at its fixup, which returns the
 * failure; when nothing faults they cost what memcpy costs. The symbols and
 * the table section are our own, so the kernel's copy routines can live in
 * the same program (the tests link both).
 *
 *   unsigned long uk_cl_copy(void *dst, const void *src, size_t n)
 *	copies n bytes; 0, or the bytes not copied when an access (a load
 *	or a store: it copies out to the caller too) faulted.
 *   int uk_cl_peek16(void *dst, const void *src)
 *	copies 16 bytes with one unaligned load: 0, or -1 when it faulted.
 *	For the routing's first look at a host path (shim/path.c).
 *   long uk_cl_strncpy(char *dst, const char *src, size_t n)
 *	copies a string with its NUL, at most n bytes; returns its length,
 *	n when there is no NUL in n bytes, or -14 (-EFAULT).
 */
#if defined(__x86_64__)

#define UK_CL_EXTABLE(insn, fixup)				\
	.pushsection .rodata.uk_cl_extable, "a";		\
	.balign 4;						\
	.long (insn) - .;					\
	.long (fixup) - .;					\
	.popsection

	.pushsection .rodata.uk_cl_extable, "a"
	.balign 4
	.globl	uk_cl_extable_start
	.hidden	uk_cl_extable_start
uk_cl_extable_start:
	.popsection

	.text

	.globl	uk_cl_copy
	.hidden	uk_cl_copy
	.type	uk_cl_copy, @function
	.p2align 4
uk_cl_copy:
	.cfi_startproc
	/*
	 * Below 512 bytes, 8 bytes a move and then bytes: rep movsb's
	 * start-up costs ~10 ns, more than such a copy; above, rep movsb
	 * (ERMS) is the fastest. A fault leaves rcx or rdx = bytes not
	 * copied.
	 */
	cmp	$512, %rdx
	jae	.Lrep
.Lq:
	cmp	$8, %rdx
	jb	.Lb
11:	mov	(%rsi), %rax
13:	mov	%rax, (%rdi)
	add	$8, %rsi
	add	$8, %rdi
	sub	$8, %rdx
	jmp	.Lq
.Lb:
	test	%rdx, %rdx
	jz	.Lcdone
12:	movzbl	(%rsi), %eax
14:	mov	%al, (%rdi)
	inc	%rsi
	inc	%rdi
	dec	%rdx
	jmp	.Lb
.Lcdone:
	xor	%eax, %eax
	ret
.Lrep:
	mov	%rdx, %rcx
10:	rep movsb
	xor	%eax, %eax
	ret
.Lcopy_fault:
	mov	%rcx, %rax		/* bytes not copied (never 0 here) */
	ret
.Lcopy_fault_q:
	mov	%rdx, %rax		/* never 0 here either */
	ret
	.cfi_endproc
	.size	uk_cl_copy, . - uk_cl_copy

	UK_CL_EXTABLE(10b, .Lcopy_fault)
	UK_CL_EXTABLE(11b, .Lcopy_fault_q)
	UK_CL_EXTABLE(12b, .Lcopy_fault_q)
	UK_CL_EXTABLE(13b, .Lcopy_fault_q)
	UK_CL_EXTABLE(14b, .Lcopy_fault_q)

	.globl	uk_cl_peek16
	.hidden	uk_cl_peek16
	.type	uk_cl_peek16, @function
	.p2align 4
uk_cl_peek16:
	.cfi_startproc
15:	movdqu	(%rsi), %xmm0
	movdqu	%xmm0, (%rdi)
	xor	%eax, %eax
	ret
.Lpeek_fault:
	mov	$-1, %eax
	ret
	.cfi_endproc
	.size	uk_cl_peek16, . - uk_cl_peek16

	UK_CL_EXTABLE(15b, .Lpeek_fault)

	.globl	uk_cl_strncpy
	.hidden	uk_cl_strncpy
	.type	uk_cl_strncpy, @function
	.p2align 4
uk_cl_strncpy:
	.cfi_startproc
	/*
	 * Bytes until the source is 8-byte aligned, then aligned words while
	 * none holds a NUL (an aligned word never crosses into the next
	 * page, so reading past the NUL is safe), then bytes again to find
	 * the NUL and finish. rax = bytes copied so far.
	 */
	xor	%eax, %eax
	movabs	$0x0101010101010101, %r10
	movabs	$0x8080808080808080, %r11
.Lhead:
	cmp	%rdx, %rax
	jae	.Lsdone
	lea	(%rsi,%rax), %r8
	test	$7, %r8b
	jz	.Lwords
20:	movzbl	(%rsi,%rax), %ecx
	movb	%cl, (%rdi,%rax)
	test	%cl, %cl
	jz	.Lsdone
	inc	%rax
	jmp	.Lhead
.Lwords:
	lea	8(%rax), %r8
	cmp	%rdx, %r8
	ja	.Ltail
21:	mov	(%rsi,%rax), %r9
	mov	%r9, %rcx		/* haszero: (x - 0x01..) & ~x & 0x80.. */
	sub	%r10, %rcx
	not	%r9
	and	%r9, %rcx
	and	%r11, %rcx
	jnz	.Ltail			/* a NUL in this word: bytes find it */
	not	%r9
	mov	%r9, (%rdi,%rax)
	mov	%r8, %rax
	jmp	.Lwords
.Ltail:
	cmp	%rdx, %rax
	jae	.Lsdone
22:	movzbl	(%rsi,%rax), %ecx
	movb	%cl, (%rdi,%rax)
	test	%cl, %cl
	jz	.Lsdone
	inc	%rax
	jmp	.Ltail
.Lsdone:
	ret
.Lstr_fault:
	mov	$-14, %rax
	ret
	.cfi_endproc
	.size	uk_cl_strncpy, . - uk_cl_strncpy

	UK_CL_EXTABLE(20b, .Lstr_fault)
	UK_CL_EXTABLE(21b, .Lstr_fault)
	UK_CL_EXTABLE(22b, .Lstr_fault)

	.pushsection .rodata.uk_cl_extable, "a"
	.balign 4
	.globl	uk_cl_extable_end
	.hidden	uk_cl_extable_end
uk_cl_extable_end:
	.popsection

#endif /* __x86_64__ */

	.section .note.GNU-stack, "", @progbits
