package services

import "syscall"

// lowerThreadPriority sets the calling OS thread's nice value (19 is the
// lowest priority: the thread still gets every idle cycle, but yields to
// any normal-priority thread that wants the core). On Linux, PRIO_PROCESS
// with a thread id applies to that thread only. Raising the nice value
// needs no privilege; a failure leaves the thread at normal priority, which
// is safe.
func lowerThreadPriority(nice int) {
	_ = syscall.Setpriority(syscall.PRIO_PROCESS, syscall.Gettid(), nice)
}
