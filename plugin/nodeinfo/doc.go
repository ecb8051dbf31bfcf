// Package nodeinfo computes what the plugin shows about a node, the way
// kubectl shows it: the STATUS and ROLES columns, and how many pods that
// have not terminated each node runs. `status` and `nodes list` share it.
//
// Boundaries: pure functions of Node and Pod objects.
package nodeinfo
