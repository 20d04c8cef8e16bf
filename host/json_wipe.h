/*
 * jansson's memory is wiped when jansson frees it: the strings it copies
 * (json_string of a token), the buffers json_dumps grows and drops, the
 * objects of a parsed answer. Whatever the host or a plugin hands jansson
 * may be a secret, and freed memory is what a later bug or a core file
 * shows.
 *
 * jansson is one shared library for the whole process (the host and every
 * plugin that links it dynamically), with one pair of allocation
 * functions: the host sets them once, before any other thread starts, and
 * nobody else may change them. Allocation stays malloc(), so memory
 * jansson returns (json_dumps) is still released with free(): callers
 * wipe such text themselves when it may hold a secret.
 */
#ifndef HOST_JSON_WIPE_H
#define HOST_JSON_WIPE_H

/* Makes jansson wipe each block before freeing it. Call once, first thing
 * in main(). */
void json_wipe_install(void);

#endif
