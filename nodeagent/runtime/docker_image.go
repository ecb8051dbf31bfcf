package runtime

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strconv"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/distribution/reference"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/registry"
	"github.com/docker/docker/pkg/jsonmessage"
	units "github.com/docker/go-units"
)

// PauseImageRepo is the repository of the sandbox image; its tag is the
// first 12 hex digits of the pause binary's SHA-256, so a new binary makes
// a new image and every agent running the same binary on one engine shares
// one image.
const PauseImageRepo = "skiff-pause"

// EnsurePauseImage imports the sandbox image from the pause binary unless
// an image with its tag already exists. The image holds only the binary
// (as /skiff) and the empty directories a container needs; it is streamed
// to the engine, never held in memory.
//
// Two agents on one engine may both find the image missing and both
// import it: the later import takes the tag and the earlier image is
// removed (see removeUntaggedPauseImages), so the race costs time, not
// correctness.
func (d *Docker) EnsurePauseImage(ctx context.Context) (string, error) {
	d.pauseMu.Lock()
	defer d.pauseMu.Unlock()

	if d.pauseRef != "" {
		if _, err := d.client.ImageInspect(ctx, d.pauseRef); err == nil {
			return d.pauseRef, nil
		} else if !cerrdefs.IsNotFound(err) {
			return "", fmt.Errorf("pause image %s: %w", d.pauseRef, engineErr(err))
		}
	}
	f, err := os.Open(d.pauseBinary)
	if err != nil {
		return "", fmt.Errorf("pause image: %w", err)
	}
	// One open file for hashing and for the import, so that a binary
	// replaced on disk meanwhile cannot get a tag that does not match it.
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("pause image: %w", err)
	}
	if err := checkStatic(f); err != nil {
		return "", fmt.Errorf("pause image from %s: %w", d.pauseBinary, err)
	}
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, fi.Size())); err != nil {
		return "", fmt.Errorf("pause image: hash %s: %w", d.pauseBinary, err)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	ref := PauseImageRepo + ":" + sum[:12]
	d.pauseRef = ref
	if _, err := d.client.ImageInspect(ctx, ref); err == nil {
		return ref, nil
	} else if !cerrdefs.IsNotFound(err) {
		return "", fmt.Errorf("pause image %s: %w", ref, engineErr(err))
	}

	start := time.Now()
	labels := d.ownLabels()
	labels[labelPauseBinary] = sum
	changes := append([]string{`CMD ["/skiff","pause"]`, `ENTRYPOINT []`}, labelChanges(labels)...)
	if err := d.importImage(ctx, ref, changes, func(tw *tar.Writer) error {
		return writePauseRootFS(tw, io.NewSectionReader(f, 0, fi.Size()), fi.Size())
	}); err != nil {
		return "", fmt.Errorf("pause image %s: %w", ref, err)
	}
	d.removeUntaggedPauseImages(ctx, ref, sum)
	d.log.Info("pause image imported", "image", ref, "binary", d.pauseBinary, "bytes", fi.Size(), "took", time.Since(start).Round(time.Millisecond))
	return ref, nil
}

// labelPauseBinary holds the full SHA-256 of the binary a pause image was
// imported from.
const labelPauseBinary = "skiff.dev/pause-binary"

// removeUntaggedPauseImages removes the images of the same binary that
// lost the tag to a concurrent import (by another agent on the engine).
// Whichever importer finishes last sees every earlier one untagged, so no
// interleaving leaves an orphan, except one a container already uses,
// which the engine rightly refuses to remove.
func (d *Docker) removeUntaggedPauseImages(ctx context.Context, ref, sum string) {
	cur, err := d.client.ImageInspect(ctx, ref)
	if err != nil {
		return
	}
	list, err := d.client.ImageList(ctx, image.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("label", labelPauseBinary+"="+sum))})
	if err != nil {
		return
	}
	for _, im := range list {
		if im.ID == cur.ID || slices.Contains(im.RepoTags, ref) {
			continue
		}
		if _, err := d.client.ImageRemove(ctx, im.ID, image.RemoveOptions{}); err == nil {
			d.log.Info("removed a duplicate pause image", "image", ref, "id", im.ID)
		}
	}
}

// checkStatic refuses a dynamically linked binary: in the sandbox image
// there is no loader or libc, and the container would fail to start with
// an unhelpful "no such file or directory".
func checkStatic(f *os.File) error {
	ef, err := elf.NewFile(f)
	if err != nil {
		return fmt.Errorf("not an ELF executable: %w", err)
	}
	defer ef.Close()
	for _, p := range ef.Progs {
		if p.Type == elf.PT_INTERP {
			return errors.New("the binary is dynamically linked; build it with CGO_ENABLED=0")
		}
	}
	return nil
}

// writePauseRootFS writes the sandbox's root filesystem. /proc, /sys and
// /dev are mount points the engine needs; /etc receives hosts,
// resolv.conf and hostname bind mounts.
func writePauseRootFS(tw *tar.Writer, bin io.Reader, size int64) error {
	epoch := time.Unix(0, 0)
	dirs := []struct {
		name string
		mode int64
	}{{"dev/", 0o755}, {"etc/", 0o755}, {"proc/", 0o555}, {"sys/", 0o555}, {"tmp/", 0o1777}}
	for _, dir := range dirs {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: dir.name, Mode: dir.mode, ModTime: epoch}); err != nil {
			return err
		}
	}
	// A fixed mtime keeps the layer identical for an identical binary, so
	// concurrent imports of one binary share the stored layer.
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "skiff", Mode: 0o755, Size: size, ModTime: epoch}); err != nil {
		return err
	}
	if _, err := io.Copy(tw, bin); err != nil {
		return fmt.Errorf("copy the pause binary: %w", err)
	}
	return nil
}

