// Command skiff runs a Kubernetes-compatible cluster on the local Docker
// engine: `skiff up` (server and one node agent), `skiff server`,
// `skiff agent`, `skiff reset`, `skiff version`.
package main

import "os"

func main() { os.Exit(run(os.Args[1:])) }
