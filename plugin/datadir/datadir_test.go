package datadir

import (
	"os"
	"path/filepath"
	"testing"
)

func TestResolveOrder(t *testing.T) {
	server := t.TempDir() // a directory skiff server wrote
	if err := os.WriteFile(filepath.Join(server, "node-token"), []byte("t"), 0o600); err != nil {
		t.Fatal(err)
	}
	other := t.TempDir() // a kubeconfig that is not skiff's
	home, _ := os.UserHomeDir()
	for _, tc := range []struct {
		name                     string
		flag, env, kcFlag, kcEnv string
		want                     string
	}{
		{name: "flag wins", flag: "/x", env: "/y", kcFlag: filepath.Join(server, "kubeconfig"), want: "/x"},
		{name: "env next", env: "/y", kcFlag: filepath.Join(server, "kubeconfig"), want: "/y"},
		{name: "skiff kubeconfig by flag", kcFlag: filepath.Join(server, "kubeconfig"), want: server},
		{name: "skiff kubeconfig first of KUBECONFIG", kcEnv: filepath.Join(server, "kubeconfig") + string(os.PathListSeparator) + "/nope", want: server},
		{name: "foreign kubeconfig", kcFlag: filepath.Join(other, "config"), want: filepath.Join(home, ".skiff")},
		{name: "nothing", want: filepath.Join(home, ".skiff")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := resolve(tc.flag, tc.env, tc.kcFlag, tc.kcEnv)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}
