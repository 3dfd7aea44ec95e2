// Package waitstatus says in words how a process ended, from its wait
// status: "exit 2", "killed by SIGBUS".
package waitstatus
