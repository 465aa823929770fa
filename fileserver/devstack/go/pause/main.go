// Command pause holds a pod's namespaces open: the sandbox container of every pod. Written
// here (the upstream one is a few lines of C in Kubernetes' build/pause): it sleeps until
// SIGINT or SIGTERM and, as PID 1 of the pod, reaps any orphaned child.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	signals := make(chan os.Signal, 4)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for sig := range signals {
		if sig == syscall.SIGCHLD {
			for {
				var status syscall.WaitStatus
				pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil)
				if pid <= 0 || err != nil {
					break
				}
			}
			continue
		}
		os.Exit(0)
	}
}
