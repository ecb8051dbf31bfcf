// Package images makes the local images the e2e tests run, without any
// registry: the machines that run the tests have none. Each image is built
// once per engine and kept (it is a shared fixture, like a pulled image,
// not something a test creates and removes).
package images

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/jsonmessage"
)

// BusyboxRef is the image Busybox makes.
const BusyboxRef = "busybox:local"

// busyboxBinary is Debian's static busybox (package busybox-static).
const busyboxBinary = "/bin/busybox"

// FixtureLabel marks images built here, so a person can tell them from
// their own and remove them (docker image prune --filter label=...).
const FixtureLabel = "skiff.dev/test-fixture"

// Busybox returns BusyboxRef after making sure the local engine has it,
// importing it from the host's static busybox if it does not: bin/busybox
// with every applet linked to it, /etc/passwd and /etc/group with root and
// nobody (so id and whoami work), empty /tmp, and CMD ["sh"].
//
// Several test processes may call it at once; each may import the image,
// and the last import keeps the tag, which is harmless.
func Busybox(ctx context.Context) (string, error) {
	c, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return "", fmt.Errorf("docker client: %w", err)
	}
	defer c.Close()
	if _, err := c.ImageInspect(ctx, BusyboxRef); err == nil {
		return BusyboxRef, nil
	} else if !cerrdefs.IsNotFound(err) {
		return "", fmt.Errorf("inspect %s: %w", BusyboxRef, err)
	}

	if _, err := os.Stat(busyboxBinary); err != nil {
		return "", fmt.Errorf("building %s needs a static busybox at %s: apt-get install busybox-static (%w)", BusyboxRef, busyboxBinary, err)
	}
	out, err := exec.CommandContext(ctx, busyboxBinary, "--list").Output()
	if err != nil {
		return "", fmt.Errorf("%s --list: %w", busyboxBinary, err)
	}
	applets := strings.Fields(string(out))
	if len(applets) == 0 {
		return "", fmt.Errorf("%s --list printed no applets", busyboxBinary)
	}

	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(writeBusyboxRootFS(pw, applets)) }()
	defer pr.Close()
	body, err := c.ImageImport(ctx, image.ImportSource{Source: pr, SourceName: "-"}, BusyboxRef, image.ImportOptions{
		Changes: []string{`CMD ["sh"]`, `LABEL "` + FixtureLabel + `"="busybox"`},
	})
	if err != nil {
		return "", fmt.Errorf("import %s: %w", BusyboxRef, err)
	}
	defer body.Close()
	dec := json.NewDecoder(body)
	for {
		var m jsonmessage.JSONMessage
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return "", fmt.Errorf("import %s: %w", BusyboxRef, err)
		}
		if m.Error != nil {
			return "", fmt.Errorf("import %s: %w", BusyboxRef, m.Error)
		}
	}
	return BusyboxRef, nil
}

// writeBusyboxRootFS writes the image's root filesystem as a tar stream,
// reading the busybox binary from disk as it goes.
func writeBusyboxRootFS(w io.Writer, applets []string) error {
	f, err := os.Open(busyboxBinary)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	now := time.Now()
	tw := tar.NewWriter(w)
	for _, d := range []struct {
		name string
		mode int64
	}{{"bin/", 0o755}, {"etc/", 0o755}, {"root/", 0o700}, {"tmp/", 0o1777}} {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d.name, Mode: d.mode, ModTime: now}); err != nil {
			return err
		}
	}
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "bin/busybox", Mode: 0o755, Size: fi.Size(), ModTime: now}); err != nil {
		return err
	}
	if _, err := io.Copy(tw, f); err != nil {
		return err
	}
	for _, a := range applets {
		if a == "busybox" || strings.Contains(a, "/") {
			continue
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: "bin/" + a, Linkname: "busybox", Mode: 0o777, ModTime: now}); err != nil {
			return err
		}
	}
	files := map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
		"etc/group":  "root:x:0:\nnobody:x:65534:\n",
	}
	for _, name := range []string{"etc/passwd", "etc/group"} {
		body := []byte(files[name])
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(body)), ModTime: now}); err != nil {
			return err
		}
		if _, err := io.Copy(tw, bytes.NewReader(body)); err != nil {
			return err
		}
	}
	return tw.Close()
}
