#include "process_metrics.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "metrics.h"
#include "banned.h"

struct proc_stat {
	double cpu_s;
	double start_s; /* since the epoch */
	double vsize;
	double rss;
};

/* Reads a small file whole (NUL-terminated) into buf; its length or -1. */
static ssize_t read_small(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t got = 0;
	ssize_t n;

	if (fd < 0)
		return -1;
	while (got + 1 < cap && (n = read(fd, buf + got, cap - 1 - got)) > 0)
		got += (size_t)n;
	close(fd);
	buf[got] = '\0';
	return (ssize_t)got;
}

/* The system's boot time, in seconds since the epoch (/proc/stat's btime
 * line, after the per-CPU and interrupt lines, which may be long). Read
 * once: it does not change. Only the scrape thread calls it. */
static double boot_time(void)
{
	static double btime = -1;
	char *line = NULL;
	size_t cap = 0;
	FILE *f;

	if (btime >= 0)
		return btime;
	f = fopen("/proc/stat", "re");
	if (!f)
		return 0;
	while (getline(&line, &cap, f) > 0) {
		if (strncmp(line, "btime ", 6) == 0) {
			btime = strtod(line + 6, NULL);
			break;
		}
	}
	free(line);
	fclose(f);
	return btime >= 0 ? btime : 0;
}

/* /proc/self/stat, fields 14 (utime), 15 (stime), 22 (starttime), 23
 * (vsize), 24 (rss): counted after the command name, which may hold
 * spaces and parentheses. */
static bool read_stat(struct proc_stat *out)
{
	char buf[1024];
	double ticks = (double)sysconf(_SC_CLK_TCK), fields[25] = { 0 };
	const char *p;
	int i = 3;

	if (read_small("/proc/self/stat", buf, sizeof(buf)) <= 0 || !(p = strrchr(buf, ')')))
		return false;
	p += 2; /* ") " */
	while (*p && i <= 24) {
		char *end;
		fields[i] = strtod(p, &end);
		if (end == p)
			fields[i] = 0; /* the state letter */
		p = strchr(p, ' ');
		if (!p)
			break;
		p++;
		i++;
	}
	if (i < 24 || ticks <= 0)
		return false;
	out->cpu_s = (fields[14] + fields[15]) / ticks;
	out->start_s = boot_time() + fields[22] / ticks;
	out->vsize = fields[23];
	out->rss = fields[24] * (double)sysconf(_SC_PAGESIZE);
	return true;
}

enum proc_field { F_CPU, F_RSS, F_VSIZE, F_START };

static void render_stat(struct metrics_buf *b, void *arg)
{
	enum proc_field f = (enum proc_field)(size_t)arg;
	static const char *const names[] = {
		"process_cpu_seconds_total",
		"process_resident_memory_bytes",
		"process_virtual_memory_bytes",
		"process_start_time_seconds",
	};
	struct proc_stat st;
	double v;

	if (!read_stat(&st))
		return;
	v = f == F_CPU ? st.cpu_s : f == F_RSS ? st.rss : f == F_VSIZE ? st.vsize : st.start_s;
	metrics_put_sample(b, names[f], NULL, "", v);
}

static void render_open_fds(struct metrics_buf *b, void *arg)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	double n = 0;

	(void)arg;
	if (!d)
		return;
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	metrics_put_sample(b, "process_open_fds", NULL, "", n - 1); /* not opendir's own */
}

static void render_max_fds(struct metrics_buf *b, void *arg)
{
	struct rlimit rl;

	(void)arg;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		metrics_put_sample(b, "process_max_fds", NULL, "", (double)rl.rlim_cur);
}

int process_metrics_init(void)
{
	if (metrics_register_custom("process_cpu_seconds_total",
				    "Total user and system CPU time spent in seconds.",
				    METRIC_COUNTER, render_stat, (void *)(size_t)F_CPU) != 0 ||
	    metrics_register_custom("process_resident_memory_bytes",
				    "Resident memory size in bytes.", METRIC_GAUGE, render_stat,
				    (void *)(size_t)F_RSS) != 0 ||
	    metrics_register_custom("process_virtual_memory_bytes", "Virtual memory size in bytes.",
				    METRIC_GAUGE, render_stat, (void *)(size_t)F_VSIZE) != 0 ||
	    metrics_register_custom("process_start_time_seconds",
				    "Start time of the process since unix epoch in seconds.",
				    METRIC_GAUGE, render_stat, (void *)(size_t)F_START) != 0 ||
	    metrics_register_custom("process_open_fds", "Number of open file descriptors.",
				    METRIC_GAUGE, render_open_fds, NULL) != 0 ||
	    metrics_register_custom("process_max_fds", "Maximum number of open file descriptors.",
				    METRIC_GAUGE, render_max_fds, NULL) != 0)
		return -1;
	return 0;
}
