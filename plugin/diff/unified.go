package diff

import (
	"fmt"
	"io"
	"strings"
)

// The line diff is Myers' O(ND) algorithm ("An O(ND) Difference
// Algorithm and Its Variations", 1986): manifests are short and differ in
// a few lines, so D is small. github.com/pmezard/go-difflib is in the
// module graph (indirectly, through testify) and could serve instead; its
// matcher (Ratcliff/Obershelp) groups hunks differently from kubectl diff's
// diff -u, which this output follows.

type opKind byte

const (
	opEqual opKind = ' '
	opDel   opKind = '-'
	opIns   opKind = '+'
)

type op struct {
	kind opKind
	line string
}

// lineDiff returns the edit script turning a into b.
func lineDiff(a, b []string) []op {
	n, m := len(a), len(b)
	max := n + m
	if max == 0 {
		return nil
	}
	off := max
	v := make([]int, 2*max+2)
	var trace [][]int
	for d := 0; d <= max; d++ {
		trace = append(trace, append([]int(nil), v...))
		for k := -d; k <= d; k += 2 {
			var x int
			if k == -d || (k != d && v[off+k-1] < v[off+k+1]) {
				x = v[off+k+1] // down: an insertion
			} else {
				x = v[off+k-1] + 1 // right: a deletion
			}
			y := x - k
			for x < n && y < m && a[x] == b[y] {
				x, y = x+1, y+1
			}
			v[off+k] = x
			if x >= n && y >= m {
				return backtrack(a, b, trace, d, off)
			}
		}
	}
	panic("unreachable: the script is at most n+m edits")
}

// backtrack walks the saved frontiers from the end to the start.
func backtrack(a, b []string, trace [][]int, dEnd, off int) []op {
	x, y := len(a), len(b)
	var rev []op
	for d := dEnd; d > 0; d-- {
		v := trace[d]
		k := x - y
		var prevK int
		if k == -d || (k != d && v[off+k-1] < v[off+k+1]) {
			prevK = k + 1
		} else {
			prevK = k - 1
		}
		prevX := v[off+prevK]
		prevY := prevX - prevK
		for x > prevX && y > prevY {
			x, y = x-1, y-1
			rev = append(rev, op{opEqual, a[x]})
		}
		if x == prevX {
			y--
			rev = append(rev, op{opIns, b[y]})
		} else {
			x--
			rev = append(rev, op{opDel, a[x]})
		}
	}
	for x > 0 && y > 0 {
		x, y = x-1, y-1
		rev = append(rev, op{opEqual, a[x]})
	}
	out := make([]op, len(rev))
	for i, o := range rev {
		out[len(rev)-1-i] = o
	}
	return out
}

// splitLines splits text into lines without their newlines.
func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

// writeUnified writes the hunks of a unified diff of a and b with context
// lines around each change (after the --- and +++ lines, which the caller
// writes). It writes nothing when a and b are equal.
func writeUnified(w io.Writer, a, b string, context int) error {
	ops := lineDiff(splitLines(a), splitLines(b))
	// Group the changes into hunks: changes closer than 2*context lines
	// share one.
	type span struct{ start, end int } // indexes into ops, end exclusive
	var hunks []span
	for i := 0; i < len(ops); i++ {
		if ops[i].kind == opEqual {
			continue
		}
		start := max(i-context, 0)
		j := i
		for j < len(ops) {
			if ops[j].kind != opEqual {
				j++
				continue
			}
			run := j
			for run < len(ops) && ops[run].kind == opEqual {
				run++
			}
			if run == len(ops) || run-j > 2*context {
				break
			}
			j = run
		}
		end := min(j+context, len(ops))
		if n := len(hunks); n > 0 && start <= hunks[n-1].end {
			hunks[n-1].end = end
		} else {
			hunks = append(hunks, span{start, end})
		}
		i = j
	}
	// Line numbers: count each side up to each hunk.
	aLine, bLine, pos := 1, 1, 0
	for _, h := range hunks {
		for ; pos < h.start; pos++ {
			aLine, bLine = advance(ops[pos].kind, aLine, bLine)
		}
		aCount, bCount := 0, 0
		for _, o := range ops[h.start:h.end] {
			if o.kind != opIns {
				aCount++
			}
			if o.kind != opDel {
				bCount++
			}
		}
		if _, err := fmt.Fprintf(w, "@@ -%s +%s @@\n", hunkRange(aLine, aCount), hunkRange(bLine, bCount)); err != nil {
			return err
		}
		for _, o := range ops[h.start:h.end] {
			if _, err := fmt.Fprintf(w, "%c%s\n", o.kind, o.line); err != nil {
				return err
			}
		}
		for ; pos < h.end; pos++ {
			aLine, bLine = advance(ops[pos].kind, aLine, bLine)
		}
	}
	return nil
}

func advance(k opKind, a, b int) (int, int) {
	switch k {
	case opEqual:
		return a + 1, b + 1
	case opDel:
		return a + 1, b
	}
	return a, b + 1
}

// hunkRange is GNU diff's: "start,count", "start" when count is 1, and
// the line before when the range is empty.
func hunkRange(start, count int) string {
	switch count {
	case 0:
		return fmt.Sprintf("%d,0", start-1)
	case 1:
		return fmt.Sprintf("%d", start)
	}
	return fmt.Sprintf("%d,%d", start, count)
}
