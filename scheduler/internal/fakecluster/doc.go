// Package fakecluster is client-go's fake clientset made to behave like an
// API server where the scheduler needs it to: creating pods/binding sets
// spec.nodeName and PodScheduled=True (the fake tracker silently drops
// subresource creates), and watches are buffered so a burst of writes
// cannot overflow the fake's 100-event watch channels. It also builds the
// nodes and pods tests need. Test-only; internal to the scheduler.
package fakecluster
