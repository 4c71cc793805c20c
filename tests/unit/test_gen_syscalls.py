#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""tests/unit/test_gen_syscalls.py - the syscall table generator accepts
the real table and rejects bad ones (unsorted, duplicated number or name,
unknown ABI, malformed line, a SYSCALL_DEFINEn that names no entry or one
entry twice) with a clear message.

Usage: test_gen_syscalls.py GENERATOR TABLE
"""

import os
import subprocess
import sys
import tempfile
import unittest

GEN, TABLE = sys.argv[1], sys.argv[2]
del sys.argv[1:3]


def run(table_text=None, sources=(), table=None):
    with tempfile.TemporaryDirectory() as d:
        if table is None:
            table = os.path.join(d, "t.tbl")
            with open(table, "w") as f:
                f.write(table_text)
        srcs = []
        for i, text in enumerate(sources):
            p = os.path.join(d, f"s{i}.c")
            with open(p, "w") as f:
                f.write(text)
            srcs.append(p)
        out_c, out_h = os.path.join(d, "t.c"), os.path.join(d, "t.h")
        p = subprocess.run([sys.executable, GEN, "--out-c", out_c, "--out-h",
                            out_h, table] + srcs, capture_output=True, text=True)
        c = h = ""
        if p.returncode == 0:
            c, h = open(out_c).read(), open(out_h).read()
        return p.returncode, p.stderr, c, h


GOOD = """# comment
0\tcommon\tread\t\tsys_read
1\tcommon\twrite\t\tsys_write
4\tcommon\tstat\t\tsys_newstat
5\t64\tuselib
512\tx32\trt_sigaction\tcompat_sys_rt_sigaction
"""


class Generator(unittest.TestCase):
    def test_real_table(self):
        rc, err, c, h = run(table=TABLE, sources=["SYSCALL_DEFINE0(getpid)\n"])
        self.assertEqual(rc, 0, err)
        self.assertIn("#define UK_NR_openat 257", h)
        self.assertIn("#define UK_NR_SYSCALLS 470", h)
        self.assertIn("[39] = sys_getpid,", c)
        self.assertIn("[0] = sys_ni_syscall,", c)
        self.assertIn('[257] = "openat",', c)
        self.assertNotIn('"compat_', c)

    def test_fills_and_holes(self):
        rc, err, c, h = run(GOOD, ["SYSCALL_DEFINE3(write, int, fd)\n",
                                   "  SYSCALL_DEFINE2(stat, a, b)\n"
                                   " * SYSCALL_DEFINE1(read) in a comment\n"])
        self.assertEqual(rc, 0, err)
        self.assertIn("[1] = sys_write,", c)
        self.assertIn("[4] = sys_stat,", c)  # by table name
        self.assertIn("[0] = sys_ni_syscall,", c)  # comment ignored
        self.assertIn("[2] = sys_ni_syscall,", c)  # hole
        self.assertIn("[5] = sys_ni_syscall,", c)  # no entry point
        self.assertIn("#define UK_NR_SYSCALLS 6", h)
        self.assertNotIn("512", c)  # x32 skipped

    def test_entry_point_name(self):
        rc, err, c, _ = run(GOOD, ["SYSCALL_DEFINE2(newstat, a, b)\n"])
        self.assertEqual(rc, 0, err)
        self.assertIn("[4] = sys_newstat,", c)

    def bad(self, table, sources=(), msg=""):
        rc, err, _, _ = run(table, sources)
        self.assertEqual(rc, 1)
        self.assertIn("error:", err)
        self.assertIn(msg, err)
        return err

    def test_unsorted(self):
        err = self.bad("0 common read sys_read\n2 common open sys_open\n"
                       "1 common write sys_write\n", msg="not sorted")
        self.assertIn(":3:", err)

    def test_duplicate_number(self):
        self.bad("0 common read sys_read\n0 common write sys_write\n",
                 msg="duplicate syscall number 0")

    def test_duplicate_name(self):
        self.bad("0 common read sys_read\n1 common read sys_read2\n",
                 msg="duplicate syscall name 'read'")

    def test_unsorted_x32(self):
        self.bad("0 common read sys_read\n513 x32 a b\n512 x32 c d\n",
                 msg="not sorted")

    def test_unknown_abi(self):
        self.bad("0 i386 read sys_read\n", msg="unknown abi 'i386'")

    def test_malformed(self):
        self.bad("0 common\n", msg="malformed")
        self.bad("x common read sys_read\n", msg="not a syscall number")
        self.bad("", msg="no common/64 entries")

    def test_define_unknown(self):
        self.bad(GOOD, ["SYSCALL_DEFINE1(frobnicate, int, x)\n"],
                 msg="matches no entry")

    def test_define_twice(self):
        self.bad(GOOD, ["SYSCALL_DEFINE2(stat, a, b)\n",
                        "SYSCALL_DEFINE2(newstat, a, b)\n"],
                 msg="defined twice")


if __name__ == "__main__":
    unittest.main(verbosity=1)
