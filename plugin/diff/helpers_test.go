package diff

import (
	"testing"

	"sigs.k8s.io/yaml"
)

func yamlToJSON(t *testing.T, y string) []byte {
	t.Helper()
	j, err := yaml.YAMLToJSON([]byte(y))
	if err != nil {
		t.Fatal(err)
	}
	return j
}
