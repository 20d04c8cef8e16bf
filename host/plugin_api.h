/* The host API table handed to plugins at activation. */
#ifndef HOST_PLUGIN_API_H
#define HOST_PLUGIN_API_H

#include <mmplugin/plugin.h>

extern const struct mmplugin_host_api plugin_host_api;

#endif
