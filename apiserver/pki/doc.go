// Package pki creates and loads the server's credentials under the data
// directory: a cluster CA, a serving certificate signed by it (with the
// loopback addresses, the host name and any --tls-san as SANs), the admin
// bearer token, the node-join token, and the admin kubeconfig.
//
// Files are written 0600 (directories 0700) and reused on restart; the
// serving certificate is re-issued when its SANs no longer cover what the
// server was asked to serve, or when it is close to expiry.
package pki
