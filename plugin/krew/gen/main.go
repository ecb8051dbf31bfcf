package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"text/template"
	"time"
)

var platforms = [][2]string{{"linux", "amd64"}, {"linux", "arm64"}, {"darwin", "amd64"}, {"darwin", "arm64"}}

const manifest = `apiVersion: krew.googlecontainertools.github.com/v1alpha2
kind: Plugin
metadata:
  name: skiff
spec:
  version: {{ .Version }}
  homepage: https://github.com/skiff-dev/skiff
  shortDescription: Manage Skiff clusters and their GitOps sources
  description: |
    kubectl skiff manages a Skiff cluster (a Kubernetes-compatible cluster
    in one binary that runs pods on the local Docker engine) and its GitOps
    sources: the health of the control plane, etcd, nodes and sources in one
    screen; node agents added and removed on this host; Flux
    GitRepositories and Kustomizations listed, suspended, resumed and
    synced with a live progress line; what git would change, field by
    field (diff); git push to deploy set up in a repository (remote add,
    with a credential helper using the kubeconfig's token); the control
    plane's logs; the cluster's kubeconfig printed or merged as a context.
  caveats: |
    kubectl skiff nodes add needs the skiff binary next to kubectl-skiff or
    on PATH (or --skiff-bin). Shell completion through kubectl needs
    kubectl_complete-skiff on PATH, built by make build.
  platforms:
{{- range .Platforms }}
  - selector:
      matchLabels:
        os: {{ .OS }}
        arch: {{ .Arch }}
    uri: https://github.com/skiff-dev/skiff/releases/download/{{ $.Version }}/{{ .Archive }}
    sha256: {{ .SHA256 }}
    files:
    - from: kubectl-skiff
      to: .
    bin: kubectl-skiff
{{- end }}
`

type platform struct{ OS, Arch, Archive, SHA256 string }

func main() {
	version := flag.String("version", "v0.1.0", "release version, with its leading v")
	out := flag.String("out", "skiff.yaml", "manifest to write")
	dist := flag.String("dist", "bin/krew", "directory for the archives")
	flag.Parse()
	if err := run(*version, *out, *dist); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(version, out, dist string) error {
	if !strings.HasPrefix(version, "v") {
		return fmt.Errorf("-version %q: krew wants a leading v", version)
	}
	root, err := repoRoot()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dist, 0o755); err != nil {
		return err
	}
	var ps []platform
	for _, p := range platforms {
		bin := filepath.Join(dist, "kubectl-skiff_"+p[0]+"_"+p[1])
		// Reproducible: the same source gives the same archive digest.
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w -buildid= -X main.skiffVersion="+strings.TrimPrefix(version, "v"),
			"-o", mustAbs(bin), "./cmd/kubectl-skiff")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+p[0], "GOARCH="+p[1])
		if b, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("build %s/%s: %v\n%s", p[0], p[1], err, b)
		}
		exe, err := os.ReadFile(bin)
		if err != nil {
			return err
		}
		os.Remove(bin)
		archive := "kubectl-skiff_" + p[0] + "_" + p[1] + ".tar.gz"
		data, err := tarGz("kubectl-skiff", exe)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dist, archive), data, 0o644); err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		ps = append(ps, platform{OS: p[0], Arch: p[1], Archive: archive, SHA256: hex.EncodeToString(sum[:])})
		fmt.Printf("%s  %s\n", hex.EncodeToString(sum[:]), archive)
	}
	var b bytes.Buffer
	if err := template.Must(template.New("m").Parse(manifest)).Execute(&b, map[string]any{"Version": version, "Platforms": ps}); err != nil {
		return err
	}
	return os.WriteFile(out, b.Bytes(), 0o644)
}

// tarGz packs the executable with a fixed time and no owner, so the
// archive depends only on its contents.
func tarGz(name string, exe []byte) ([]byte, error) {
	var buf bytes.Buffer
	gz, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	gz.ModTime = time.Unix(0, 0)
	tw := tar.NewWriter(gz)
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o755, Size: int64(len(exe)), ModTime: time.Unix(0, 0), Format: tar.FormatPAX}); err != nil {
		return nil, err
	}
	if _, err := tw.Write(exe); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := gz.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func repoRoot() (string, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
	if err != nil {
		return "", fmt.Errorf("find the module root: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

func mustAbs(p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		return p
	}
	return a
}
