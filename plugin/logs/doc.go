// Package logs is `kubectl skiff logs`: the logs of the local cluster's
// own processes, read from the data directory (plugin/datadir finds it).
//
// What exists on disk is what it reads: <data-dir>/nodes/<name>/agent.log
// of each agent `kubectl skiff nodes add` started (--component node
// NAME), and <data-dir>/etcd.log, the embedded etcd's own log (--component
// etcd). `skiff up` and `skiff server` (and the agent inside `skiff up`)
// log to standard error only; for them the command fails with
// ErrNoLogFile and says where their log goes and which logs there are,
// rather than printing something else.
//
// --tail N reads the last N lines from the end of the file; --follow then
// polls for appended lines, reads a truncated file again from its start
// and reopens a file replaced at the same path, until interrupted.
//
// Boundaries: reads files; no API calls.
package logs
