/*
 * comm.c -- the collectives every user of util/comm.h needs beyond the table's own.
 */
#include <stdlib.h>
#include <string.h>

#include "util/comm.h"

int st_comm_agree(const st_comm *c, st_err *err, int rc)
{
    if (!st_comm_many(c)) return rc;
    char msg[ST_ERRMSG_MAX] = "";
    if (rc < 0) st_err_copy(err, msg, sizeof msg);
    uint64_t len = rc < 0 ? sizeof(int32_t) + strlen(msg) + 1 : 0, *lens;
    char *mine = malloc(len + 1), *all = NULL;
    lens = calloc((size_t)c->size, sizeof *lens);
    if (mine == NULL || lens == NULL) {
        free(mine);
        free(lens);
        return st_error(err, STRATA_ENOMEM, "out of memory");
    }
    if (rc < 0) {
        int32_t r32 = rc;
        memcpy(mine, &r32, sizeof r32);
        memcpy(mine + sizeof r32, msg, strlen(msg) + 1);
    }
    int out = c->allgather(c->ctx, err, mine, len, (void **)&all, lens);
    const char *p = all;
    for (int r = 0; r < c->size && out == STRATA_OK; p += lens[r++])
        if (lens[r] > sizeof(int32_t)) {
            int32_t r32;
            memcpy(&r32, p, sizeof r32);
            out = st_error(err, r32, "%s", p + sizeof r32);
        }
    free(mine);
    free(all);
    free(lens);
    return out;
}
