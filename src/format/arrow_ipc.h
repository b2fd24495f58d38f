/*
 * arrow_ipc.h -- the Arrow IPC file format (Feather v2): file bytes <-> Arrow C Data Interface
 * arrays, knowing nothing of pools or datasets.
 *
 * Written from the format's specification (arrow/format/Schema.fbs, Message.fbs, File.fbs and
 * Columnar.md), with its own small FlatBuffers reader and writer (arrow_fb.c). A file is
 * "ARROW1", the stream of messages (the schema, dictionary batches, record batches, each an
 * encapsulated FlatBuffers Message and its body of buffers), a Footer listing the blocks, its
 * length and "ARROW1".
 *
 * Reading: the caller maps the file; st_ipc_open() validates the magic, the footer, the schema
 * and every block's bounds; st_ipc_batch() gives record batch I as a struct ArrowArray whose
 * buffers point into the file where they can (uncompressed buffers) and into allocations the
 * array owns otherwise (ZSTD-compressed buffers, dictionary-encoded strings decoded). Every
 * length, offset and string offset is checked against the file: a damaged file fails with
 * STRATA_ECORRUPT naming the batch, column and buffer; a feature we do not read (nested types,
 * decimals, LZ4 compression, big-endian files, ...) with STRATA_EUNSUPPORTED naming it.
 * Flat schemas of bool, int8..64, uint8..64, float, double, utf8, large_utf8, date32/64 and
 * timestamps are read; dictionary-encoded utf8 columns are decoded.
 *
 * Writing: st_ipc_writer_open() takes an ArrowSchema (a struct of such fields) and a write
 * callback; st_ipc_writer_write() appends one record batch (an ArrowArray of that struct, its
 * buffers written uncompressed, 64-byte aligned); st_ipc_writer_close() writes the footer.
 *
 * No global state, no printing: errors go to the caller's st_err.
 */
#ifndef STRATA_FORMAT_ARROW_IPC_H
#define STRATA_FORMAT_ARROW_IPC_H

#include <stddef.h>
#include <stdint.h>

#include "strata.h"
#include "util/error.h"

typedef struct st_ipc_reader st_ipc_reader;

/* Open the IPC file held in DATA[0..SIZE) (kept mapped by the caller until st_ipc_close()); NAME
 * names it in messages. *out: st_ipc_close(). */
int st_ipc_open(st_err *err, const void *data, size_t size, const char *name, st_ipc_reader **out);
void st_ipc_close(st_ipc_reader *r);

/* The file's schema as a struct ArrowSchema (dictionary-encoded fields as their value type),
 * which the caller releases. Valid after st_ipc_close(). */
int st_ipc_schema(st_ipc_reader *r, struct ArrowSchema *out);

int st_ipc_nbatches(const st_ipc_reader *r);

/* Record batch I as a struct ArrowArray (released by the caller, before st_ipc_close()). */
int st_ipc_batch(st_ipc_reader *r, int i, struct ArrowArray *out);

/* Called with the file's bytes in order; returns STRATA_OK or a negative status. */
typedef int (*st_ipc_write_fn)(void *ctx, const void *buf, size_t len);

typedef struct st_ipc_writer st_ipc_writer;

/* Start a file of the struct schema SCHEMA (copied; formats b c s i l C S I L f g u U tdD tdm
 * ts?:TZ) through WRITE(CTX, ...): writes the magic and the schema message. *out:
 * st_ipc_writer_close() to finish, st_ipc_writer_free() to abandon. */
int st_ipc_writer_open(st_err *err, const struct ArrowSchema *schema, st_ipc_write_fn write,
                       void *ctx, st_ipc_writer **out);

/* Append record batch BATCH (a struct array of the schema, offset 0). */
int st_ipc_writer_write(st_ipc_writer *w, const struct ArrowArray *batch);

/* Write the footer and free W, also on failure. */
int st_ipc_writer_close(st_ipc_writer *w);
void st_ipc_writer_free(st_ipc_writer *w);

#endif /* STRATA_FORMAT_ARROW_IPC_H */
