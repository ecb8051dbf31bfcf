// Command gen builds the release archives of kubectl-skiff for krew's
// platforms (linux and darwin, amd64 and arm64) reproducibly, and writes
// the krew manifest with their sha256 digests; package krew's doc says
// how it is run and what checks the result.
//
// Boundaries: runs `go build`; writes only the archives and the manifest.
package main
