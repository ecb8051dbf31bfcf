package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestServerSideApply drives `kubectl apply --server-side` of the oldest
// and newest supported kubectl: create, a second manager's conflict and
// its forced takeover, server dry run, `kubectl diff --server-side`, the
// migration from client-side apply, and the merge of two managers' parts
// of one Deployment.
func TestServerSideApply(t *testing.T) {
	s := startServer(t, "--controllers=*,-deployment,-replicaset")
	for _, minor := range []string{"1.27", "1.33"} {
		t.Run(minor, func(t *testing.T) {
			k := newKubectl(t, s, minor)
			ns := "ssa-" + strings.ReplaceAll(minor, ".", "-")
			k.must("create", "namespace", ns)
			serverSideApplySuite(t, k, ns)
		})
	}
}

// applyObject is what the suite reads back: data and field owners.
type applyObject struct {
	Metadata metav1.ObjectMeta `json:"metadata"`
	Data     map[string]string `json:"data"`
}

func serverSideApplySuite(t *testing.T, k *kubectl, ns string) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cm := func(name, key, value string) string {
		return write(name+"-"+value+".yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: "+name+"\ndata:\n  "+key+": "+value+"\n")
	}
	get := func(name string) applyObject {
		t.Helper()
		var o applyObject
		out := k.must("get", "cm", name, "-n", ns, "-o", "json", "--show-managed-fields")
		if err := json.Unmarshal([]byte(out), &o); err != nil {
			t.Fatalf("decode %s: %v", out, err)
		}
		return o
	}
	owner := func(o applyObject, field string) []string {
		var managers []string
		for _, e := range o.Metadata.ManagedFields {
			if e.FieldsV1 != nil && strings.Contains(string(e.FieldsV1.Raw), `"f:`+field+`"`) {
				managers = append(managers, e.Manager+"/"+string(e.Operation))
			}
		}
		return managers
	}

	// Create.
	out := k.must("apply", "--server-side", "-n", ns, "-f", cm("ssa", "color", "blue"))
	if strings.TrimSpace(out) != "configmap/ssa serverside-applied" {
		t.Errorf("apply --server-side (create) said %q", out)
	}
	o := get("ssa")
	if o.Data["color"] != "blue" || strings.Join(owner(o, "color"), ",") != "kubectl/Apply" {
		t.Fatalf("after create: data %v, color owned by %v", o.Data, owner(o, "color"))
	}
	rv := o.Metadata.ResourceVersion
	// Applying the same again is a no-op.
	k.must("apply", "--server-side", "-n", ns, "-f", cm("ssa", "color", "blue"))
	if got := get("ssa").Metadata.ResourceVersion; got != rv {
		t.Errorf("unchanged apply wrote a new revision: %s → %s", rv, got)
	}

	// A second manager wanting another value conflicts…
	red := cm("ssa", "color", "red")
	stdout, stderr, code := k.run("apply", "--server-side", "--field-manager=other", "-n", ns, "-f", red)
	if code == 0 || !strings.Contains(stderr, `Apply failed with 1 conflict: conflict with "kubectl": .data.color`) {
		t.Fatalf("conflicting apply: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	if got := get("ssa").Data["color"]; got != "blue" {
		t.Errorf("a refused apply changed data.color to %q", got)
	}
	// …unless it forces.
	k.must("apply", "--server-side", "--field-manager=other", "--force-conflicts", "-n", ns, "-f", red)
	o = get("ssa")
	if o.Data["color"] != "red" || strings.Join(owner(o, "color"), ",") != "other/Apply" {
		t.Errorf("after --force-conflicts: data %v, color owned by %v", o.Data, owner(o, "color"))
	}

	// Server dry run answers without writing.
	green := cm("ssa", "color", "green")
	out = k.must("apply", "--server-side", "--field-manager=other", "--dry-run=server", "-n", ns, "-f", green)
	if strings.TrimSpace(out) != "configmap/ssa serverside-applied (server dry run)" {
		t.Errorf("apply --dry-run=server said %q", out)
	}
	if got := get("ssa").Data["color"]; got != "red" {
		t.Errorf("dry run changed data.color to %q", got)
	}

	// diff --server-side shows what an apply would change (exit 1), and
	// nothing (exit 0) when it would change nothing.
	stdout, stderr, code = k.run("diff", "--server-side", "--field-manager=other", "-n", ns, "-f", green)
	if code != 1 || !strings.Contains(stdout, "-  color: red") || !strings.Contains(stdout, "+  color: green") {
		t.Errorf("diff --server-side: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	stdout, stderr, code = k.run("diff", "--server-side", "--field-manager=other", "-n", ns, "-f", red)
	if code != 0 || stdout != "" {
		t.Errorf("diff --server-side of the live state: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	if got := get("ssa").Data["color"]; got != "red" {
		t.Errorf("diff changed data.color to %q", got)
	}

	// A Service whose ports leave protocol out (the API defaults it to
	// TCP): a second apply must match the stored ports by their
	// (port, protocol) key, not see new ones. Server-side apply takes the
	// key's default from the schema, as upstream.
	svc := write("svc.yaml", "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  selector: {app: web}\n  ports:\n  - {name: http, port: 80, targetPort: 8080}\n  - {name: https, port: 443, targetPort: 8443}\n")
	for i := 0; i < 2; i++ {
		if _, stderr, code := k.run("apply", "--server-side", "-n", ns, "-f", svc); code != 0 {
			t.Fatalf("apply --server-side of a Service without protocols, #%d: exit %d: %s", i+1, code, stderr)
		}
	}

	// Client-side apply, then server-side apply of a changed manifest:
	// kubectl's own manager takes over what client-side apply set, with
	// no conflict, and the last-applied annotation follows.
	k.must("apply", "-n", ns, "-f", cm("migrate", "size", "small"))
	if got := owner(get("migrate"), "size"); strings.Join(got, ",") != "kubectl-client-side-apply/Update" {
		t.Fatalf("after client-side apply, size owned by %v", got)
	}
	k.must("apply", "--server-side", "-n", ns, "-f", cm("migrate", "size", "large"))
	o = get("migrate")
	if o.Data["size"] != "large" || strings.Join(owner(o, "size"), ",") != "kubectl/Apply" {
		t.Errorf("after migrating to server-side apply: data %v, size owned by %v", o.Data, owner(o, "size"))
	}
	if la := o.Metadata.Annotations["kubectl.kubernetes.io/last-applied-configuration"]; !strings.Contains(la, `"size":"large"`) {
		t.Errorf("last-applied annotation after server-side apply: %q", la)
	}
	// And back: client-side apply still works on the object.
	k.must("apply", "-n", ns, "-f", cm("migrate", "size", "medium"))
	if got := get("migrate").Data["size"]; got != "medium" {
		t.Errorf("client-side apply after server-side apply: size %q", got)
	}

	// Two managers own different containers of one Deployment; the list
	// merges by container name.
	web := write("web.yaml", `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx:1.27
`)
	sidecar := write("sidecar.yaml", `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      containers:
      - name: proxy
        image: envoy:1.30
`)
	k.must("apply", "--server-side", "-n", ns, "-f", web)
	k.must("apply", "--server-side", "--field-manager=mesh", "-n", ns, "-f", sidecar)
	names := k.must("get", "deploy", "web", "-n", ns, "-o", "jsonpath={.spec.template.spec.containers[*].name}")
	if names != "web proxy" {
		t.Errorf("containers after two managers applied: %q, want \"web proxy\"", names)
	}
	// Changing kubectl's manifest leaves the mesh's container alone.
	webYAML, _ := os.ReadFile(web)
	write("web.yaml", strings.Replace(string(webYAML), "nginx:1.27", "nginx:1.28", 1))
	k.must("apply", "--server-side", "-n", ns, "-f", web)
	images := k.must("get", "deploy", "web", "-n", ns, "-o", "jsonpath={.spec.template.spec.containers[*].image}")
	if images != "nginx:1.28 envoy:1.30" {
		t.Errorf("images after changing the first manifest: %q, want \"nginx:1.28 envoy:1.30\"", images)
	}
}
