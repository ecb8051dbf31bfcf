package placement

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"k8s.io/apimachinery/pkg/labels"

	"github.com/skiff-dev/skiff/scheduler/filter"
	"github.com/skiff-dev/skiff/scheduler/framework"
	"github.com/skiff-dev/skiff/scheduler/score"
)

// ErrNoNodes is returned when the cluster has no node at all; the message
// is kube-scheduler's.
var ErrNoNodes = errors.New("no nodes available to schedule pods")

// kube-scheduler's bounds for how many feasible nodes to look for before
// scoring: at least 100 nodes, and on large clusters a share that shrinks
// from 50% by 1% per 125 nodes down to 5%.
const (
	minFeasibleNodes        = 100
	minFeasibleNodesPercent = 5
)

// Input is everything one decision depends on.
type Input struct {
	Pod      *framework.PodInfo
	Snapshot *framework.Snapshot
	// DefaultSpread selects the pods of the same service or controller,
	// for default spreading; nil when there are none.
	DefaultSpread labels.Selector
	// Start is where in the node list to begin filtering (the previous
	// Result.Next); it only matters on clusters above 100 nodes.
	Start int
}

// Result is a decision.
type Result struct {
	Node string
	// Evaluated nodes were filtered; Feasible of them passed.
	Evaluated, Feasible int
	// Next is the Start for the next decision.
	Next int
	// Scores are the scored nodes, when more than one was feasible.
	Scores []score.NodeScore
}

// Placer makes decisions. The zero value is usable: sequential, adaptive
// share of nodes, ties to the alphabetically first node.
type Placer struct {
	// Parallelism is how many goroutines filter and score nodes; <= 1
	// runs in the caller's goroutine.
	Parallelism int
	// PercentageOfNodesToScore overrides the adaptive share (0 = adaptive).
	PercentageOfNodesToScore int32
	// Tiebreak picks among n equally scored nodes, returning an index in
	// [0, n); nil picks the one whose name sorts first.
	Tiebreak func(n int) int
}

// Place decides where in.Pod goes. It returns ErrNoNodes, a
// *filter.FitError when no node fits, or another error when the pod's
// spec cannot be evaluated.
func (p *Placer) Place(ctx context.Context, in Input) (Result, error) {
	all := in.Snapshot.Nodes()
	if len(all) == 0 {
		return Result{}, ErrNoNodes
	}
	fc, err := filter.Prepare(in.Pod, in.Snapshot)
	if err != nil {
		return Result{}, err
	}
	if st := fc.PreFilter(); st != nil {
		return Result{Next: in.Start}, &filter.FitError{
			NumAllNodes:  len(all),
			PreFilterMsg: st.Reasons[0],
			RejectedBy:   filter.Of(st.Plugin),
		}
	}
	candidates := all
	if names := in.Pod.NodeNames; names != nil {
		candidates = make([]*framework.NodeInfo, 0, len(names))
		for _, n := range all {
			if _, ok := names[n.Name()]; ok {
				candidates = append(candidates, n)
			}
		}
	}
	feasible, statuses := p.filter(ctx, fc, candidates, in.Start)
	res := Result{Evaluated: len(feasible) + len(statuses), Feasible: len(feasible)}
	res.Next = (in.Start + res.Evaluated) % len(all)
	if len(feasible) == 0 {
		fe := &filter.FitError{NumAllNodes: len(all), Statuses: statuses}
		if len(candidates) < len(all) {
			fe.Unchecked = filter.NotCandidate()
			fe.RejectedBy = filter.Of(filter.NodeAffinity)
		}
		for _, st := range statuses {
			fe.RejectedBy |= filter.Of(st.Plugin)
		}
		return res, fe
	}
	if len(feasible) == 1 {
		res.Node = feasible[0].Name()
		return res, nil
	}
	sc, err := score.Prepare(in.Pod, feasible, in.Snapshot, in.DefaultSpread)
	if err != nil {
		return Result{}, err
	}
	res.Scores = sc.Score(feasible, p.forEach)
	res.Node = p.best(res.Scores)
	return res, nil
}

// numToFind is how many feasible nodes to look for among n.
func (p *Placer) numToFind(n int) int {
	if n < minFeasibleNodes {
		return n
	}
	pct := min(p.PercentageOfNodesToScore, 100)
	if pct <= 0 {
		pct = max(int32(50)-int32(n/125), minFeasibleNodesPercent)
	}
	return max(n*int(pct)/100, minFeasibleNodes)
}

// filter checks nodes from start on (wrapping around) until it has found
// numToFind feasible ones or checked them all. feasible keeps the node
// order so the result does not depend on goroutine timing on clusters
// small enough to check every node.
func (p *Placer) filter(ctx context.Context, fc *filter.Cycle, nodes []*framework.NodeInfo, start int) ([]*framework.NodeInfo, map[string]*filter.Status) {
	n := len(nodes)
	want := int32(p.numToFind(n))
	verdicts := make([]*filter.Status, n)
	passed := make([]bool, n)
	var found atomic.Int32
	p.forEachUntil(ctx, n, func(i int) bool {
		node := nodes[(start+i)%n]
		if st := fc.Check(node); st != nil {
			verdicts[i] = st
			return true
		}
		if found.Add(1) > want {
			return false
		}
		passed[i] = true
		return true
	})
	var feasible []*framework.NodeInfo
	statuses := map[string]*filter.Status{}
	for i := 0; i < n; i++ {
		node := nodes[(start+i)%n]
		switch {
		case passed[i]:
			feasible = append(feasible, node)
		case verdicts[i] != nil:
			statuses[node.Name()] = verdicts[i]
		}
	}
	return feasible, statuses
}

// best returns the highest scoring node, breaking ties with Tiebreak.
func (p *Placer) best(scores []score.NodeScore) string {
	var top []string
	var topScore int64
	for _, s := range scores {
		switch {
		case len(top) == 0 || s.Total > topScore:
			top, topScore = append(top[:0], s.Name), s.Total
		case s.Total == topScore:
			top = append(top, s.Name)
		}
	}
	if p.Tiebreak != nil {
		return top[p.Tiebreak(len(top))]
	}
	first := top[0]
	for _, name := range top[1:] {
		if name < first {
			first = name
		}
	}
	return first
}

// forEach runs f over [0, n) on up to Parallelism goroutines.
func (p *Placer) forEach(n int, f func(i int)) {
	p.forEachUntil(context.Background(), n, func(i int) bool { f(i); return true })
}

// forEachUntil runs f over [0, n) on up to Parallelism goroutines, in
// index order per goroutine, and stops handing out work once f returns
// false or ctx is done.
func (p *Placer) forEachUntil(ctx context.Context, n int, f func(i int) bool) {
	workers := min(p.Parallelism, n/chunk+1)
	if workers <= 1 {
		for i := 0; i < n && ctx.Err() == nil; i++ {
			if !f(i) {
				return
			}
		}
		return
	}
	var next atomic.Int64
	var stop atomic.Bool
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() && ctx.Err() == nil {
				lo := int(next.Add(chunk)) - chunk
				if lo >= n {
					return
				}
				for i := lo; i < min(lo+chunk, n); i++ {
					if !f(i) {
						stop.Store(true)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
}

// chunk is the number of nodes a worker takes at a time: enough that
// handing out work costs little next to checking the nodes.
const chunk = 16
