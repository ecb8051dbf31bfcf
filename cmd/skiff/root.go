package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/version"
)

// Set at build time with -ldflags "-X main.skiffVersion=… -X main.gitCommit=…".
var (
	skiffVersion = "0.1.0"
	gitCommit    = ""
	buildDate    = ""
)

// kubeMinor is the Kubernetes minor version Skiff's API emulates. The
// kubectl on PATH in many setups (the gcloud dispatcher) picks its kubectl
// by this number, so it must name a kubectl that exists.
const kubeMinor = "33"

func versionInfo() version.Info {
	tree := "clean"
	if gitCommit == "" {
		tree = ""
	}
	return version.Info{
		Major:        "1",
		Minor:        kubeMinor,
		GitVersion:   "v1." + kubeMinor + ".0-skiff." + skiffVersion,
		GitCommit:    gitCommit,
		GitTreeState: tree,
		BuildDate:    buildDate,
		GoVersion:    runtime.Version(),
		Compiler:     runtime.Compiler,
		Platform:     runtime.GOOS + "/" + runtime.GOARCH,
	}
}

func run(args []string) int {
	root := &cobra.Command{
		Use:           "skiff",
		Short:         "A Kubernetes-compatible cluster on your Docker engine, with GitOps built in",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	var logLevel string
	root.PersistentFlags().StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn or error")
	root.AddCommand(newUpCommand(&logLevel), newServerCommand(&logLevel), newAgentCommand(&logLevel), newResetCommand(), newPauseCommand(), newVersionCommand())
	root.SetArgs(args)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "skiff:", err)
		return 1
	}
	return 0
}

func newLogger(level string, w io.Writer) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.ToUpper(level))); err != nil {
		l = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l}))
}

func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v := versionInfo()
			fmt.Fprintf(cmd.OutOrStdout(), "skiff %s (Kubernetes API %s, %s, %s)\n", skiffVersion, v.GitVersion, v.GoVersion, v.Platform)
			return nil
		},
	}
}
