package diff

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

func TestUnifiedOneChange(t *testing.T) {
	a := "a\nb\nc\nd\ne\nf\ng\nh\ni\n"
	b := "a\nb\nc\nd\nE\nf\ng\nh\ni\n"
	var out bytes.Buffer
	if err := writeUnified(&out, a, b, 3); err != nil {
		t.Fatal(err)
	}
	want := "@@ -2,7 +2,7 @@\n b\n c\n d\n-e\n+E\n f\n g\n h\n"
	if out.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", out.String(), want)
	}
}

func TestUnifiedSeparateHunksAndEmptySides(t *testing.T) {
	var lines []string
	for i := 1; i <= 20; i++ {
		lines = append(lines, strconv.Itoa(i))
	}
	a := strings.Join(lines, "\n") + "\n"
	changed := append([]string(nil), lines...)
	changed[1], changed[17] = "two", "eighteen"
	var out bytes.Buffer
	if err := writeUnified(&out, a, strings.Join(changed, "\n")+"\n", 3); err != nil {
		t.Fatal(err)
	}
	want := "@@ -1,5 +1,5 @@\n 1\n-2\n+two\n 3\n 4\n 5\n@@ -15,6 +15,6 @@\n 15\n 16\n 17\n-18\n+eighteen\n 19\n 20\n"
	if out.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", out.String(), want)
	}
	out.Reset()
	_ = writeUnified(&out, "", "x\ny\n", 3)
	if out.String() != "@@ -0,0 +1,2 @@\n+x\n+y\n" {
		t.Errorf("all added: %q", out.String())
	}
	out.Reset()
	_ = writeUnified(&out, "x\n", "", 3)
	if out.String() != "@@ -1 +0,0 @@\n-x\n" {
		t.Errorf("all removed: %q", out.String())
	}
	out.Reset()
	_ = writeUnified(&out, a, a, 3)
	if out.Len() != 0 {
		t.Errorf("equal inputs: %q", out.String())
	}
}

// TestLineDiffRandom checks on random inputs that the script turns a into
// b and is no longer than needed for the common lines kept.
func TestLineDiffRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	gen := func() []string {
		n := r.IntN(30)
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprint(r.IntN(5))
		}
		return out
	}
	for i := 0; i < 500; i++ {
		a, b := gen(), gen()
		ops := lineDiff(a, b)
		var gotA, gotB []string
		same := 0
		for _, o := range ops {
			if o.kind != opIns {
				gotA = append(gotA, o.line)
			}
			if o.kind != opDel {
				gotB = append(gotB, o.line)
			}
			if o.kind == opEqual {
				same++
			}
		}
		if strings.Join(gotA, ",") != strings.Join(a, ",") || strings.Join(gotB, ",") != strings.Join(b, ",") {
			t.Fatalf("script does not rebuild the inputs: %v %v → %v", a, b, ops)
		}
		if lcs := lcsLen(a, b); same != lcs {
			t.Fatalf("kept %d common lines, the longest common subsequence has %d: %v %v", same, lcs, a, b)
		}
	}
}

func lcsLen(a, b []string) int {
	dp := make([][]int, len(a)+1)
	for i := range dp {
		dp[i] = make([]int, len(b)+1)
	}
	for i := len(a) - 1; i >= 0; i-- {
		for j := len(b) - 1; j >= 0; j-- {
			if a[i] == b[j] {
				dp[i][j] = dp[i+1][j+1] + 1
			} else {
				dp[i][j] = max(dp[i+1][j], dp[i][j+1])
			}
		}
	}
	return dp[0][0]
}
