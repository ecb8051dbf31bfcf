package proxy

import (
	"bufio"
	"bytes"
	"slices"
	"strings"
)

// hostTable is what iptables-save shows of one table, as far as one
// prefix's chains are concerned.
type hostTable struct {
	// Chains are the chains under the prefix.
	Chains map[string]bool
	// Jumps are the rules in built-in chains that jump into a chain under
	// the prefix, once per occurrence, in order.
	Jumps []jumpRule
}

// parseSave reads the iptables-save output of one table and keeps the
// chains under prefix (prefix+"-…") and the built-in rules jumping there.
func parseSave(table string, data []byte, prefix string) hostTable {
	ht := hostTable{Chains: map[string]bool{}}
	ours := func(chain string) bool { return strings.HasPrefix(chain, prefix+"-") }
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	inTable := false
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "*"):
			inTable = line[1:] == table
		case !inTable:
		case strings.HasPrefix(line, ":"):
			name, _, _ := strings.Cut(line[1:], " ")
			if ours(name) {
				ht.Chains[name] = true
			}
		case strings.HasPrefix(line, "-A "):
			chain, spec, _ := strings.Cut(line[3:], " ")
			if isBuiltin(table, chain) && ours(jumpTarget(spec)) {
				ht.Jumps = append(ht.Jumps, jumpRule{Table: table, Chain: chain, Spec: spec})
			}
		}
	}
	return ht
}

// jumpTarget returns the chain a rule spec jumps (-j) or goes (-g) to.
func jumpTarget(spec string) string {
	f := strings.Fields(spec)
	for i := 0; i+1 < len(f); i++ {
		if f[i] == "-j" || f[i] == "-g" {
			return f[i+1]
		}
	}
	return ""
}

// restoreWriter builds iptables-restore --noflush input. With --noflush,
// a chain declaration (":NAME - [0:0]") creates the chain or flushes it,
// and tables are committed atomically: a chain is never seen half
// written.
type restoreWriter struct {
	buf    bytes.Buffer
	chains int
}

func (w *restoreWriter) line(s ...string) {
	for i, p := range s {
		if i > 0 {
			w.buf.WriteByte(' ')
		}
		w.buf.WriteString(p)
	}
	w.buf.WriteByte('\n')
}

// fullRestore is the input that makes the host's rules under the prefix
// exactly next: every chain rewritten, chains of the prefix that next does
// not have deleted, and the jump rules made exactly one of each wanted
// one (removing duplicates and jumps of an older layout).
func fullRestore(next *Ruleset, host map[string]hostTable, jumps []jumpRule) (text []byte, chains int) {
	w := &restoreWriter{}
	for _, t := range next.Tables {
		ht := host[t.Name]
		want := map[string]bool{}
		w.line("*" + t.Name)
		for _, c := range t.Chains {
			want[c.Name] = true
			w.line(":" + c.Name + " - [0:0]")
		}
		var stale []string
		for c := range ht.Chains {
			if !want[c] {
				stale = append(stale, c)
			}
		}
		slices.Sort(stale)
		for _, c := range stale {
			w.line(":" + c + " - [0:0]")
		}
		// Jump rules: delete the unwanted and the duplicates first …
		wanted := map[jumpRule]int{}
		for _, j := range jumps {
			if j.Table == t.Name {
				wanted[j] = 0
			}
		}
		for _, j := range ht.Jumps {
			n, ok := wanted[j]
			if ok && n == 0 {
				wanted[j] = 1
				continue
			}
			w.line("-D", j.Chain, j.Spec)
		}
		for _, c := range t.Chains {
			for _, r := range c.Rules {
				w.line(r)
			}
			w.chains++
		}
		// … then insert the missing ones at the top, last first so they
		// end up in the listed order.
		for i := len(jumps) - 1; i >= 0; i-- {
			j := jumps[i]
			if j.Table == t.Name && wanted[j] == 0 {
				w.line("-I", j.Chain, "1", j.Spec)
			}
		}
		for _, c := range stale {
			w.line("-X", c)
		}
		w.line("COMMIT")
	}
	return w.buf.Bytes(), w.chains
}

// incrementalRestore is the input that turns prev (what was applied last)
// into next: only chains that are new or whose rules changed are written,
// and chains next no longer has are deleted (kube-proxy's
// MinimizeIPTablesRestore). It is empty when nothing changed.
func incrementalRestore(prev, next *Ruleset) (text []byte, chains int) {
	old := prev.chains()
	w := &restoreWriter{}
	for _, t := range next.Tables {
		var changed []Chain
		want := map[string]bool{}
		for _, c := range t.Chains {
			want[c.Name] = true
			if rules, ok := old[t.Name+"/"+c.Name]; !ok || !slices.Equal(rules, c.Rules) {
				changed = append(changed, c)
			}
		}
		var stale []string
		for _, pt := range prev.Tables {
			if pt.Name != t.Name {
				continue
			}
			for _, c := range pt.Chains {
				if !want[c.Name] {
					stale = append(stale, c.Name)
				}
			}
		}
		if len(changed) == 0 && len(stale) == 0 {
			continue
		}
		w.line("*" + t.Name)
		for _, c := range changed {
			w.line(":" + c.Name + " - [0:0]")
		}
		for _, c := range stale {
			w.line(":" + c + " - [0:0]")
		}
		for _, c := range changed {
			for _, r := range c.Rules {
				w.line(r)
			}
			w.chains++
		}
		for _, c := range stale {
			w.line("-X", c)
		}
		w.line("COMMIT")
	}
	return w.buf.Bytes(), w.chains
}

// cleanupRestore is the input that removes every chain under a prefix and
// every built-in rule jumping into them.
func cleanupRestore(host map[string]hostTable) []byte {
	w := &restoreWriter{}
	for _, table := range []string{tableNAT, tableFilter} {
		ht := host[table]
		if len(ht.Chains) == 0 && len(ht.Jumps) == 0 {
			continue
		}
		w.line("*" + table)
		chains := make([]string, 0, len(ht.Chains))
		for c := range ht.Chains {
			chains = append(chains, c)
		}
		slices.Sort(chains)
		for _, c := range chains {
			w.line(":" + c + " - [0:0]")
		}
		for _, j := range ht.Jumps {
			w.line("-D", j.Chain, j.Spec)
		}
		for _, c := range chains {
			w.line("-X", c)
		}
		w.line("COMMIT")
	}
	return w.buf.Bytes()
}
