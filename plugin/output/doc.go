// Package output prints what `kubectl skiff` commands list, the way
// kubectl does: aligned tables (-o table, -o wide), whole objects as
// a v1 List (-o json, -o yaml) or kind/name lines (-o name), and
// colours that appear only on a terminal and never when NO_COLOR is set.
//
// Boundaries: it formats what it is given; it never talks to the API.
package output
