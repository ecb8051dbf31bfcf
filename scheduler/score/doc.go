// Package score ranks the nodes that passed the filters, with the scoring
// plugins, normalisation and weights of kube-scheduler's default profile:
//
//	plugin                           weight  raw score, then normalisation
//	NodeResourcesFit (LeastAllocated)   1    free cpu and memory share, 0-100
//	NodeResourcesBalancedAllocation     1    1 - spread of cpu and memory use, 0-100
//	TaintToleration                     3    untolerated PreferNoSchedule taints, reversed
//	NodeAffinity                        2    weights of matching preferred terms
//	PodTopologySpread                   2    matching pods per domain, reversed; with no
//	                                         constraints, the default spreading of pods
//	                                         of the same service/ReplicaSet/StatefulSet
//	                                         (hostname maxSkew 3, zone maxSkew 5)
//	InterPodAffinity                    2    preferred (anti-)affinity weights, min-max
//
// A node's score is the weighted sum of the normalised scores (each 0 to
// MaxNodeScore). ImageLocality is left out: Skiff nodes do not report
// their images.
//
// Prepare computes the per-pod state over the snapshot; Cycle.Score then
// scores the candidate nodes. Both are pure functions of their inputs.
// The placement package drives this package.
package score
