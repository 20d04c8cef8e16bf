/*
 * Matching a URL path against a route pattern: literal segments and at most
 * one "{id}", which takes one non-empty segment. Shared by the host's route
 * table and the plugin's.
 */
#ifndef COMMON_PATH_PATTERN_H
#define COMMON_PATH_PATTERN_H

#include <stdbool.h>
#include <stddef.h>

/* True when path[0..len) matches pattern. The {id} segment (at most
 * param_max bytes, no NUL) is returned as a view in *param, *param_len. */
bool path_pattern_match(const char *pattern, const char *path, size_t len, size_t param_max,
			const char **param, size_t *param_len);

#endif
