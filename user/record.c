// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* `record`: one run of the recorder (recorder.h) into a session. */
#include <errno.h>
#include "recorder.h"
#include "util.h"

int record_run(struct record_opts *o, struct session *s, char *err, size_t errlen)
{
	struct recorder *r;
	int e;

	e = recorder_open(&r, o, s, err, errlen);
	if (!e)
		e = recorder_attach(r, s, err, errlen);
	if (!e) {
		/* A ring buffer error ends the recording like the target's end: the session is kept. */
		recorder_poll(r, err, errlen);
		recorder_detach(r);
		recorder_finish(r);
	}
	recorder_close(r);
	if (e)
		iso8601_now(s->ended_at, sizeof(s->ended_at));
	return e == -EINVAL ? 2 : e ? 1 : 0;
}
