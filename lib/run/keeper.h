/* keeper.h - the container's PID 1 (DESIGN.md §3), internal to lib. */
#ifndef LABRUN_KEEPER_H
#define LABRUN_KEEPER_H

#include <signal.h>

#include "container.h"
#include "error.h"

/* What the keeper tells the launcher, once, on one pipe, before it exits. */
enum lr_report_kind {
	LR_REPORT_EXITED = 1,	/* wait_status is the job's */
	LR_REPORT_SETUP_FAILED, /* labrun failed: msg says why (exit 125) */
	LR_REPORT_EXEC_FAILED,	/* the job could not be executed: 126/127 */
	LR_REPORT_STOPPED,	/* the job stopped (wait_status): not the last
				   report; the launcher stops itself in turn */
};

struct lr_report {
	int kind;
	int wait_status;
	int code;
	char msg[LR_ERROR_MSG_MAX];
};

enum { LR_ETC_PASSWD, LR_ETC_GROUP, LR_ETC_HOSTS, LR_ETC_RESOLV, LR_ETC_FILES };
#define LR_HOST_ETC_MAX (64 * 1024)

struct lr_keeper_plan {
	const struct lr_container_spec *spec;
	const int *bind_trees;	 /* per spec->binds: detached tree, or -1 when skipped */
	int writable_tree;	 /* --writable DIR as a detached tree, or -1 */
	int console_tree;	 /* the container's terminal, for /dev/console, or -1 */
	int tty_fd;		 /* launcher: which of fds 0..2 is the pty (pty.h) the
				    keeper makes its session's terminal, or -1 */
	int report_fd;		 /* write end, to the launcher */
	int alive_fd;		 /* read end; hangs up when the launcher dies */
	int ready_fd;		 /* read end; a byte when the layers are mounted */
	sigset_t job_mask;	 /* the signal mask labrun was started with */
	const sigset_t *forward; /* the signals the keeper passes on to the job */
	/* The image's passwd and group and the host's hosts and resolv.conf,
	 * in that order (LR_ETC_*), NULL when absent. */
	const char *etc[LR_ETC_FILES];
};

/* Runs in the keeper, PID 1 of the new pid namespace; never returns. */
void lr_keeper_main(const struct lr_keeper_plan *plan) __attribute__((noreturn));

#endif
