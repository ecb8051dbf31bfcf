// Package krew holds the krew plugin manifest of kubectl skiff
// (skiff.yaml, for the krew index or `kubectl krew install
// --manifest=plugin/krew/skiff.yaml`) and the test that checks it the way
// krew's index validation does: apiVersion and kind, a safe name equal to
// the file's, a one-line short description, a semantic version with its
// leading v, and for every platform a selector on os/arch only, an https
// uri of that version's release, a sha256 of 64 lower-case hex digits, a
// bin that the archive's files provide — and that linux and darwin on
// amd64 and arm64 each match exactly one platform.
//
// The manifest is generated, not written by hand: `go generate
// ./plugin/krew` (gen/) cross-builds kubectl-skiff for each platform with
// a reproducible build (-trimpath, no build ID, fixed archive times),
// packs bin/krew/kubectl-skiff_<os>_<arch>.tar.gz (bin/ is build output,
// ignored by git) and writes each archive's sha256 into skiff.yaml. The archives are the release assets
// the manifest's uri names; when they are present locally the test also
// checks their digests.
//
//go:generate go run ./gen -version v0.1.0 -out skiff.yaml -dist ../../bin/krew
package krew
