package status

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/skiff-dev/skiff/plugin/output"
)

// symbol marks a line's state; colours wrap every mark of a column alike,
// so the escape codes do not upset the alignment.
func symbol(p output.Palette, s State) string {
	switch s {
	case OK:
		return p.Green("✓")
	case Warning:
		return p.Yellow("!")
	}
	return p.Red("✗")
}

// render writes the report for a person.
func render(w io.Writer, r *Report, p output.Palette) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintf(tw, "%s\n", p.Bold("Control plane")+"  "+r.Server)
	for _, c := range r.ControlPlane {
		fmt.Fprintf(tw, "  %s %s\t%s\n", symbol(p, c.State), c.Name, c.Detail)
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	ready := 0
	for _, n := range r.Nodes {
		if n.State == OK {
			ready++
		}
	}
	fmt.Fprintf(w, "\n%s (%d of %d Ready)\n", p.Bold("Nodes"), ready, len(r.Nodes))
	if len(r.Nodes) > 0 {
		tw = tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
		fmt.Fprintf(tw, "  %s NAME\tSTATUS\tROLES\tPODS\tAGE\n", blank(p))
		for _, n := range r.Nodes {
			fmt.Fprintf(tw, "  %s %s\t%s\t%s\t%d/%d\t%s\n", symbol(p, n.State), n.Name, n.Status, n.Roles, n.Pods, n.Capacity, n.Age)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}

	fmt.Fprintf(w, "\n%s (%d)\n", p.Bold("GitOps sources"), len(r.Sources))
	if len(r.Sources) > 0 {
		tw = tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
		fmt.Fprintf(tw, "  %s KIND\tNAMESPACE\tNAME\tREVISION\tREADY\tMESSAGE\n", blank(p))
		for _, s := range r.Sources {
			ready := s.Ready
			if s.Suspended {
				ready += " (suspended)"
			}
			fmt.Fprintf(tw, "  %s %s\t%s\t%s\t%s\t%s\t%s\n", symbol(p, s.State), s.Kind, s.Namespace, s.Name, output.Dash(s.Revision), ready, output.OneLine(s.Message))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}

	fmt.Fprintln(w)
	if r.Healthy() {
		fmt.Fprintln(w, p.Green("✓ healthy"))
		return nil
	}
	fmt.Fprintln(w, p.Red("✗ unhealthy ("+plural(len(r.Problems), "problem")+")"))
	for _, pr := range r.Problems {
		fmt.Fprintln(w, "  - "+output.OneLine(pr))
	}
	return nil
}

// blank stands in for a state mark in a header row: a coloured space, so
// that its escape codes widen the cell exactly as a mark's do.
func blank(p output.Palette) string { return p.Green(" ") }
