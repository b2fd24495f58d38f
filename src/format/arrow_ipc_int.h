/*
 * arrow_ipc_int.h -- what the Arrow IPC reader and writer share: the types they know, and the
 * constants of the format. Private to src/format.
 */
#ifndef STRATA_FORMAT_ARROW_IPC_INT_H
#define STRATA_FORMAT_ARROW_IPC_INT_H

#include <stddef.h>
#include <stdint.h>

/* Type union members of Schema.fbs that we read and write. */
enum {
    IPC_T_INT = 2,
    IPC_T_FLOAT = 3,
    IPC_T_UTF8 = 5,
    IPC_T_BOOL = 6,
    IPC_T_DATE = 8,
    IPC_T_TIMESTAMP = 10,
    IPC_T_LARGE_UTF8 = 20
};
/* MessageHeader union members. */
enum { IPC_M_SCHEMA = 1, IPC_M_DICTIONARY = 2, IPC_M_RECORD_BATCH = 3 };
#define IPC_VERSION_V5 4
#define IPC_MAGIC      "ARROW1"

/* One column's type. */
typedef struct {
    int type;      /* an IPC_T_ */
    int bits;      /* INT: 8..64; FLOAT: 32 or 64 */
    int is_signed; /* INT */
    int unit;      /* DATE: 0 day, 1 ms; TIMESTAMP: 0 s, 1 ms, 2 us, 3 ns */
    char tz[64];   /* TIMESTAMP: the time zone, "" for none */
} ipc_type;

/* The C Data Interface format string of T into OUT (room for 80 bytes). */
void ipc_format(const ipc_type *t, char *out);
/* T from a C Data Interface format string: 0, or -1 for a type the IPC code does not handle. */
int ipc_parse_format(const char *format, ipc_type *t);
/* Buffers of a column of T in a record batch (validity included): 2 or 3. */
int ipc_nbuffers(const ipc_type *t);
/* Bytes of the data buffer of N values of T (not for strings). */
uint64_t ipc_data_bytes(const ipc_type *t, uint64_t n);

#endif /* STRATA_FORMAT_ARROW_IPC_INT_H */
