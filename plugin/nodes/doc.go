// Package nodes is `kubectl skiff nodes list|add|remove`.
//
// list shows the Nodes with status, roles, pods against capacity and age
// (-o wide adds the address and, for agents this plugin started, their
// process ID).
//
// add starts node agents on this host as background processes of `skiff
// agent`, joined with the server URL of the kubeconfig's cluster and the
// node token the server keeps in <data-dir>/node-token (see
// plugin/datadir for how the data directory is found). Each agent gets a
// unique name (<prefix>-<n>, free both as a Node and locally) and a
// directory <data-dir>/nodes/<name>/ with agent.pid, agent.log and the
// agent's own data directory. Flags after `--` go to `skiff agent`
// unchanged (e.g. `-- --runtime fake`). The skiff binary is --skiff-bin,
// else the one next to kubectl-skiff, else the one on PATH.
//
// remove stops agents started by add (SIGTERM, SIGKILL after a grace
// period), deletes their Node objects and data, and keeps agent.log.
//
// Boundaries: the API for Nodes; the local file system and processes for
// the agents it started — never processes it did not start.
package nodes
