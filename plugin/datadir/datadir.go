package datadir

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/pflag"
)

// Env names the environment variable that sets the data directory.
const Env = "SKIFF_DATA_DIR"

// ServerLogFile is the log skiff up and skiff server keep in their data
// directory besides writing it to standard error (skiff.log.1 is the one
// before the last rotation): cmd/skiff writes it, kubectl skiff logs reads
// it. It is named here, in a package with no dependencies of its own, so
// that the skiff binary need not link the plugin's commands for it.
const ServerLogFile = "skiff.log"

// Flag is the --data-dir flag of a command.
type Flag struct{ value string }

// AddFlag registers --data-dir on fs.
func (f *Flag) AddFlag(fs *pflag.FlagSet) {
	fs.StringVar(&f.value, "data-dir", "", "Skiff data directory holding node-token and kubeconfig (default: $"+Env+", else the directory of a kubeconfig written by skiff server, else ~/.skiff)")
}

// Resolve returns the data directory; kubeconfigFlag is the value of
// --kubeconfig ("" when not given).
func (f *Flag) Resolve(kubeconfigFlag string) (string, error) {
	return resolve(f.value, os.Getenv(Env), kubeconfigFlag, os.Getenv("KUBECONFIG"))
}

func resolve(flag, env, kubeconfigFlag, kubeconfigEnv string) (string, error) {
	if flag != "" {
		return filepath.Abs(flag)
	}
	if env != "" {
		return filepath.Abs(env)
	}
	kc := kubeconfigFlag
	if kc == "" && kubeconfigEnv != "" {
		kc = filepath.SplitList(kubeconfigEnv)[0]
	}
	if kc != "" {
		dir := filepath.Dir(kc)
		if _, err := os.Stat(filepath.Join(dir, "node-token")); err == nil {
			return filepath.Abs(dir)
		}
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("data directory: no --data-dir, $%s or home directory: %w", Env, err)
	}
	return filepath.Join(home, ".skiff"), nil
}