// importImage streams a root filesystem written by fill to the engine
// (docker import) with the Dockerfile-style changes and tags it ref.
func (d *Docker) importImage(ctx context.Context, ref string, changes []string, fill func(*tar.Writer) error) error {
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		tw := tar.NewWriter(pw)
		err := fill(tw)
		if err == nil {
			err = tw.Close()
		}
		// Closing with an error aborts the upload, so the engine never
		// records a truncated image.
		pw.CloseWithError(err)
		done <- err
	}()
	body, err := d.client.ImageImport(ctx, image.ImportSource{Source: pr, SourceName: "-"}, ref, image.ImportOptions{Changes: changes})
	if err != nil {
		pr.CloseWithError(err)
		if ferr := <-done; ferr != nil && !errors.Is(ferr, io.ErrClosedPipe) && !errors.Is(ferr, err) {
			return fmt.Errorf("import: %w (writing the root filesystem: %v)", engineErr(err), ferr)
		}
		return fmt.Errorf("import: %w", engineErr(err))
	}
	defer body.Close()
	dec := json.NewDecoder(body)
	for {
		var m jsonmessage.JSONMessage
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			pr.CloseWithError(err)
			<-done
			return fmt.Errorf("import: read the engine's answer: %w", err)
		}
		if m.Error != nil {
			pr.CloseWithError(m.Error)
			<-done
			return fmt.Errorf("import: %w", m.Error)
		}
	}
	if err := <-done; err != nil {
		return fmt.Errorf("import: write the root filesystem: %w", err)
	}
	return nil
}

// labelChanges renders labels as Dockerfile LABEL instructions, sorted so
// that the image configuration is stable.
func labelChanges(labels map[string]string) []string {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		out = append(out, "LABEL "+strconv.Quote(k)+"="+strconv.Quote(labels[k]))
	}
	return out
}

// ImageStatus returns the local image ref names (a reference or an image
// ID), or ErrNotFound.
func (d *Docker) ImageStatus(ctx context.Context, ref string) (*Image, error) {
	if _, err := reference.ParseAnyReference(ref); err != nil {
		return nil, fmt.Errorf("image %q: %w: %v", ref, ErrInvalidImageName, err)
	}
	ii, err := d.client.ImageInspect(ctx, ref)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", ref, engineErr(err))
	}
	return &Image{ID: ii.ID, Tags: ii.RepoTags, RepoDigests: ii.RepoDigests, Size: ii.Size}, nil
}

// PullImage pulls ref from its registry. progress (if not nil) receives a
// line whenever a layer changes phase (waiting, downloading, extracting,
// complete) and the engine's summary, not every byte count, so the agent
// can turn lines into pod events without flooding the API.
func (d *Docker) PullImage(ctx context.Context, ref string, auth *Auth, progress func(string)) (*Image, error) {
	if _, err := reference.ParseNormalizedNamed(ref); err != nil {
		return nil, fmt.Errorf("pull %q: %w: %v", ref, ErrInvalidImageName, err)
	}
	var opts image.PullOptions
	if auth != nil {
		enc, err := registry.EncodeAuthConfig(registry.AuthConfig{
			Username:      auth.Username,
			Password:      auth.Password,
			Auth:          auth.Auth,
			ServerAddress: auth.ServerAddress,
			IdentityToken: auth.IdentityToken,
			RegistryToken: auth.RegistryToken,
		})
		if err != nil {
			return nil, fmt.Errorf("pull %s: encode credentials: %w", ref, err)
		}
		opts.RegistryAuth = enc
	}
	start := time.Now()
	body, err := d.client.ImagePull(ctx, ref, opts)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("pull %s: %w", ref, ctx.Err())
		}
		return nil, &typedError{kind: ErrImagePull, err: fmt.Errorf("pull %s: %w", ref, err)}
	}
	defer body.Close()
	if err := readPullStream(body, progress); err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("pull %s: %w", ref, ctx.Err())
		}
		return nil, &typedError{kind: ErrImagePull, err: fmt.Errorf("pull %s: %w", ref, err)}
	}
	img, err := d.ImageStatus(ctx, ref)
	if err != nil {
		return nil, fmt.Errorf("pull %s: %w", ref, err)
	}
	d.log.Info("image pulled", "image", ref, "id", img.ID, "took", time.Since(start).Round(time.Millisecond))
	return img, nil
}

// readPullStream reads the engine's JSON progress stream to its end and
// returns the first error the engine reports in it.
func readPullStream(r io.Reader, progress func(string)) error {
	phase := map[string]string{} // layer ID → last status reported
	dec := json.NewDecoder(r)
	for {
		var m jsonmessage.JSONMessage
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return fmt.Errorf("read the engine's progress: %w", err)
		}
		if m.Error != nil {
			return m.Error
		}
		if progress == nil || m.Status == "" {
			continue
		}
		if m.ID == "" {
			progress(m.Status)
			continue
		}
		if phase[m.ID] == m.Status {
			continue
		}
		phase[m.ID] = m.Status
		line := m.ID + ": " + m.Status
		if p := m.Progress; p != nil && p.Total > 0 {
			line += " (" + units.HumanSize(float64(p.Total)) + ")"
		}
		progress(line)
	}
}
