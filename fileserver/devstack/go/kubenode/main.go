// Command kubenode is one multi-call binary for what a Kubernetes node runs:
// kubelet, kubeadm and kube-proxy. The kind node image built here copies it
// under those three names; linking them once compiles the shared packages
// once (the Go build cache shares them with the control plane's build too).
//
// It dispatches on the name it is called by, or on its first argument:
// `kubenode kubeadm version`.
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	_ "time/tzdata"

	"github.com/spf13/cobra"
	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"
	_ "k8s.io/component-base/metrics/prometheus/clientgo"
	_ "k8s.io/component-base/metrics/prometheus/version"
	proxy "k8s.io/kubernetes/cmd/kube-proxy/app"
	kubeadm "k8s.io/kubernetes/cmd/kubeadm/app"
	kubeadmerrors "k8s.io/kubernetes/cmd/kubeadm/app/util/errors"
	kubelet "k8s.io/kubernetes/cmd/kubelet/app"
)

var servers = map[string]func() *cobra.Command{
	"kubelet":    func() *cobra.Command { return kubelet.NewKubeletCommand(context.Background()) },
	"kube-proxy": proxy.NewProxyCommand,
}

func main() {
	name := filepath.Base(os.Args[0])
	if _, ok := servers[name]; !ok && name != "kubeadm" && len(os.Args) > 1 {
		name = os.Args[1]
		os.Args = append([]string{name}, os.Args[2:]...)
	}
	if name == "kubeadm" {
		kubeadmerrors.HandleError(kubeadm.Run())
		return
	}
	newCommand, ok := servers[name]
	if !ok {
		fmt.Fprintln(os.Stderr, "usage: kubenode {kubelet|kubeadm|kube-proxy} [flags]")
		os.Exit(2)
	}
	os.Exit(cli.Run(newCommand()))
}
