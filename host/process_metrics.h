/*
 * The standard process metrics every Prometheus client exports, read from
 * /proc at each scrape: process_cpu_seconds_total,
 * process_resident_memory_bytes, process_virtual_memory_bytes,
 * process_open_fds, process_max_fds, process_start_time_seconds.
 */
#ifndef HOST_PROCESS_METRICS_H
#define HOST_PROCESS_METRICS_H

/* Registers the families (after metrics_init). 0 or -1. */
int process_metrics_init(void) __attribute__((warn_unused_result));

#endif
