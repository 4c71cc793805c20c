/* SPDX-License-Identifier: MIT */
/*
 * ukernel/ukfs_schema.h - the ukfs schema text and the cached statements'
 * text (ukfs_schema.c), indexed by enum ukfs_st.
 */
#ifndef UKFS_SCHEMA_H
#define UKFS_SCHEMA_H

#include "ukfs_internal.h"

extern const char ukfs_schema_sql[];
extern const char *const ukfs_stmt_sql[ST_NR];

#endif /* UKFS_SCHEMA_H */
