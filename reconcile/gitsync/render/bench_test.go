package render

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkRender500 renders a generated kustomization of 500 objects
// (250 Deployments and 250 Services in 50 files).
func BenchmarkRender500(b *testing.B) {
	root := b.TempDir()
	for f := 0; f < 50; f++ {
		var s string
		for i := 0; i < 5; i++ {
			n := fmt.Sprintf("app-%d-%d", f, i)
			s += fmt.Sprintf("---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: %s\nspec:\n  selector:\n    matchLabels: {app: %s}\n  template:\n    metadata:\n      labels: {app: %s}\n    spec:\n      containers:\n        - name: c\n          image: nginx:1.25\n", n, n, n)
			s += fmt.Sprintf("---\napiVersion: v1\nkind: Service\nmetadata:\n  name: %s\nspec:\n  selector: {app: %s}\n  ports: [{port: 80}]\n", n, n)
		}
		if err := os.WriteFile(filepath.Join(root, fmt.Sprintf("f%02d.yaml", f)), []byte(s), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r, err := Render(context.Background(), Options{Root: root, TargetNamespace: "bench", Images: []Image{{Name: "nginx", NewTag: "1.26"}}})
		if err != nil || len(r.Objects) != 500 {
			b.Fatalf("%v, %d objects", err, len(r.Objects))
		}
	}
}
