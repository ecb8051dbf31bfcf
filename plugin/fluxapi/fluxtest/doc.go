// Package fluxtest builds fake dynamic clients (client-go's
// dynamic/fake) holding GitRepositories and Kustomizations, for the unit
// tests of the plugin's GitOps commands.
//
// Boundaries: test support only; imported by _test.go files.
package fluxtest
