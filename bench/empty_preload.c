// SPDX-License-Identifier: MIT
/*
 * bench/empty_preload.c - a shared library with nothing in it, which
 * bench/shim.py preloads to measure what LD_PRELOAD of any library costs a
 * process's start-up (opening and mapping one more object, one more scope
 * for every symbol lookup), so that the shim's own share can be told apart.
 */
int uk_bench_empty_preload(void);

int uk_bench_empty_preload(void)
{
	return 0;
}
