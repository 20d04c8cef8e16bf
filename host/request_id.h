/*
 * Request ids (X-Request-Id and the access log): Mattermost-style ids, 26
 * characters, unpredictable, made without a system call. Each thread keeps
 * a ChaCha20 key drawn from the OS once (randombytes_buf) and takes 16
 * bytes of its keystream per id, a block counter apart. Not for secrets:
 * session tokens and states keep using randombytes_buf.
 */
#ifndef HOST_REQUEST_ID_H
#define HOST_REQUEST_ID_H

#include "mm_id.h"

/* Writes a new request id and a NUL into out. Thread-safe (per-thread
 * state). */
void request_id_new(char out[MM_ID_LEN + 1]);

#endif
