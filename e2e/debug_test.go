package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// TestKubectlDebugEphemeralContainers: `kubectl debug` adds an ephemeral
// container to a running pod through pods/ephemeralcontainers, with the
// stock kubectl 1.27, 1.32 and 1.33 against `skiff up` on Docker. With
// --target it sees the target container's processes; with -i its stdin
// and output reach the terminal; it runs once and is reported in
// status.ephemeralContainerStatuses; and it cannot be changed, removed
// or be privileged in a baseline namespace.
func TestKubectlDebugEphemeralContainers(t *testing.T) {
	s, cs, _ := startUp(t)
	img := busybox(t)
	ctx := context.Background()
	k := newKubectl(t, s, "1.32")
	// The app's process is easy to spot in the debugger's ps.
	kubectlOK(t, k, "run", "web", "--image="+img, "--", "sh", "-c", "trap 'exit 0' TERM; sleep 3601 & wait")
	kubectlOK(t, k, "wait", "--for=condition=Ready", "pod/web", "--timeout=120s")

	for _, minor := range []string{"1.27", "1.32", "1.33"} {
		t.Run("kubectl "+minor, func(t *testing.T) {
			k := newKubectl(t, s, minor)
			v := strings.ReplaceAll(minor, ".", "")
			ps := "ps-" + v
			kubectlOK(t, k, "debug", "web", "--image="+img, "--target=web", "-c", ps, "--", "ps")
			eventually(t, 60*time.Second, func() error {
				out, errOut, code := k.run("logs", "web", "-c", ps)
				if code != 0 || !strings.Contains(out, "sleep 3601") {
					return fmt.Errorf("logs -c %s: exit %d %q %q, want the target's sleep 3601", ps, code, out, errOut)
				}
				return nil
			})

			shell := "sh-" + v
			out, errOut, code := k.runOpenStdin("hello from stdin\n", "debug", "web", "-i", "--image="+img, "-c", shell, "--", "sh", "-c", "read line; echo got: $line")
			t.Logf("$ kubectl debug web -i -c %s …\n%s%s(exit %d)", shell, out, errOut, code)
			if code != 0 || !strings.Contains(out, "got: hello from stdin") {
				t.Fatalf("kubectl debug -i: exit %d, stdout %q, stderr %q", code, out, errOut)
			}
		})
	}

	t.Run("status, run once, immutable", func(t *testing.T) {
		var pod *corev1.Pod
		eventually(t, 60*time.Second, func() error {
			var err error
			if pod, err = cs.CoreV1().Pods("default").Get(ctx, "web", metav1.GetOptions{}); err != nil {
				return err
			}
			finished := 0
			for _, st := range pod.Status.EphemeralContainerStatuses {
				if st.State.Terminated != nil && st.State.Terminated.ExitCode == 0 && st.RestartCount == 0 {
					finished++
				}
			}
			if len(pod.Spec.EphemeralContainers) != 6 || finished != 6 {
				return fmt.Errorf("%d ephemeral containers, %d finished with exit 0: %+v", len(pod.Spec.EphemeralContainers), finished, pod.Status.EphemeralContainerStatuses)
			}
			return nil
		})
		if err := podReady(pod); err != nil || pod.Status.ContainerStatuses[0].RestartCount != 0 {
			t.Fatalf("the app after debugging: %v, restarts %d", err, pod.Status.ContainerStatuses[0].RestartCount)
		}

		changed := pod.DeepCopy()
		changed.Spec.EphemeralContainers[0].Image = "other:1"
		if _, err := cs.CoreV1().Pods("default").UpdateEphemeralContainers(ctx, "web", changed, metav1.UpdateOptions{}); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "may not be changed") {
			t.Errorf("changing an ephemeral container: %v, want 422 may not be changed", err)
		}
		removed := pod.DeepCopy()
		removed.Spec.EphemeralContainers = removed.Spec.EphemeralContainers[1:]
		if _, err := cs.CoreV1().Pods("default").UpdateEphemeralContainers(ctx, "web", removed, metav1.UpdateOptions{}); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "may not be removed") {
			t.Errorf("removing an ephemeral container: %v, want 422 may not be removed", err)
		}
		privileged := pod.DeepCopy()
		privileged.Spec.EphemeralContainers = append(privileged.Spec.EphemeralContainers, corev1.EphemeralContainer{EphemeralContainerCommon: corev1.EphemeralContainerCommon{
			Name: "root", Image: img, TerminationMessagePolicy: corev1.TerminationMessageReadFile,
			SecurityContext: &corev1.SecurityContext{Privileged: ptr.To(true)},
		}})
		if _, err := cs.CoreV1().Pods("default").UpdateEphemeralContainers(ctx, "web", privileged, metav1.UpdateOptions{}); !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "privileged") {
			t.Errorf("a privileged ephemeral container in a baseline namespace: %v, want 403 naming privileged", err)
		}
		// Through the pod itself, ephemeral containers do not change.
		viaPod := pod.DeepCopy()
		viaPod.Spec.EphemeralContainers = append(viaPod.Spec.EphemeralContainers, corev1.EphemeralContainer{EphemeralContainerCommon: corev1.EphemeralContainerCommon{
			Name: "sneaky", Image: img, TerminationMessagePolicy: corev1.TerminationMessageReadFile}})
		if _, err := cs.CoreV1().Pods("default").Update(ctx, viaPod, metav1.UpdateOptions{}); !apierrors.IsInvalid(err) {
			t.Errorf("adding an ephemeral container through a pod update: %v, want 422", err)
		}
	})
	kubectlOK(t, k, "delete", "pod", "web", "--wait=true")
}
