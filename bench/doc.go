// Command bench measures Skiff's performance figures side by side with
// their baselines, in one run on one machine, and reports ratios: a
// target is met in a benchmark, never asserted as a timing in a test.
//
//	go run ./bench                    # every scenario
//	go run ./bench -only controlplane # scenarios whose name matches
//	go run ./bench -quick             # shorter runs, for iterating
//
// It prints a table and writes the results as JSON (-out).
package main
