/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* The recorder's lifecycle, for record, top and profile:
 *
 *   recorder_open     check the input, open the BPF object, set its tunables and map sizes,
 *                     load it, attach what stays for the recorder's life (scheduler
 *                     tracepoints, native uprobes, the sampler)
 *   recorder_attach   one run: launch the command (held) or take -p PID, attach what this run
 *                     needs (PyEval_EvalCode for its interpreter, breakpoints by the plan for
 *                     this run's turn), then let the command go
 *   recorder_poll     events until the target exits, -d, a signal, or o->tick says stop
 *   recorder_detach   stop a launched command still running, drain the ring, its exit status
 *   recorder_finish   the run's data into its session, then the per-run state reset
 *                     (breakpoints, BPF maps of processes, threads and calls) for the next run
 *   recorder_close    everything goes
 *
 * A recorder is opened for one spec (o->ops) and one mode (launch or -p); profile attaches it
 * once per iteration, o->cmd and o->iteration changed in between. -errno everywhere; -EINVAL
 * is an input error (the caller's exit 2), err says why. */
#ifndef RAGD_BPFPROF_RECORDER_H
#define RAGD_BPFPROF_RECORDER_H

#include <stddef.h>
#include <linux/types.h>
#include "record.h"

struct recorder;

/* O stays the recorder's (read at every attach). Adds the spec's ops to S, which must be the
 * session of the first recorder_attach. */
int recorder_open(struct recorder **rp, struct record_opts *o, struct session *s, char *err,
		  size_t errlen);
/* S: the session this run records into (ops are added to a new one). */
int recorder_attach(struct recorder *r, struct session *s, char *err, size_t errlen);
/* 0, or -errno if the ring buffer failed (the recording ends there, like at the target's exit). */
int recorder_poll(struct recorder *r, char *err, size_t errlen);
void recorder_detach(struct recorder *r);
void recorder_finish(struct recorder *r);
/* Also kills a launched command that was never let go. NULL is fine. */
void recorder_close(struct recorder *r);

#endif
