// Package e2e holds the end-to-end tests: the real skiff binary, real
// Docker, the stock kubectl (1.27–1.33) and real git, driven the way a user
// drives them. They are the proof that Skiff works; unit tests beside the
// code prove the pieces.
//
// The tests build bin/skiff themselves unless SKIFF_BIN names one (make
// test passes the one it just built). Subpackage cluster starts and stops
// skiff processes for these tests and for the benchmarks in bench/.
package e2e
