package kubeconfig

import (
	"fmt"

	"k8s.io/client-go/tools/clientcmd"
)

// Target is the file --merge writes to: the one `kubectl config` writes
// to ($KUBECONFIG's first existing file, else ~/.kube/config).
func Target() string {
	return clientcmd.NewDefaultPathOptions().GetDefaultFilename()
}

// MergeFile does what `kubectl skiff kubeconfig --kubeconfig src --merge
// --context-name name` does, for `skiff up`'s offer: the current context
// of the kubeconfig at src, certificates inlined, goes into Target() under
// name, made current when setCurrent. It returns the file it wrote.
func MergeFile(src, name string, setCurrent bool) (string, error) {
	cfg, err := clientcmd.LoadFromFile(src)
	if err != nil {
		return "", fmt.Errorf("load %s: %w", src, err)
	}
	out, err := extract(cfg, name)
	if err != nil {
		return "", err
	}
	target := Target()
	return target, mergeInto(target, out, name, setCurrent)
}
